import { describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import {
  insertReadings,
  MIGRATIONS_DIR,
  migrate,
  type ReadingRow,
  readingEntries,
  type Store,
  sql,
} from './index.ts';
import { storeBackends } from './test-support/backends.ts';

const servers = useServers({ clickhouse: true });

const backends = storeBackends(servers, 'entries');

const BASE = 1_732_280_000_000;
const SENSORS = ['s-a', 's-b', 's-c'];

/** 60 readings of two metrics from entries BASE+i-(i%3), each sensor's ts a minute apart. */
function rows(): ReadingRow[] {
  const out: ReadingRow[] = [];
  for (let i = 0; i < 60; i++) {
    const sensorId = SENSORS[i % 3] as string;
    const entry = { entryMs: BASE + Math.floor(i / 3), entrySeq: i % 3 };
    const ts = BASE - 3_600_000 + Math.floor(i / 3) * 60_000;
    for (const metric of ['pm25', 'temp']) {
      out.push({
        sensorId,
        metric,
        ts,
        value: i + (metric === 'temp' ? 0.5 : 0),
        receivedAt: ts + 5,
        source: 'mqtt',
        ...entry,
      });
    }
  }
  return out;
}

for (const backend of backends) {
  describe(`readingEntries on ${backend.name}`, () => {
    let store: Store;
    test('set-up: migrated store with 60 readings carrying entry ids, and older rows without', async () => {
      store = await backend.open();
      await migrate(store, MIGRATIONS_DIR);
      await insertReadings(store)(rows());
      // Stored before entry ids existed: never replayed.
      await insertReadings(store)([
        { sensorId: 's-a', metric: 'pm25', ts: BASE - 7_200_000, value: 1, receivedAt: BASE, source: 'mqtt' },
      ]);
      const [count] = await store.query<{ n: number }>(sql`SELECT count() AS n FROM readings_entries`);
      expect(count?.n).toBe(60);
    });

    test('returns the readings strictly between the bounds, regrouped, in entry order', async () => {
      const page = await readingEntries(store)({
        afterMs: BASE + 2,
        afterSeq: 1,
        beforeMs: BASE + 4,
        beforeSeq: 1,
        limit: 500,
      });
      expect(page.readings.map((r) => `${r.entryMs - BASE}-${r.entrySeq}`)).toEqual([
        '2-2',
        '3-0',
        '3-1',
        '3-2',
        '4-0',
      ]);
      const first = page.readings[0];
      expect(first).toEqual({
        entryMs: BASE + 2,
        entrySeq: 2,
        sensorId: 's-c',
        ts: BASE - 3_600_000 + 2 * 60_000,
        metrics: { pm25: 8, temp: 8.5 },
        receivedAt: BASE - 3_600_000 + 2 * 60_000 + 5,
        source: 'mqtt',
      });
      expect(page.more).toBe(false);
      expect(page.last).toEqual({ ms: BASE + 4, seq: 0 });
    });

    test('pages by limit: `more` until the range is exhausted, no entry twice', async () => {
      const seen: string[] = [];
      let after = { ms: 0, seq: 0 };
      for (let pages = 0; pages < 20; pages++) {
        const page = await readingEntries(store)({
          afterMs: after.ms,
          afterSeq: after.seq,
          beforeMs: BASE + 1_000,
          beforeSeq: 0,
          limit: 7,
        });
        seen.push(...page.readings.map((r) => `${r.entryMs}-${r.entrySeq}`));
        if (!page.more || !page.last) break;
        after = page.last;
      }
      expect(seen.length).toBe(60);
      expect(new Set(seen).size).toBe(60);
      expect(seen[0]).toBe(`${BASE}-0`);
      expect(seen.at(-1)).toBe(`${BASE + 19}-2`);
    });

    test('narrows to the given sensors', async () => {
      const page = await readingEntries(store)({
        afterMs: 0,
        afterSeq: 0,
        beforeMs: BASE + 1_000,
        beforeSeq: 0,
        sensorIds: ['s-b'],
        limit: 500,
      });
      expect(page.readings.length).toBe(20);
      expect(new Set(page.readings.map((r) => r.sensorId))).toEqual(new Set(['s-b']));
    });

    test('refuses bad parameters with VALIDATION_FAILED', async () => {
      await expect(
        readingEntries(store)({ afterMs: -1, afterSeq: 0, beforeMs: 1, beforeSeq: 0, limit: 501 }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });

    test('a retry whose readings were stored but whose entries were not (the insert died between) writes the entries, once', async () => {
      await store.command(sql`TRUNCATE TABLE readings_entries`);
      const report = await insertReadings(store)(rows());
      expect(report).toMatchObject({ inserted: 0, duplicates: 120 });
      await insertReadings(store)(rows());
      const [entries] = await store.query<{ n: number }>(
        sql`SELECT count() AS n FROM (SELECT DISTINCT entry_ms, entry_seq FROM readings_entries)`,
      );
      expect(entries?.n).toBe(60);
      const page = await readingEntries(store)({
        afterMs: 0,
        afterSeq: 0,
        beforeMs: BASE + 1_000,
        beforeSeq: 0,
        limit: 500,
      });
      expect(page.readings.length).toBe(60);
    });

    test('tear-down', async () => {
      await store.close();
    });
  });
}
