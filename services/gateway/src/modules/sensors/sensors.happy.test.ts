import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let replica: TestGateway;
let admin: string;
let replicaAdmin: string;

beforeAll(async () => {
  const urls = { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url };
  gw = await testGateway(urls);
  // A second replica: its own app, store client and Redis connection, on the same servers and database.
  replica = await testGateway(urls, {}, { database: gw.database });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  replicaAdmin = (await replica.login(ADMIN.email, ADMIN.password)).accessToken;
});
afterAll(async () => {
  await replica?.close();
  await gw?.close();
});

const dongsi = {
  id: 'aq-dongsi-01',
  name: 'Dongsi roadside',
  kind: 'air-quality',
  manufacturer: 'Sensormesh',
  model: 'SM-AQ1',
  latitude: 39.929,
  longitude: 116.417,
  site: 'beijing-dongsi',
  tags: ['outdoor', 'traffic'],
  metrics: ['pm25', 'pm10'],
};

describe('admin CRUD', () => {
  test('create answers 201 with the sensor and its device key, shown once', async () => {
    const created = await gw.call('POST', '/api/v1/admin/sensors', { body: dongsi, token: admin });
    expect(created.status).toBe(201);
    expect(created.json.sensor).toMatchObject({ ...dongsi, status: 'active' });
    expect(created.json.deviceKey.key).toStartWith('smd_');
    expect(created.json.deviceKey.key).toStartWith(created.json.deviceKey.prefix);
    const one = await gw.call('GET', `/api/v1/admin/sensors/${dongsi.id}`, { token: admin });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ ...dongsi, status: 'active' });
    expect(one.text).not.toContain('smd_');
  });

  test('list filters by status, kind, site and tag, with paging', async () => {
    for (const [id, kind, site, tags] of [
      ['ind-1', 'industrial', 'plant-a', ['indoor']],
      ['ind-2', 'industrial', 'plant-b', ['indoor', 'boiler']],
    ] as const) {
      const response = await gw.call('POST', '/api/v1/admin/sensors', {
        body: { id, name: id, kind, site, tags, latitude: 1, longitude: 2, status: 'pending' },
        token: admin,
      });
      expect(response.status).toBe(201);
    }
    const list = (query: string) => gw.call('GET', `/api/v1/admin/sensors?${query}`, { token: admin });
    expect((await list('kind=industrial')).json.total).toBe(2);
    expect((await list('status=pending')).json.items.map((s: { id: string }) => s.id)).toEqual([
      'ind-1',
      'ind-2',
    ]);
    expect((await list('site=plant-b')).json.items.map((s: { id: string }) => s.id)).toEqual(['ind-2']);
    expect((await list('tag=boiler')).json.items.map((s: { id: string }) => s.id)).toEqual(['ind-2']);
    const paged = await list('kind=industrial&limit=1&offset=1');
    expect(paged.json).toMatchObject({ total: 2, limit: 1, offset: 1 });
    expect(paged.json.items.map((s: { id: string }) => s.id)).toEqual(['ind-2']);
  });

  test('patch changes fields; delete retires, and the public list drops the sensor', async () => {
    const patched = await gw.call('PATCH', '/api/v1/admin/sensors/ind-1', {
      body: { status: 'active', metrics: ['temperature'] },
      token: admin,
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id: 'ind-1', status: 'active', metrics: ['temperature'] });
    const publicIds = async () =>
      (await gw.call('GET', '/api/v1/sensors')).json.items.map((s: { id: string }) => s.id);
    expect(await publicIds()).toContain('ind-1');
    const retired = await gw.call('DELETE', '/api/v1/admin/sensors/ind-1', { token: admin });
    expect(retired.status).toBe(200);
    expect(retired.json.status).toBe('retired');
    expect(await publicIds()).not.toContain('ind-1');
    const again = await gw.call('PATCH', '/api/v1/admin/sensors/ind-1', {
      body: { name: 'x' },
      token: admin,
    });
    expect(again.status).toBe(409);
  });

  test('the public list shows active sensors with location, and no secrets', async () => {
    const response = await gw.call('GET', '/api/v1/sensors');
    expect(response.status).toBe(200);
    const ids = response.json.items.map((s: { id: string }) => s.id);
    expect(ids).toContain(dongsi.id);
    expect(ids).not.toContain('ind-2'); // pending
    expect(response.json.items.find((s: { id: string }) => s.id === dongsi.id)).toMatchObject({
      latitude: dongsi.latitude,
      longitude: dongsi.longitude,
      tags: dongsi.tags,
      metrics: dongsi.metrics,
    });
    expect(response.text).not.toContain('smd_');
    expect(response.text).not.toMatch(/[0-9a-f]{64}/); // no SHA-256 hex
    expect(response.text).not.toContain('createdBy');
  });
});

