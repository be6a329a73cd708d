import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useServers } from '@sensormesh/testkit';
import {
  countReadings,
  getHourlyStats,
  getMinuteStats,
  ident,
  insertReadings,
  MIGRATIONS_DIR,
  MigrationError,
  migrate,
  migrationStates,
  newestReading,
  openStore,
  type ReadingRow,
  type SentThrough,
  type Store,
  sql,
} from './index.ts';
import { bitsOf, hardDoubles, storedBits } from './test-support/exact-values.ts';

const servers = useServers({ clickhouse: true });
const scratch: string[] = [];
let databases = 0;

/** Each backend opens a fresh, empty store: a new database on the server, a new dir for chDB. */
const backends = [
  {
    name: 'clickhouse-server',
    open: () => openStore({ clickhouseUrl: servers.clickhouse.url, database: `contract_${++databases}` }),
  },
  {
    name: 'chdb',
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sensormesh-chdb-'));
      scratch.push(dir);
      return openStore({ chdbPath: dir });
    },
  },
] as const;

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

const HOUR = 3_600_000;
const START = Date.UTC(2024, 2, 1);

/** 100,000 deterministic readings: 5 sensors × 2 metrics × 10,000 timestamps 37 s apart. */
function makeReadings(): ReadingRow[] {
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const rows: ReadingRow[] = [];
  for (let step = 0; step < 10_000; step++) {
    for (let sensor = 0; sensor < 5; sensor++) {
      for (const metric of ['pm25', 'temp']) {
        const value =
          metric === 'pm25'
            ? Math.round(random() * 5_000) / 10
            : Math.round((random() * 60 - 20) * 100) / 100;
        rows.push({
          sensorId: `s-${sensor}`,
          metric,
          ts: START + step * 37_000,
          value,
          receivedAt: START,
          source: 'test',
        });
      }
    }
  }
  return rows;
}

/** The hourly rollup computed in TypeScript, for comparison with the store. */
function hourlyInTypeScript(rows: readonly ReadingRow[]) {
  const buckets = new Map<string, { count: number; sum: number; min: number; max: number }>();
  for (const row of rows) {
    const key = `${row.sensorId}|${row.metric}|${Math.floor(row.ts / HOUR) * HOUR}`;
    const bucket = buckets.get(key) ?? {
      count: 0,
      sum: 0,
      min: Number.POSITIVE_INFINITY,
      max: Number.NEGATIVE_INFINITY,
    };
    bucket.count++;
    bucket.sum += row.value;
    bucket.min = Math.min(bucket.min, row.value);
    bucket.max = Math.max(bucket.max, row.value);
    buckets.set(key, bucket);
  }
  return buckets;
}

const HOSTILE = [
  "'; DROP TABLE readings_raw; --",
  'it\'s a "quoted" value',
  "back\\slash \\' \\n not a newline",
  'line one\nline two\r\n\ttabbed',
  '\u0001\u0002\u007f\u00ff binary-looking \uFFFD text \u{1F600}',
  '{name:String} ? $1 :param',
];

