import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { silentLogger } from '@sensormesh/log';
import { sensorService } from '@sensormesh/registry';
import {
  findSensorsByIds,
  ident,
  MIGRATIONS_DIR,
  migrate,
  openStore,
  type Store,
  sql,
} from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { type SensorLoader, sensorDirectory } from './sensor-directory.ts';

const servers = useServers({ redis: true, clickhouse: true });
let store: Store;
let redis: Redis;
let sensors: ReturnType<typeof sensorService>;

beforeAll(async () => {
  store = await openStore({ clickhouseUrl: servers.clickhouse.url, database: `directory_${process.pid}` });
  await migrate(store, MIGRATIONS_DIR);
  redis = new Redis(servers.redis.url);
  sensors = sensorService({ store, redis, logger: silentLogger() });
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      sensors.create(
        { id: `dir-${i}`, name: `dir ${i}`, kind: 'air-quality', metrics: ['vibration'] },
        'test',
      ),
    ),
  );
  await sensors.retire('dir-29', 'test');
}, 60_000);

afterAll(async () => {
  redis.disconnect();
  await store.close();
});

/** The store's loader, recording each call's ids; `done(n)` resolves once call n has finished. */
function countingLoader(load: SensorLoader = findSensorsByIds(store)) {
  const calls: string[][] = [];
  const finished: Array<PromiseWithResolvers<void>> = [];
  const slot = (n: number) => {
    finished[n] ??= Promise.withResolvers<void>();
    return finished[n];
  };
  const loader: SensorLoader = (ids) => {
    const done = slot(calls.length);
    calls.push([...ids]);
    const result = load(ids);
    result.then(
      () => done.resolve(),
      () => done.resolve(),
    );
    return result;
  };
  return { loader, calls, done: (n: number) => slot(n - 1).promise };
}

describe('sensor directory', () => {
  test('sensors missed in one turn are loaded by one query; cached ones answer without a promise', async () => {
    const { loader, calls } = countingLoader();
    const directory = sensorDirectory(loader, silentLogger());
    const ids = [...Array.from({ length: 30 }, (_, i) => `dir-${i}`), 'no-such-sensor'];
    const answers = await Promise.all(ids.map((id) => directory.get(id)));
    expect(calls).toEqual([ids]);
    expect(answers[0]).toEqual({ id: 'dir-0', metrics: ['vibration'] });
    expect(answers[29]).toBeUndefined(); // retired
    expect(answers[30]).toBeUndefined(); // unknown
    const cached = directory.get('dir-1');
    expect(cached instanceof Promise).toBe(false);
    expect(cached).toEqual({ id: 'dir-1', metrics: ['vibration'] });
    expect(directory.get('no-such-sensor')).toBeUndefined();
    expect(calls.length).toBe(1);
  });

  test('a stale entry answers at once while one query refreshes it', async () => {
    const { loader, calls, done } = countingLoader();
    const directory = sensorDirectory(loader, silentLogger(), 0); // every entry is stale at once
    await directory.get('dir-3');
    await sensors.update('dir-3', { metrics: ['vibration', 'current'] }, 'test');
    expect(directory.get('dir-3')).toEqual({ id: 'dir-3', metrics: ['vibration'] });
    expect(directory.get('dir-3')).toEqual({ id: 'dir-3', metrics: ['vibration'] }); // one refresh
    await done(2); // the refresh, started on the next turn
    expect(calls).toEqual([['dir-3'], ['dir-3']]);
    expect(directory.get('dir-3')).toEqual({ id: 'dir-3', metrics: ['vibration', 'current'] });
  });

  test('when the store fails, known sensors keep their answer and unknown ones fail', async () => {
    // A store of its own on a copy of the sensors, whose database is then dropped: a real failure.
    const database = `directory_copy_${process.pid}`;
    const own = await openStore({ clickhouseUrl: servers.clickhouse.url, database });
    await own.command(sql`CREATE TABLE sensors AS ${ident(store.database)}.sensors`);
    await own.command(sql`INSERT INTO sensors SELECT * FROM ${ident(store.database)}.sensors`);
    const { loader, calls, done } = countingLoader(findSensorsByIds(own));
    const directory = sensorDirectory(loader, silentLogger(), 0);
    try {
      expect(await directory.get('dir-4')).toEqual({ id: 'dir-4', metrics: ['vibration'] });
      await store.command(sql`DROP DATABASE ${ident(database)}`);
      expect(directory.get('dir-4')).toEqual({ id: 'dir-4', metrics: ['vibration'] });
      await expect(directory.get('dir-5')).rejects.toThrow(/database/i);
      await done(2);
      expect(calls).toEqual([['dir-4'], ['dir-4', 'dir-5']]); // one failed query for both
      expect(directory.get('dir-4')).toEqual({ id: 'dir-4', metrics: ['vibration'] });
    } finally {
      await own.close();
    }
  });
});
