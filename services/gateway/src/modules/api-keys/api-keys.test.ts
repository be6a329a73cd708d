import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { findApiKeyById, saveApiKey, sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let admin: string;
let owner: { accessToken: string; user: { id: string } };

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  await gw.call('POST', '/api/v1/auth/register', {
    body: { email: 'ana@example.org', password: 'river-stone-4821' },
  });
  owner = await gw.login('ana@example.org', 'river-stone-4821');
  const sensor = await gw.call('POST', '/api/v1/admin/sensors', {
    body: { id: 'aq-1', name: 'One', kind: 'air-quality', latitude: 1, longitude: 2 },
    token: admin,
  });
  expect(sensor.status).toBe(201);
});
afterAll(() => gw?.close());

const keyRows = async () =>
  (await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM api_keys`))[0]?.n ?? 0;

async function createKey(body: Record<string, unknown>, token = owner.accessToken) {
  const response = await gw.call('POST', '/api/v1/api-keys', { body, token });
  expect(response.status).toBe(201);
  return response.json as { id: string; key: string; prefix: string };
}

/** The scoped route API keys with read:sensors may call. */
const readSensor = (headers: Record<string, string>) => gw.call('GET', '/api/v1/sensors/aq-1', { headers });

describe('create and list', () => {
  test('the raw key is shown once; the list never shows it or its hash', async () => {
    const created = await gw.call('POST', '/api/v1/api-keys', {
      body: { name: 'grafana', scopes: ['read:sensors'] },
      token: owner.accessToken,
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name: 'grafana',
      scopes: ['read:sensors'],
      status: 'active',
      expiresAt: null,
    });
    const key = created.json.key as string;
    expect(key).toStartWith('smk_');
    expect(key).toStartWith(created.json.prefix);
    const listed = await gw.call('GET', '/api/v1/api-keys', { token: owner.accessToken });
    expect(listed.status).toBe(200);
    expect(listed.json.items.map((item: { id: string }) => item.id)).toContain(created.json.id);
    expect(listed.text).not.toContain(key);
    expect(listed.text).not.toMatch(/[0-9a-f]{64}/);
    expect(listed.text).not.toContain('"key"');
  });

  test('only admins list or create for other accounts', async () => {
    const forbidden = await gw.call('GET', `/api/v1/api-keys?userId=${crypto.randomUUID()}`, {
      token: owner.accessToken,
    });
    expect(forbidden.status).toBe(403);
    const byAdmin = await gw.call('GET', `/api/v1/api-keys?userId=${owner.user.id}`, { token: admin });
    expect(byAdmin.json.total).toBeGreaterThanOrEqual(1);
    const forOwner = await createKey(
      { name: 'made by admin', scopes: ['export'], userId: owner.user.id },
      admin,
    );
    expect(forOwner).toMatchObject({ userId: owner.user.id });
  });

  test('bad input is 422 naming the field and stores nothing', async () => {
    const before = await keyRows();
    const cases: Array<[unknown, string]> = [
      [{ name: 'x', scopes: ['admin'] }, '/scopes/0'],
      [{ name: 'x', scopes: [] }, '/scopes'],
      [{ scopes: ['export'] }, '/name'],
      [{ name: 'x', scopes: ['export'], extra: 1 }, 'extra'],
      [{ name: 'x', scopes: ['export'], expiresAt: 'tomorrow' }, '/expiresAt'],
      [{ name: 'x', scopes: ['export'], expiresAt: '2001-01-01T00:00:00Z' }, '/expiresAt'],
    ];
    for (const [body, field] of cases) {
      const response = await gw.call('POST', '/api/v1/api-keys', { body, token: owner.accessToken });
      expect(response.status).toBe(422);
      expect(JSON.stringify(response.json.error.details)).toContain(field);
    }
    const malformed = await gw.call('POST', '/api/v1/api-keys', {
      body: '{"name":',
      token: owner.accessToken,
    });
    expect(malformed.status).toBe(400);
    expect(
      (await gw.call('POST', '/api/v1/api-keys', { body: { name: 'x', scopes: ['export'] } })).status,
    ).toBe(401);
    expect(await keyRows()).toBe(before);
  });
});

describe('using a key', () => {
  test('works as Bearer and as X-API-Key on a route needing its scope; 403 without the scope', async () => {
    const { key } = await createKey({ name: 'reader', scopes: ['read:sensors'] });
    const bearer = await readSensor({ authorization: `Bearer ${key}` });
    expect(bearer.status).toBe(200);
    expect(bearer.json.id).toBe('aq-1');
    expect((await readSensor({ 'x-api-key': key })).status).toBe(200);

    const { key: exporter } = await createKey({ name: 'exporter', scopes: ['export'] });
    const wrongScope = await readSensor({ 'x-api-key': exporter });
    expect(wrongScope.status).toBe(403);
    expect(wrongScope.json.error.message).toContain('read:sensors');
    // Routes without a scope are for signed-in users only.
    expect((await gw.call('GET', '/api/v1/api-keys', { headers: { 'x-api-key': key } })).status).toBe(403);
    // Change the last character (to a different one: a key may already end in 'A').
    const tampered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect((await readSensor({ 'x-api-key': tampered })).status).toBe(401);
  });

  test('last use is recorded (at most once a minute)', async () => {
    const { id, key } = await createKey({ name: 'usage', scopes: ['read:sensors'] });
    const lastUsed = async () =>
      (await gw.call('GET', '/api/v1/api-keys?limit=500', { token: owner.accessToken })).json.items.find(
        (item: { id: string }) => item.id === id,
      ).lastUsedAt as string | null;
    expect(await lastUsed()).toBeNull();
    const before = Date.now();
    await readSensor({ 'x-api-key': key });
    const first = await lastUsed();
    expect(Date.parse(first ?? '')).toBeGreaterThanOrEqual(before);
    await readSensor({ 'x-api-key': key });
    expect(await lastUsed()).toBe(first); // throttled
  });

  test('401 after revoke, by the owner; others get 404', async () => {
    const { id, key } = await createKey({ name: 'to revoke', scopes: ['read:sensors'] });
    expect((await readSensor({ 'x-api-key': key })).status).toBe(200);
    await gw.call('POST', '/api/v1/auth/register', {
      body: { email: 'eve@example.org', password: 'river-stone-9911' },
    });
    const eve = await gw.login('eve@example.org', 'river-stone-9911');
    expect((await gw.call('DELETE', `/api/v1/api-keys/${id}`, { token: eve.accessToken })).status).toBe(404);
    expect((await readSensor({ 'x-api-key': key })).status).toBe(200);
    const revoked = await gw.call('DELETE', `/api/v1/api-keys/${id}`, { token: owner.accessToken });
    expect(revoked.status).toBe(200);
    expect(revoked.json.status).toBe('revoked');
    expect((await readSensor({ 'x-api-key': key })).status).toBe(401);
    expect((await readSensor({ authorization: `Bearer ${key}` })).status).toBe(401);
  });

  test('401 after expiry', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const { id, key } = await createKey({ name: 'short', scopes: ['read:sensors'], expiresAt });
    expect((await readSensor({ 'x-api-key': key })).status).toBe(200);
    // Time passes: the stored expiry is now behind us.
    const row = await findApiKeyById(gw.store)(id);
    await saveApiKey(gw.store)({ ...(row as NonNullable<typeof row>), expiresAt: Date.now() - 1 });
    expect((await readSensor({ 'x-api-key': key })).status).toBe(401);
    const listed = await gw.call('GET', '/api/v1/api-keys?limit=500', { token: owner.accessToken });
    expect(listed.json.items.find((item: { id: string }) => item.id === id).status).toBe('expired');
  });

  test('401 when the owner is disabled', async () => {
    await gw.call('POST', '/api/v1/auth/register', {
      body: { email: 'bo@example.org', password: 'river-stone-7733' },
    });
    const bo = await gw.login('bo@example.org', 'river-stone-7733');
    const { key } = await createKey({ name: 'bo', scopes: ['read:sensors'] }, bo.accessToken);
    expect((await readSensor({ 'x-api-key': key })).status).toBe(200);
    const disabled = await gw.call('PATCH', `/api/v1/admin/users/${bo.user.id}`, {
      body: { status: 'disabled' },
      token: admin,
    });
    expect(disabled.status).toBe(200);
    expect((await readSensor({ 'x-api-key': key })).status).toBe(401);
  });
});
