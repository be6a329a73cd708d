import { listUsers } from '@sensormesh/store';
import { Elysia, t } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { Role } from '../access/model.ts';
import { Email, Password, UserView } from '../auth/model.ts';
import { userView } from '../auth/service.ts';

const UserPage = t.Object({
  items: t.Array(UserView),
  total: t.Integer(),
  limit: t.Integer(),
  offset: t.Integer(),
});

/** /admin/users: admins create, list, re-role and disable accounts. */
export function usersModule(ctx: GatewayContext) {
  const { auth, store } = ctx;
  return new Elysia({ name: 'sensormesh.gateway.users', prefix: '/admin/users', detail: { tags: ['admin'] } })
    .use(ctx.access)
    .get(
      '/',
      async ({ query }) => {
        const page = await listUsers(store)(query);
        return { ...page, items: page.items.map(userView), ...query };
      },
      {
        access: 'admin',
        query: t.Object({
          limit: t.Integer({ minimum: 1, maximum: 500, default: 50 }),
          offset: t.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
        }),
        response: UserPage,
        detail: { summary: 'List accounts' },
      },
    )
    .post(
      '/',
      async ({ body, set }) => {
        set.status = 201;
        return userView(await auth.createUser(body));
      },
      {
        access: 'admin',
        body: t.Object({ email: Email, password: Password, role: Role }, { additionalProperties: false }),
        response: { 201: UserView },
        detail: { summary: 'Create an account with a role' },
      },
    )
    .patch('/:id', async ({ params, body }) => userView(await auth.updateUser(params.id, body)), {
      access: 'admin',
      params: t.Object({ id: t.String({ format: 'uuid' }) }),
      body: t.Object(
        { role: t.Optional(Role), status: t.Optional(t.Union([t.Literal('active'), t.Literal('disabled')])) },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: UserView,
      detail: { summary: 'Change an account’s role or disable it (ends all its sessions)' },
    });
}
