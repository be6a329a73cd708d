import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { isAppError } from '@sensormesh/errors';
import { type Exclusive, insertReadings, type ReadingRow, type Store } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { INSERT_LOCK_KEY, insertLock } from './insert-lock.ts';
import { readingRows } from './rows.ts';
import { sentThrough } from './sent-through.ts';
import { fleetReading, openTestStore, rowCounts } from './test-support/helpers.ts';

const servers = useServers({ redis: true, clickhouse: true });
let store: Store;
let redis: Redis;
beforeAll(async () => {
  store = await openTestStore(servers.clickhouse.url);
  redis = new Redis(servers.redis.url);
});
afterAll(async () => {
  redis.disconnect();
  await store.close();
});
beforeEach(() => redis.flushall());

/** A promise and its resolver. */
function signal() {
  let resolve = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** The store, except that its inserts wait for `gate` and report that they began. */
function gatedInserts(gate: Promise<void>, began: () => void): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'insertRowBinary' || key === 'insertTsv') {
        const insert = Reflect.get(target, key, receiver) as (...args: unknown[]) => Promise<void>;
        return async (...args: unknown[]) => {
          began();
          await gate;
          return insert.apply(target, args);
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

/** The store, reporting each answered query (the look-up for stored copies is one). */
function reportingQueries(answered: () => void): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'query') {
        return async (...args: Parameters<Store['query']>) => {
          const rows = await target.query(...args);
          answered();
          return rows;
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

describe('two writers holding copies of the same readings', () => {
  /**
   * Writer A sends its insert, which is held until writer B has either looked the readings up
   * (finding nothing, since A's rows are not in yet) or found the lock held. Then A's insert goes on.
   */
  async function race(prefix: string, lock: (onWait: () => void) => Exclusive | undefined) {
    const rows: ReadingRow[] = Array.from({ length: 300 }, (_, i) => fleetReading(prefix, i)).flatMap(
      (reading) => readingRows(reading),
    );
    const gate = signal();
    const aInserting = signal();
    const marks = sentThrough(redis);
    const writerA = insertReadings(gatedInserts(gate.promise, aInserting.resolve), {
      sentThrough: marks,
      exclusive: lock(() => {}),
    });
    const writerB = insertReadings(reportingQueries(gate.resolve), {
      sentThrough: marks,
      exclusive: lock(gate.resolve),
    });
    const a = writerA(rows);
    await aInserting.promise;
    const [reportA, reportB] = await Promise.all([a, writerB(rows)]);
    return { reportA, reportB, counts: await rowCounts(store, prefix) };
  }

  test('without the lock, both find them missing and the rollup counts them twice (the race it closes)', async () => {
    const { reportA, reportB, counts } = await race('unlocked', () => undefined);
    expect(reportA.inserted).toBe(900);
    expect(reportB.inserted).toBe(900);
    expect(counts.rollup).toBe(1_800);
  });

  test('with the lock, the second looks up only after the first inserted: stored and counted once', async () => {
    let waits = 0;
    const { reportA, reportB, counts } = await race('locked', (onWait) =>
      insertLock(redis, {
        onWait: () => {
          waits++;
          onWait();
        },
      }),
    );
    expect(waits).toBeGreaterThan(0);
    expect(reportA).toMatchObject({ inserted: 900, duplicates: 0 });
    expect(reportB).toMatchObject({ inserted: 0, duplicates: 900 });
    expect(counts).toEqual({ rows: 900, keys: 900, rollup: 900 });
    expect(await redis.exists(INSERT_LOCK_KEY)).toBe(0);
  });
});

describe('insertLock', () => {
  test('a lock left by a writer that died lapses after its ttl, and the next one goes on', async () => {
    await redis.set(INSERT_LOCK_KEY, 'a-dead-writer', 'PX', 300);
    let waits = 0;
    const exclusive = insertLock(redis, { onWait: () => waits++ });
    expect(await exclusive(async () => 'ran')).toBe('ran');
    expect(waits).toBeGreaterThan(0);
    expect(await redis.exists(INSERT_LOCK_KEY)).toBe(0);
  });

  test('it is renewed while held, so a long insert keeps it past the ttl', async () => {
    const exclusive = insertLock(redis, { ttlMs: 150 });
    let secondRan = false;
    let heldAfterTtl = false;
    const first = exclusive(async () => {
      // Four ttls: without renewal the second would take the lock meanwhile.
      await Bun.sleep(600);
      heldAfterTtl = (await redis.exists(INSERT_LOCK_KEY)) === 1 && !secondRan;
    });
    await Bun.sleep(10);
    const second = exclusive(async () => {
      secondRan = true;
    });
    await Promise.all([first, second]);
    expect(heldAfterTtl).toBe(true);
    expect(secondRan).toBe(true);
  });

  test('a writer that stops while waiting gives up with UNAVAILABLE and runs nothing', async () => {
    await redis.set(INSERT_LOCK_KEY, 'another-writer', 'PX', 60_000);
    const stopping = new AbortController();
    const waited = signal();
    const exclusive = insertLock(redis, { signal: stopping.signal, onWait: waited.resolve });
    let ran = false;
    const attempt = exclusive(async () => {
      ran = true;
    }).catch((error: unknown) => error);
    await waited.promise;
    stopping.abort();
    const error = await attempt;
    expect(isAppError(error) && error.code).toBe('UNAVAILABLE');
    expect(ran).toBe(false);
    // Still the other writer's: a waiter never touches a lock it does not hold.
    expect(await redis.get(INSERT_LOCK_KEY)).toBe('another-writer');
  });

  test('a failing insert still releases the lock', async () => {
    const exclusive = insertLock(redis);
    const error = await exclusive(async () => {
      throw new Error('store down');
    }).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('store down');
    expect(await redis.exists(INSERT_LOCK_KEY)).toBe(0);
  });
});
