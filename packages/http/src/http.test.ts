import { describe, expect, test } from 'bun:test';
import { AppError, type ErrorEnvelope } from '@sensormesh/errors';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { Elysia, t } from 'elysia';
import { errorHandler, healthRoutes, requestContext } from './index.ts';

function app(checks: Record<string, () => Promise<boolean>> = {}) {
  const logger = silentLogger();
  return new Elysia()
    .use(requestContext(logger))
    .use(errorHandler(logger))
    .use(healthRoutes({ checks, registry: createRegistry() }))
    .get('/conflict', () => {
      throw new AppError('CONFLICT', 'already there', { details: { id: 's1' } });
    })
    .get('/boom', () => {
      throw new Error('secret internals');
    })
    .post('/typed', ({ body }) => body, { body: t.Object({ n: t.Integer({ minimum: 0 }) }) })
    .get('/whoami', ({ requestId }) => ({ requestId }));
}

const envelope = async (response: Response) => (await response.json()) as ErrorEnvelope;

const get = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://local${path}`, { headers });

describe('error envelope', () => {
  test('AppError answers with its status, code, details and the request id', async () => {
    const response = await app().handle(get('/conflict', { 'x-request-id': 'req-42' }));
    expect(response.status).toBe(409);
    expect(response.headers.get('x-request-id')).toBe('req-42');
    expect(await response.json()).toEqual({
      error: { code: 'CONFLICT', message: 'already there', details: { id: 's1' }, requestId: 'req-42' },
    });
  });

  test('schema failures are 422 VALIDATION_FAILED with the failing path', async () => {
    const response = await app().handle(
      new Request('http://local/typed', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"n":-1}',
      }),
    );
    expect(response.status).toBe(422);
    const body = await envelope(response);
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(body.error.details)).toContain('/n');
    expect(body.error.requestId).toBeString();
  });

  test('malformed JSON is a 400, unknown routes a 404, crashes a 500 without internals', async () => {
    const bad = await app().handle(
      new Request('http://local/typed', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"n":',
      }),
    );
    expect(bad.status).toBe(400);
    expect((await envelope(bad)).error.code).toBe('BAD_REQUEST');
    const missing = await app().handle(get('/nope'));
    expect(missing.status).toBe(404);
    expect((await envelope(missing)).error.code).toBe('NOT_FOUND');
    const crash = await app().handle(get('/boom'));
    expect(crash.status).toBe(500);
    const text = await crash.text();
    expect(text).toContain('INTERNAL');
    expect(text).not.toContain('secret internals');
  });

  test('a malformed X-Request-Id is replaced by a fresh one', async () => {
    const response = await app().handle(get('/whoami', { 'x-request-id': 'bad id with spaces' }));
    const { requestId } = (await response.json()) as { requestId: string };
    expect(requestId).not.toBe('bad id with spaces');
    expect(response.headers.get('x-request-id')).toBe(requestId);
  });
});

describe('health, readiness and metrics', () => {
  test('/ready is 200 when every check passes and 503 naming the failing one otherwise', async () => {
    const ok = await app({ redis: async () => true, store: async () => true }).handle(get('/ready'));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ready', checks: { redis: 'ok', store: 'ok' } });
    const down = await app({
      redis: async () => true,
      store: async () => Promise.reject(new Error('down')),
    }).handle(get('/ready'));
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable', checks: { redis: 'ok', store: 'failing' } });
  });

  test('/health answers and /metrics counts requests in Prometheus text', async () => {
    const server = app();
    expect((await server.handle(get('/health'))).status).toBe(200);
    // Counting happens in onAfterResponse, which Elysia schedules once the response is handed over.
    await new Promise((resolve) => setImmediate(resolve));
    const metrics = await server.handle(get('/metrics'));
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain(
      'http_requests_total{method="GET",route="/health",status="200"} 1',
    );
  });
});