describe('device keys', () => {
  test('issued on create; a rotation fails the old key at once on both replicas', async () => {
    const created = await gw.call('POST', '/api/v1/admin/sensors', {
      body: { ...dongsi, id: 'aq-rot-01' },
      token: admin,
    });
    const first = created.json.deviceKey.key as string;
    expect(await gw.ctx.sensors.verifyDeviceKey('aq-rot-01', first)).toBe(true);
    expect(await replica.ctx.sensors.verifyDeviceKey('aq-rot-01', first)).toBe(true); // both caches warm
    expect(await gw.ctx.sensors.verifyDeviceKey('aq-rot-01', `${first}x`)).toBe(false);
    expect(await gw.ctx.sensors.verifyDeviceKey(dongsi.id, first)).toBe(false); // another sensor's key

    const rotated = await gw.call('POST', '/api/v1/admin/sensors/aq-rot-01/device-key', { token: admin });
    expect(rotated.status).toBe(201);
    const second = rotated.json.key as string;
    expect(second).not.toBe(first);
    for (const instance of [gw, replica]) {
      expect(await instance.ctx.sensors.verifyDeviceKey('aq-rot-01', first)).toBe(false);
      expect(await instance.ctx.sensors.verifyDeviceKey('aq-rot-01', second)).toBe(true);
    }

    // And the other way round: rotate on the replica, check on the first instance.
    const third = (
      await replica.call('POST', '/api/v1/admin/sensors/aq-rot-01/device-key', { token: replicaAdmin })
    ).json.key as string;
    expect(await gw.ctx.sensors.verifyDeviceKey('aq-rot-01', second)).toBe(false);
    expect(await gw.ctx.sensors.verifyDeviceKey('aq-rot-01', third)).toBe(true);
  });

  test('a cold cache reads the current key from ClickHouse', async () => {
    const { sensor, deviceKey } = await gw.ctx.sensors.create({ name: 'cold', kind: 'air-quality' }, 'test', {
      status: 'pending',
    });
    expect(sensor.status).toBe('pending');
    await gw.redis.flushall(); // as if Redis lost its memory
    expect(await replica.ctx.sensors.verifyDeviceKey(sensor.id, deviceKey.key)).toBe(true);
    expect(await gw.ctx.sensors.verifyDeviceKey('no-such-sensor', deviceKey.key)).toBe(false);
  });

  test('retiring a sensor revokes its key everywhere', async () => {
    const { sensor, deviceKey } = await gw.ctx.sensors.create({ name: 'soon gone', kind: 'noise' }, 'test');
    expect(await replica.ctx.sensors.verifyDeviceKey(sensor.id, deviceKey.key)).toBe(true);
    expect((await gw.call('DELETE', `/api/v1/admin/sensors/${sensor.id}`, { token: admin })).status).toBe(
      200,
    );
    expect(await replica.ctx.sensors.verifyDeviceKey(sensor.id, deviceKey.key)).toBe(false);
    const rotate = await gw.call('POST', `/api/v1/admin/sensors/${sensor.id}/device-key`, { token: admin });
    expect(rotate.status).toBe(409);
  });
});

describe('replicas', () => {
  test('a write on one replica is seen on the other at once (public and admin lists, one sensor)', async () => {
    const before = await replica.call('GET', '/api/v1/sensors?site=replica-site');
    expect(before.json.total).toBe(0); // now cached on the replica
    const created = await gw.call('POST', '/api/v1/admin/sensors', {
      body: { ...dongsi, id: 'aq-rep-01', site: 'replica-site' },
      token: admin,
    });
    expect(created.status).toBe(201);
    const after = await replica.call('GET', '/api/v1/sensors?site=replica-site');
    expect(after.json.items.map((s: { id: string }) => s.id)).toEqual(['aq-rep-01']);

    await replica.call('PATCH', '/api/v1/admin/sensors/aq-rep-01', {
      body: { name: 'renamed on the replica' },
      token: replicaAdmin,
    });
    const seen = await gw.call('GET', '/api/v1/sensors?site=replica-site');
    expect(seen.json.items[0].name).toBe('renamed on the replica');
    const one = await gw.call('GET', '/api/v1/admin/sensors/aq-rep-01', { token: admin });
    expect(one.json.name).toBe('renamed on the replica');

    await replica.call('DELETE', '/api/v1/admin/sensors/aq-rep-01', { token: replicaAdmin });
    expect((await gw.call('GET', '/api/v1/sensors?site=replica-site')).json.total).toBe(0);
  });
});