for (const backend of backends) {
  describe(`store contract on ${backend.name}`, () => {
    let store: Store;
    const readings = makeReadings();
    const all = { from: START - HOUR, to: START + 10_000 * 37_000 + HOUR };

    beforeAll(async () => {
      store = await backend.open();
      await migrate(store, MIGRATIONS_DIR);
    });
    afterAll(async () => {
      await store.close();
    });

    test('running the migrations twice changes nothing', async () => {
      const tablesBefore = await store.query(
        sql`SELECT name, engine FROM system.tables WHERE database = ${store.database} ORDER BY name`,
      );
      const statesBefore = await migrationStates(store);
      const again = await migrate(store, MIGRATIONS_DIR);
      expect(again.applied).toEqual([]);
      expect(again.skipped.length).toBe(statesBefore.size);
      expect(
        await store.query(
          sql`SELECT name, engine FROM system.tables WHERE database = ${store.database} ORDER BY name`,
        ),
      ).toEqual(tablesBefore);
      const [row] = await store.query<{ n: number }>(sql`SELECT count() AS n FROM schema_migrations`);
      expect(row?.n).toBe(statesBefore.size);
    });

    test('100,000 readings read back with the exact count and hourly stats equal to TypeScript', async () => {
      const insert = insertReadings(store);
      for (let offset = 0; offset < readings.length; offset += 10_000) {
        const report = await insert(readings.slice(offset, offset + 10_000));
        expect(report).toEqual({ inserted: 10_000, duplicates: 0 });
      }
      expect(await countReadings(store)(all)).toBe(100_000);

      const expected = hourlyInTypeScript(readings);
      const actual = await getHourlyStats(store)(all);
      expect(actual.length).toBe(expected.size);
      for (const bucket of actual) {
        const want = expected.get(`${bucket.sensorId}|${bucket.metric}|${bucket.bucket}`);
        expect(want).toBeDefined();
        expect(bucket.count).toBe(want?.count ?? -1);
        expect(bucket.min).toBe(want?.min ?? Number.NaN);
        expect(bucket.max).toBe(want?.max ?? Number.NaN);
        expect(bucket.avg).toBeCloseTo((want?.sum ?? 0) / (want?.count ?? 1), 9);
      }
    });

    test('inserting the same batch again adds no rows and leaves the rollups unchanged', async () => {
      const hourlyBefore = await getHourlyStats(store)(all);
      const batch = readings.slice(20_000, 30_000);
      expect(await insertReadings(store)(batch)).toEqual({ inserted: 0, duplicates: 10_000 });
      // Partly new, partly stored, and repeated within itself: only the new reading lands, once.
      const fresh = { ...batch[0], ts: START - 1_000 } as ReadingRow;
      expect(await insertReadings(store)([fresh, fresh, ...batch.slice(0, 5)])).toEqual({
        inserted: 1,
        duplicates: 6,
      });
      expect(await countReadings(store)(all)).toBe(100_001);
      const hourlyAfter = await getHourlyStats(store)({ ...all, from: START });
      expect(hourlyAfter).toEqual(hourlyBefore.filter((bucket) => bucket.bucket >= START));
    });

    test('hostile strings round-trip verbatim and never change a query', async () => {
      const tablesBefore = await store.query(
        sql`SELECT name FROM system.tables WHERE database = ${store.database} ORDER BY name`,
      );
      for (const text of HOSTILE) {
        const [echo] = await store.query<{ s: string; n: number }>(
          sql`SELECT ${text} AS s, length(${text}) AS n`,
        );
        expect(echo?.s).toBe(text);
        expect(echo?.n).toBe(Buffer.byteLength(text));
      }
      const rows = HOSTILE.map((text, index) => ({
        sensorId: text,
        metric: text.slice(0, 60),
        ts: START + index,
        value: index,
        receivedAt: START,
        source: 'hostile',
      }));
      expect((await insertReadings(store)(rows)).inserted).toBe(HOSTILE.length);
      for (const row of rows) {
        const found = await store.query<{ sensor_id: string; metric: string }>(
          sql`SELECT sensor_id, metric FROM readings_raw WHERE sensor_id = ${row.sensorId} AND metric = ${row.metric}`,
        );
        expect(found).toEqual([{ sensor_id: row.sensorId, metric: row.metric }]);
      }
      expect(await countReadings(store)({ ...all, sensorIds: HOSTILE })).toBe(HOSTILE.length);
      expect(
        await store.query(
          sql`SELECT name FROM system.tables WHERE database = ${store.database} ORDER BY name`,
        ),
      ).toEqual(tablesBefore);
    });

    test('every value is stored bit for bit: 10,000 full-precision doubles, two-decimal readings and extremes', async () => {
      const exactStart = START + 900 * 86_400_000;
      const values = hardDoubles(10_000);
      const rows = values.map((value, i) => ({
        sensorId: `exact-${i % 10}`,
        metric: 'pm25',
        ts: exactStart + i * 1_000,
        value,
        receivedAt: exactStart,
        source: 'exact',
      }));
      expect((await insertReadings(store)(rows)).inserted).toBe(values.length);
      const stored = await store.query<{ ts: number; bits: string }>(sql`
        SELECT ts, hex(reinterpretAsString(value)) AS bits FROM readings_raw
        WHERE sensor_id LIKE 'exact-%' ORDER BY ts`);
      const wrong = stored
        .map((row) => ({
          value: values[(row.ts - exactStart) / 1_000] as number,
          bits: storedBits(row.bits),
        }))
        .filter((row) => row.bits !== bitsOf(row.value));
      expect(stored.length).toBe(values.length);
      expect(wrong).toEqual([]);
    });

    test('sensors sharing timestamps: only the exact reading and metric count as stored', async () => {
      // Fleets report on the same clock ticks. A reading of one sensor at a tick is no duplicate of
      // another sensor's at that tick, and a stored (sensor, ts) with a new metric is a new row.
      const tick = START + 1_200 * 86_400_000;
      const row = (sensorId: string, metric: string, ts: number, value = 1): ReadingRow => ({
        sensorId,
        metric,
        ts,
        value,
        receivedAt: tick,
        source: 'ticks',
      });
      // Ids with "|" and digits: a reading's key is "<ts offset>|<id>", which no other pair can spell.
      const ids = ['a', 'a|1', '1|a', "b'|0"];
      const stored = ids.flatMap((id) => [row(id, 'pm25', tick), row(id, 'pm25', tick + 1_000)]);
      expect(await insertReadings(store)(stored)).toEqual({ inserted: 8, duplicates: 0 });
      const batch = [
        row('a', 'pm25', tick, 99), // stored: skipped
        row('a', 'no2', tick), // new metric of a stored reading
        row('c', 'pm25', tick), // new sensor at a stored tick
        row('c', 'pm25', tick, 5), // repeated within the batch: the first wins
        row('a|1', 'pm25', tick + 1), // a new tick of a stored sensor
        row('1|a', 'pm25', tick + 1_000), // stored: skipped
      ];
      expect(await insertReadings(store)(batch)).toEqual({ inserted: 3, duplicates: 3 });
      const found = await store.query<{ sensor_id: string; metric: string; ts: number; value: number }>(
        sql`SELECT sensor_id, metric, ts, value FROM readings_raw
            WHERE ts >= ${tick} AND ts <= ${tick + 1_000} ORDER BY sensor_id, metric, ts`,
      );
      expect(found.length).toBe(11);
      expect(found.filter((r) => r.sensor_id === 'c')).toEqual([
        { sensor_id: 'c', metric: 'pm25', ts: tick, value: 1 },
      ]);
      expect(found.filter((r) => r.sensor_id === 'a' && r.ts === tick)).toEqual([
        { sensor_id: 'a', metric: 'no2', ts: tick, value: 1 },
        { sensor_id: 'a', metric: 'pm25', ts: tick, value: 1 },
      ]);
    });

    test('sent-through marks: readings after their sensor’s mark skip the lookup; at or before it, or without one, they are looked up', async () => {
      const tick = START + 1_300 * 86_400_000;
      const row = (sensorId: string, ts: number, value = 1): ReadingRow => ({
        sensorId,
        metric: 'pm25',
        ts,
        value,
        receivedAt: tick,
        source: 'marks',
      });
      /** The marks as the writer keeps them in Redis, here in a Map: raise to the max, answer the old. */
      const marks = (held = new Map<string, number>()): SentThrough & { held: Map<string, number> } => ({
        held,
        async raise(newest) {
          const before = new Map(held);
          for (const [id, ts] of newest)
            if (!((held.get(id) ?? Number.NEGATIVE_INFINITY) >= ts)) held.set(id, ts);
          return before;
        },
      });
      const kept = marks();
      const insert = insertReadings(store, { sentThrough: kept });
      const first = [row('m1', tick), row('m1', tick + 1_000), row('m2', tick)];
      expect(await insert(first)).toEqual({ inserted: 3, duplicates: 0 });
      expect(kept.held).toEqual(
        new Map([
          ['m1', tick + 1_000],
          ['m2', tick],
        ]),
      );
      // Redelivered with a new reading: the stored ones are at or before the marks, so looked up.
      expect(await insert([...first, row('m1', tick + 2_000)])).toEqual({ inserted: 1, duplicates: 3 });
      // Marks lost (Redis emptied) and a batch redelivered in two parts, the older first: a sensor
      // without a mark has it lifted to its newest stored reading, so the newer part is looked up too.
      const lost = marks();
      const again = insertReadings(store, { sentThrough: lost });
      expect(await again([first[0] as ReadingRow])).toEqual({ inserted: 0, duplicates: 1 });
      expect(lost.held.get('m1')).toBe(tick + 2_000);
      expect(await again(first.slice(1))).toEqual({ inserted: 0, duplicates: 2 });
      // A late reading before the mark of a sensor that has newer ones is looked up, and is new.
      expect(await insert([row('m1', tick - 1_000)])).toEqual({ inserted: 1, duplicates: 0 });
      // A mark below a stored reading (impossible when every insert goes through the marks) shows
      // the lookup is really skipped after the mark: the stored reading is written a second time.
      const wrong = marks(new Map([['m2', tick - 1]]));
      expect(await insertReadings(store, { sentThrough: wrong })([row('m2', tick)])).toEqual({
        inserted: 1,
        duplicates: 0,
      });
      const [counted] = await store.query<{ n: number }>(
        sql`SELECT count() AS n FROM readings_raw WHERE sensor_id = 'm2' AND ts = ${tick}`,
      );
      expect(Number(counted?.n)).toBe(2);
    });

    test('a batch too wide for one lookup statement is split, and still stored exactly once', async () => {
      // 30,000 distinct timestamps over 2,000 128-character sensor ids: 4.4 MB of keys, more than
      // max_query_size (4 MiB) allows one statement, so the lookup must take several.
      const wideStart = START + 400 * 86_400_000;
      const wide: ReadingRow[] = Array.from({ length: 30_000 }, (_, i) => ({
        sensorId: `wide-sensor-${String(i % 2_000).padStart(5, '0')}`.padEnd(128, '-x'),
        metric: 'pm25',
        ts: wideStart + i * 1_000,
        value: i % 500,
        receivedAt: wideStart,
        source: 'wide',
      }));
      const range = { from: wideStart, to: wideStart + 30_000 * 1_000 };
      expect(await insertReadings(store)(wide)).toEqual({ inserted: 30_000, duplicates: 0 });
      expect(await insertReadings(store)(wide)).toEqual({ inserted: 0, duplicates: 30_000 });
      expect(await countReadings(store)(range)).toBe(30_000);
      expect(await newestReading(store)(range)).toBe(wideStart + 29_999 * 1_000);
      const seventh = 'wide-sensor-00007'.padEnd(128, '-x');
      expect(await newestReading(store)({ ...range, sensorIds: [seventh] })).toBe(wideStart + 28_007 * 1_000);
      expect(await newestReading(store)({ ...range, sensorIds: ['nobody'] })).toBeNull();
    }, 30_000);

    test('a retry after a crash between raw rows and rollups repairs the rollups', async () => {
      // What a server killed mid-insert leaves: the raw rows stored, the materialized views not run.
      const crashStart = START + 800 * 86_400_000;
      const batch: ReadingRow[] = Array.from({ length: 600 }, (_, i) => ({
        sensorId: `crash-${i % 3}`,
        metric: 'pm25',
        ts: crashStart + i * 20_000,
        value: (i * 7) % 300,
        receivedAt: crashStart,
        source: 'crash',
      }));
      const views = ['readings_per_minute_mv', 'readings_per_hour_mv'];
      for (const view of views) await store.command(sql`DETACH TABLE ${ident(view)}`);
      try {
        await store.insert(
          'readings_raw',
          ['sensor_id', 'metric', 'ts', 'value', 'received_at', 'source'],
          batch.map((r) => [r.sensorId, r.metric, r.ts, r.value, r.receivedAt, r.source]),
        );
      } finally {
        for (const view of views) await store.command(sql`ATTACH TABLE ${ident(view)}`);
      }
      const range = { from: crashStart, to: crashStart + 600 * 20_000 + HOUR };
      expect(await getHourlyStats(store)(range)).toEqual([]);

      // The writer's retry: everything is stored already, and the rollups get what they missed, once.
      expect(await insertReadings(store)(batch)).toEqual({
        inserted: 0,
        duplicates: 600,
        rollupRowsRepaired: 1_200,
      });
      expect(await insertReadings(store)(batch)).toEqual({ inserted: 0, duplicates: 600 });
      const expected = hourlyInTypeScript(batch);
      const hourly = await getHourlyStats(store)(range);
      expect(hourly.length).toBe(expected.size);
      for (const bucket of hourly) {
        const want = expected.get(`${bucket.sensorId}|${bucket.metric}|${bucket.bucket}`);
        expect(bucket.count).toBe(want?.count ?? -1);
        expect(bucket.max).toBe(want?.max ?? Number.NaN);
      }
      const minutes = await getMinuteStats(store)(range);
      expect(minutes.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(600);
    });

    test('bad query parameters are refused with a validation error', async () => {
      await expect(countReadings(store)({ from: 10, to: 5 })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
      await expect(countReadings(store)({ from: 1.5, to: 5 })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
      await expect(
        insertReadings(store)([
          { sensorId: '', metric: 'pm25', ts: 1, value: 1, receivedAt: 1, source: 'x' },
        ]),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });
  });

  describe(`a failing migration on ${backend.name}`, () => {
    let store: Store;
    let dir: string;
    beforeAll(async () => {
      store = await backend.open();
      dir = await mkdtemp(join(tmpdir(), 'sensormesh-migrations-'));
      scratch.push(dir);
      await writeFile(
        join(dir, '001_first.sql'),
        'CREATE TABLE IF NOT EXISTS first (a Int64) ENGINE = MergeTree() ORDER BY a;',
      );
      await writeFile(
        join(dir, '002_broken.sql'),
        'CREATE TABLE IF NOT EXISTS broken (a NoSuchType) ENGINE = MergeTree() ORDER BY a;',
      );
      await writeFile(
        join(dir, '003_after.sql'),
        'CREATE TABLE IF NOT EXISTS after (a Int64) ENGINE = MergeTree() ORDER BY a;',
      );
    });
    afterAll(async () => {
      await store.close();
    });

    test('stops at the failed file and records which one failed', async () => {
      const failure = await migrate(store, dir).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(MigrationError);
      expect((failure as MigrationError).migration).toBe('002_broken.sql');
      const states = await migrationStates(store);
      expect(states.get(1)?.status).toBe('applied');
      expect(states.get(2)?.status).toBe('failed');
      expect(states.has(3)).toBe(false);
      const [error] = await store.query<{ error: string }>(
        sql`SELECT error FROM schema_migrations WHERE version = 2`,
      );
      expect(error?.error).toContain('NoSuchType');
      const tables = await store.query<{ name: string }>(
        sql`SELECT name FROM system.tables WHERE database = ${store.database} AND name = 'after'`,
      );
      expect(tables).toEqual([]);
    });

    test('a fixed file is applied on the next run, and an applied file may not change', async () => {
      await writeFile(
        join(dir, '002_broken.sql'),
        'CREATE TABLE IF NOT EXISTS broken (a Int64) ENGINE = MergeTree() ORDER BY a;',
      );
      expect((await migrate(store, dir)).applied).toEqual(['002_broken.sql', '003_after.sql']);
      await writeFile(
        join(dir, '001_first.sql'),
        'CREATE TABLE IF NOT EXISTS first2 (a Int64) ENGINE = MergeTree() ORDER BY a;',
      );
      await expect(migrate(store, dir)).rejects.toThrow(/001_first.sql failed: file changed/);
    });
  });
}
