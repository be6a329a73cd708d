import { AppError } from '@sensormesh/errors';
import { ErrorResponse, errorResponses } from '@sensormesh/http';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { clientIp } from '../access/client-ip.ts';
import { Credentials, RefreshBody, TokenPair, UserView } from './model.ts';
import { userView } from './service.ts';

/** /auth: register, login, refresh, logout, me. */
export function authModule(ctx: GatewayContext) {
  const { auth, config } = ctx;
  return new Elysia({ name: 'sensormesh.gateway.auth', prefix: '/auth', detail: { tags: ['auth'] } })
    .use(ctx.access)
    .post(
      '/register',
      async ({ body, set }) => {
        if (!config.SELF_REGISTRATION) throw new AppError('FORBIDDEN', 'self-registration is switched off');
        const user = await auth.createUser({ ...body, role: 'professional' });
        set.status = 201;
        return userView(user);
      },
      {
        access: 'public',
        body: Credentials,
        response: { 201: UserView, ...errorResponses(403, 409, 422) },
        detail: {
          summary: 'Register a professional account',
          description: 'Passwords need 12+ characters mixing letters and digits or symbols.',
        },
      },
    )
    .post(
      '/login',
      ({ body, request, server }) => auth.login(body, clientIp(request, server, config.TRUST_PROXY)),
      {
        access: 'public',
        body: Credentials,
        response: { 200: TokenPair, ...errorResponses(401, 403, 422, 429) },
        detail: {
          summary: 'Sign in',
          description: 'Failed sign-ins are throttled per account and per IP (429 with Retry-After).',
        },
      },
    )
    .post('/refresh', ({ body }) => auth.refresh(body.refreshToken), {
      access: 'public',
      body: RefreshBody,
      response: { 200: TokenPair, ...errorResponses(401, 422) },
      detail: {
        summary: 'Rotate a refresh token',
        description: 'Reusing a rotated token revokes every token of that sign-in.',
      },
    })
    .post(
      '/logout',
      async ({ body, set }) => {
        await auth.logout(body.refreshToken);
        set.status = 204;
      },
      {
        access: 'public',
        body: RefreshBody,
        detail: {
          summary: 'Sign out: revoke this sign-in’s refresh tokens',
          // Written by hand: @elysiajs/openapi renders a t.Void response as invalid OpenAPI
          // (`content: {type: 'void'}`), and a `response` hook would replace these.
          responses: {
            204: { description: 'Signed out' },
            422: {
              description: 'Error envelope',
              content: { 'application/json': { schema: ErrorResponse } },
            },
          },
        },
      },
    )
    .get(
      '/me',
      async ({ principal }) => {
        const user = principal.kind === 'public' ? undefined : await auth.findUserById(principal.userId);
        if (!user) throw new AppError('NOT_FOUND', 'no such user');
        return userView(user);
      },
      {
        access: 'professional',
        response: { 200: UserView, ...errorResponses(401, 404) },
        detail: { summary: 'The signed-in account' },
      },
    );
}
