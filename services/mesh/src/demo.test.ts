import { afterAll, beforeAll, expect, test } from 'bun:test';
import { rm, stat } from 'node:fs/promises';
import { silentLogger } from '@sensormesh/log';
import { sensorService } from '@sensormesh/registry';
import { readDevicesFile } from '@sensormesh/simulator';
import { MIGRATIONS_DIR, migrate, openStore, type Store } from '@sensormesh/store';
import { tempDir, useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { demoDevicesFile, seedDemoSensors } from './demo.ts';

const servers = useServers({ redis: true, clickhouse: true });
let store: Store;
let redis: Redis;
let dataDir: string;
let sensors: ReturnType<typeof sensorService>;

beforeAll(async () => {
  store = await openStore({ clickhouseUrl: servers.clickhouse.url, database: `demo_${process.pid}` });
  await migrate(store, MIGRATIONS_DIR);
  redis = new Redis(servers.redis.url);
  dataDir = await tempDir('mesh-demo');
  sensors = sensorService({ store, redis, logger: silentLogger() });
});
afterAll(async () => {
  redis?.disconnect();
  await store?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const seed = () => seedDemoSensors({ sensors, dataDir, logger: silentLogger() });

async function keysVerify(devices: ReadonlyArray<{ sensorId: string; deviceKey: string }>) {
  return Promise.all(devices.map((d) => sensors.verifyDeviceKey(d.sensorId, d.deviceKey)));
}

test('seeding twice gives 12 active demo sensors, no duplicates, and a 0600 key file of 12 working keys', async () => {
  const first = await seed();
  const again = await seed();
  expect(again).toEqual(first); // the second run found everything in place and changed nothing

  const listing = await sensors.list({ kind: 'air-quality', limit: 100, offset: 0 });
  expect(listing.total).toBe(12);
  expect(new Set(listing.items.map((s) => s.id)).size).toBe(12);
  const dongsi = listing.items.find((s) => s.id === 'aq-beijing-dongsi');
  expect(dongsi).toMatchObject({
    status: 'active',
    site: 'beijing-dongsi',
    createdBy: 'mesh-demo',
    latitude: 39.929,
    longitude: 116.417,
  });
  expect(dongsi?.metrics).toContain('wind_dir');

  const path = demoDevicesFile(dataDir);
  expect((await stat(path)).mode & 0o777).toBe(0o600);
  const file = await readDevicesFile(path);
  expect(file).toEqual(first);
  expect(file).toHaveLength(12);
  expect(await keysVerify(file)).toEqual(Array(12).fill(true));
});

test('a lost key file is rewritten by rotating the keys; the old keys stop working', async () => {
  const before = await readDevicesFile(demoDevicesFile(dataDir));
  await rm(demoDevicesFile(dataDir));
  const after = await seed();
  expect(after.map((d) => d.sensorId)).toEqual(before.map((d) => d.sensorId));
  expect(await keysVerify(after)).toEqual(Array(12).fill(true));
  expect(await keysVerify(before)).toEqual(Array(12).fill(false));
  expect(await readDevicesFile(demoDevicesFile(dataDir))).toEqual(after);
  expect((await sensors.list({ limit: 100, offset: 0 })).total).toBe(12);
});

test('a stale key in the file is replaced; a retired demo sensor is left out', async () => {
  const devices = await readDevicesFile(demoDevicesFile(dataDir));
  await sensors.rotateDeviceKey('aq-beijing-tiantan', 'someone-else');
  await sensors.retire('aq-beijing-shunyi', 'admin');
  const after = await seed();
  expect(after).toHaveLength(11);
  expect(after.find((d) => d.sensorId === 'aq-beijing-shunyi')).toBeUndefined();
  const tiantan = after.find((d) => d.sensorId === 'aq-beijing-tiantan');
  expect(tiantan?.deviceKey).not.toBe(devices.find((d) => d.sensorId === 'aq-beijing-tiantan')?.deviceKey);
  expect(await keysVerify(after)).toEqual(Array(11).fill(true));
  // Unchanged sensors keep their keys.
  const dongsi = (list: typeof after) => list.find((d) => d.sensorId === 'aq-beijing-dongsi')?.deviceKey;
  expect(dongsi(after)).toBe(dongsi(devices));
});
