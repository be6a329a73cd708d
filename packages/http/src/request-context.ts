import type { Logger } from '@sensormesh/log';
import { Elysia } from 'elysia';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ids = new WeakMap<Request, string>();

/** The request id: the caller's X-Request-Id when it is well-formed, else a fresh UUIDv7. */
export function requestIdOf(request: Request): string {
  let id = ids.get(request);
  if (!id) {
    const given = request.headers.get('x-request-id');
    id = given && REQUEST_ID.test(given) ? given : Bun.randomUUIDv7();
    ids.set(request, id);
  }
  return id;
}

/** Tags every request with an id (echoed as X-Request-Id) and a logger bound to it. */
export function requestContext(logger: Logger) {
  return new Elysia({ name: 'sensormesh.request-context' })
    .onRequest(function tagRequest({ request, set }) {
      set.headers['x-request-id'] = requestIdOf(request);
    })
    .derive({ as: 'global' }, function bindRequestLogger({ request }) {
      const requestId = requestIdOf(request);
      return { requestId, log: logger.child({ requestId }) };
    });
}
