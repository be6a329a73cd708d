import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let admin: string;
let professional: string;

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  await gw.call('POST', '/api/v1/auth/register', {
    body: { email: 'pro@example.org', password: 'river-stone-4821' },
  });
  professional = (await gw.login('pro@example.org', 'river-stone-4821')).accessToken;
});
afterAll(() => gw?.close());

const valid = { name: 'Valid', kind: 'air-quality', latitude: 10, longitude: 20 };
const sensorRows = async () =>
  (await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM sensors`))[0]?.n ?? 0;
const keyRows = async () =>
  (await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM device_keys`))[0]?.n ?? 0;

/** Runs `work` and asserts it stored no sensor and no device key. */
async function storesNothing(work: () => Promise<void>): Promise<void> {
  const before = [await sensorRows(), await keyRows()];
  await work();
  expect([await sensorRows(), await keyRows()]).toEqual(before);
}

describe('who may call', () => {
  const adminRoutes = [
    ['POST', '/api/v1/admin/sensors', valid],
    ['GET', '/api/v1/admin/sensors', undefined],
    ['GET', '/api/v1/admin/sensors/any', undefined],
    ['PATCH', '/api/v1/admin/sensors/any', { name: 'x' }],
    ['DELETE', '/api/v1/admin/sensors/any', undefined],
    ['POST', '/api/v1/admin/sensors/any/device-key', undefined],
  ] as const;

  test('admin routes: no credentials 401, a professional 403, nothing stored', async () => {
    await storesNothing(async () => {
      for (const [method, path, body] of adminRoutes) {
        expect((await gw.call(method, path, { body })).status).toBe(401);
        const forbidden = await gw.call(method, path, { body, token: professional });
        expect(forbidden.status).toBe(403);
        expect(forbidden.json.error.code).toBe('FORBIDDEN');
      }
    });
  });

  test('the public list needs no credentials; one sensor needs a professional', async () => {
    expect((await gw.call('GET', '/api/v1/sensors')).status).toBe(200);
    expect((await gw.call('GET', '/api/v1/sensors/any')).status).toBe(401);
    expect((await gw.call('GET', '/api/v1/sensors/any', { token: professional })).status).toBe(404);
  });
});

describe('bad input changes nothing', () => {
  test('malformed JSON is 400', async () => {
    await storesNothing(async () => {
      const response = await gw.call('POST', '/api/v1/admin/sensors', {
        body: '{"name": "x",',
        token: admin,
      });
      expect(response.status).toBe(400);
      expect(response.json.error.code).toBe('BAD_REQUEST');
    });
  });

  test('wrong types, missing and unknown fields are 422 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ ...valid, latitude: 'north' }, '/latitude'],
      [{ ...valid, latitude: 91 }, '/latitude'],
      [{ ...valid, tags: 'outdoor' }, '/tags'],
      [{ ...valid, metrics: [1, 2] }, '/metrics/0'],
      [{ ...valid, id: '../etc/passwd' }, '/id'],
      [{ ...valid, status: 'retired' }, '/status'],
      [{ kind: 'air-quality', latitude: 1, longitude: 2 }, '/name'],
      [{ name: 'x', kind: 'air-quality', latitude: 1 }, '/longitude'],
      [{ ...valid, owner: 'me' }, 'owner'],
    ];
    await storesNothing(async () => {
      for (const [body, field] of cases) {
        const response = await gw.call('POST', '/api/v1/admin/sensors', { body, token: admin });
        expect(response.status).toBe(422);
        expect(response.json.error.code).toBe('VALIDATION_FAILED');
        expect(JSON.stringify(response.json.error.details)).toContain(field);
      }
    });
  });

  test('a bad patch, a duplicate id and the service called directly with bad input store nothing', async () => {
    const created = await gw.call('POST', '/api/v1/admin/sensors', {
      body: { ...valid, id: 'dup-1' },
      token: admin,
    });
    expect(created.status).toBe(201);
    await storesNothing(async () => {
      const empty = await gw.call('PATCH', '/api/v1/admin/sensors/dup-1', { body: {}, token: admin });
      expect(empty.status).toBe(422);
      const unknown = await gw.call('PATCH', '/api/v1/admin/sensors/dup-1', {
        body: { createdBy: 'someone' },
        token: admin,
      });
      expect(unknown.status).toBe(422);
      expect(JSON.stringify(unknown.json.error.details)).toContain('createdBy');
      const missing = await gw.call('PATCH', '/api/v1/admin/sensors/nope', {
        body: { name: 'x' },
        token: admin,
      });
      expect(missing.status).toBe(404);
      const duplicate = await gw.call('POST', '/api/v1/admin/sensors', {
        body: { ...valid, id: 'dup-1' },
        token: admin,
      });
      expect(duplicate.status).toBe(409);
      const direct = gw.ctx.sensors.create({ name: '', kind: 'x', latitude: 200 } as never, 'test');
      await expect(direct).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });
  });
});

describe('hostile strings are data', () => {
  test('SQL and script payloads in every string field are stored and returned verbatim', async () => {
    const payloads = [
      "'; DROP TABLE sensors; --",
      '<script>alert(1)</script>',
      "\\'); SELECT 1; --\n\t\u0000",
    ];
    for (const [index, payload] of payloads.entries()) {
      const body = {
        id: `hostile-${index}`,
        name: payload,
        kind: payload,
        manufacturer: payload,
        model: payload,
        site: payload,
        tags: [payload, 'plain'],
        metrics: [payload],
        latitude: -33.5,
        longitude: 151.25,
      };
      const created = await gw.call('POST', '/api/v1/admin/sensors', { body, token: admin });
      expect(created.status).toBe(201);
      const { id: _id, ...fields } = body;
      expect(created.json.sensor).toMatchObject(fields);
      const stored = await gw.call('GET', `/api/v1/admin/sensors/${body.id}`, { token: admin });
      expect(stored.json).toMatchObject(fields);
      const filtered = await gw.call(
        'GET',
        `/api/v1/sensors?site=${encodeURIComponent(payload)}&tag=${encodeURIComponent(payload)}`,
      );
      expect(filtered.status).toBe(200);
      expect(filtered.json.items).toEqual([expect.objectContaining({ id: body.id, ...fields })]);
    }
    // The table is still there and holds every sensor.
    expect(await sensorRows()).toBeGreaterThanOrEqual(payloads.length);
  });
});
