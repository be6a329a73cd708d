import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
});
afterAll(() => gw.close());

const userCount = async () =>
  (await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM users FINAL`))[0]?.n;

describe('registration', () => {
  test('a professional registers, signs in and sees themself', async () => {
    const created = await gw.call('POST', '/api/v1/auth/register', {
      body: { email: 'Ana@Example.org', password: 'river-stone-4821' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ email: 'ana@example.org', role: 'professional', status: 'active' });
    expect(created.text).not.toContain('password');
    const tokens = await gw.login('ana@example.org', 'river-stone-4821');
    const me = await gw.call('GET', '/api/v1/auth/me', { token: tokens.accessToken });
    expect(me.status).toBe(200);
    expect(me.json.email).toBe('ana@example.org');
  });

  test('a registered email answers 409 and stores nothing', async () => {
    const before = await userCount();
    const again = await gw.call('POST', '/api/v1/auth/register', {
      body: { email: 'ana@example.org', password: 'another-stone-4821' },
    });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('CONFLICT');
    expect(await userCount()).toBe(before);
  });

  test('a weak password answers 422 saying why, and stores nothing', async () => {
    const before = await userCount();
    for (const [password, why] of [
      ['short1', 'at least 12 characters'],
      ['onlyletterslong', 'mix letters'],
      ['password1234', 'commonly used'],
      ['aaaaaaaaaaa1', '6 different'],
    ] as const) {
      const response = await gw.call('POST', '/api/v1/auth/register', {
        body: { email: 'weak@example.org', password },
      });
      expect(response.status).toBe(422);
      expect(response.json.error.message).toContain(why);
    }
    expect(await userCount()).toBe(before);
  });

  test('malformed JSON, wrong types, missing and unknown fields get clear 4xx and store nothing', async () => {
    const before = await userCount();
    const malformed = await gw.call('POST', '/api/v1/auth/register', { body: '{"email": "x@example.org",' });
    expect(malformed.status).toBe(400);
    const wrongType = await gw.call('POST', '/api/v1/auth/register', {
      body: { email: 42, password: 'river-stone-4821' },
    });
    expect(wrongType.status).toBe(422);
    expect(JSON.stringify(wrongType.json.error.details)).toContain('/email');
    const missing = await gw.call('POST', '/api/v1/auth/register', { body: { email: 'm@example.org' } });
    expect(missing.status).toBe(422);
    expect(JSON.stringify(missing.json.error.details)).toContain('/password');
    const unknown = await gw.call('POST', '/api/v1/auth/register', {
      body: { email: 'u@example.org', password: 'river-stone-4821', role: 'admin' },
    });
    expect(unknown.status).toBe(422);
    expect(await userCount()).toBe(before);
  });
});

describe('refresh tokens', () => {
  test('rotate on every use; reusing a rotated token revokes the whole family', async () => {
    const first = await gw.login(ADMIN.email, ADMIN.password);
    const second = await gw.call('POST', '/api/v1/auth/refresh', {
      body: { refreshToken: first.refreshToken },
    });
    expect(second.status).toBe(200);
    expect(second.json.refreshToken).not.toBe(first.refreshToken);
    const third = await gw.call('POST', '/api/v1/auth/refresh', {
      body: { refreshToken: second.json.refreshToken },
    });
    expect(third.status).toBe(200);

    // The first token was stolen and replayed: the family dies, including the newest token.
    const replay = await gw.call('POST', '/api/v1/auth/refresh', {
      body: { refreshToken: first.refreshToken },
    });
    expect(replay.status).toBe(401);
    expect(replay.json.error.message).toContain('already used');
    const newest = await gw.call('POST', '/api/v1/auth/refresh', {
      body: { refreshToken: third.json.refreshToken },
    });
    expect(newest.status).toBe(401);

    // Another sign-in of the same account is a different family and keeps working.
    const other = await gw.login(ADMIN.email, ADMIN.password);
    expect(
      (await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: other.refreshToken } })).status,
    ).toBe(200);
  });

  test('logout revokes the family', async () => {
    const session = await gw.login(ADMIN.email, ADMIN.password);
    expect(
      (await gw.call('POST', '/api/v1/auth/logout', { body: { refreshToken: session.refreshToken } })).status,
    ).toBe(204);
    expect(
      (await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: session.refreshToken } }))
        .status,
    ).toBe(401);
  });
});

describe('admin and account state', () => {
  test('disabling a user ends their access and refresh tokens at once', async () => {
    const admin = await gw.login(ADMIN.email, ADMIN.password);
    const created = await gw.call('POST', '/api/v1/admin/users', {
      token: admin.accessToken,
      body: { email: 'bo@example.org', password: 'meadow-lark-7731', role: 'professional' },
    });
    expect(created.status).toBe(201);
    const bo = await gw.login('bo@example.org', 'meadow-lark-7731');
    expect((await gw.call('GET', '/api/v1/auth/me', { token: bo.accessToken })).status).toBe(200);

    const disabled = await gw.call('PATCH', `/api/v1/admin/users/${created.json.id}`, {
      token: admin.accessToken,
      body: { status: 'disabled' },
    });
    expect(disabled.status).toBe(200);
    expect((await gw.call('GET', '/api/v1/auth/me', { token: bo.accessToken })).status).toBe(401);
    expect(
      (await gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: bo.refreshToken } })).status,
    ).toBe(401);
    const login = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: 'bo@example.org', password: 'meadow-lark-7731' },
    });
    expect(login.status).toBe(403);

    const list = await gw.call('GET', '/api/v1/admin/users?limit=10', { token: admin.accessToken });
    expect(list.status).toBe(200);
    expect(list.json.items.find((user: { email: string }) => user.email === 'bo@example.org').status).toBe(
      'disabled',
    );
  });

  test('a professional cannot reach admin routes', async () => {
    const ana = await gw.login('ana@example.org', 'river-stone-4821');
    const response = await gw.call('GET', '/api/v1/admin/users', { token: ana.accessToken });
    expect(response.status).toBe(403);
    expect(response.json.error.code).toBe('FORBIDDEN');
  });
});

test('failed sign-ins are throttled per account with 429 and Retry-After', async () => {
  for (let attempt = 0; attempt < 5; attempt++) {
    const wrong = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: 'ana@example.org', password: 'wrong-password-00' },
    });
    expect(wrong.status).toBe(401);
  }
  const blocked = await gw.call('POST', '/api/v1/auth/login', {
    body: { email: 'ana@example.org', password: 'river-stone-4821' },
  });
  expect(blocked.status).toBe(429);
  expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  // Another account from the same IP is not blocked by ana's counter.
  expect((await gw.call('POST', '/api/v1/auth/login', { body: ADMIN })).status).toBe(200);
});
