import { AppError } from '@sensormesh/errors';
import { errorResponses } from '@sensormesh/http';
import { Elysia, t } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import type { Principal } from '../access/model.ts';
import { ApiKeyCreateBody, ApiKeyPage, ApiKeyQuery, ApiKeyView, CreatedApiKey } from './model.ts';

/** The signed-in caller; these routes take user tokens only (no scope lets an API key manage keys). */
function callerOf(principal: Principal): { userId: string; isAdmin: boolean } {
  if (principal.kind !== 'user') throw new AppError('FORBIDDEN', 'sign in to manage API keys');
  return { userId: principal.userId, isAdmin: principal.role === 'admin' };
}

/** /api-keys: owners and admins create, list and revoke API keys. */
export function apiKeysModule(ctx: GatewayContext) {
  const { apiKeys } = ctx;
  return new Elysia({
    name: 'sensormesh.gateway.api-keys',
    prefix: '/api-keys',
    detail: { tags: ['api-keys'] },
  })
    .use(ctx.access)
    .post(
      '/',
      async ({ body, principal, set }) => {
        const caller = callerOf(principal);
        if (body.userId && body.userId !== caller.userId && !caller.isAdmin) {
          throw new AppError('FORBIDDEN', 'only admins create keys for other accounts');
        }
        const created = await apiKeys.create(body.userId ?? caller.userId, {
          name: body.name,
          scopes: body.scopes,
          ...(body.expiresAt === undefined ? {} : { expiresAt: Date.parse(body.expiresAt) }),
        });
        set.status = 201;
        return created;
      },
      {
        access: 'professional',
        body: ApiKeyCreateBody,
        response: { 201: CreatedApiKey, ...errorResponses(400, 401, 403, 422) },
        detail: {
          summary: 'Create an API key',
          description:
            'The raw key (`smk_…`) is in this response only; use it as `Authorization: Bearer` or `X-API-Key`.',
        },
      },
    )
    .get(
      '/',
      async ({ query, principal }) => {
        const caller = callerOf(principal);
        if (query.userId && query.userId !== caller.userId && !caller.isAdmin) {
          throw new AppError('FORBIDDEN', 'only admins list other accounts’ keys');
        }
        const page = await apiKeys.list({ ...query, userId: query.userId ?? caller.userId });
        return { ...page, limit: query.limit, offset: query.offset };
      },
      {
        access: 'professional',
        query: ApiKeyQuery,
        response: { 200: ApiKeyPage, ...errorResponses(401, 403, 422) },
        detail: { summary: 'List your API keys (admins: anyone’s with ?userId=)' },
      },
    )
    .delete('/:id', ({ params, principal }) => apiKeys.revoke(params.id, callerOf(principal)), {
      access: 'professional',
      params: t.Object({ id: t.String({ format: 'uuid' }) }),
      response: { 200: ApiKeyView, ...errorResponses(401, 403, 404, 422) },
      detail: { summary: 'Revoke an API key (its owner or an admin); it fails at once' },
    });
}
