import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useServers } from '@sensormesh/testkit';
import { close, fineReadings, HOUR, loadStations } from './analytics-test-data.ts';
import {
  type AnomalyRow,
  checkEngineTimeZone,
  countAnomalies,
  countStoredReadings,
  getCompleteness,
  getHourlyStats,
  getReadingActivity,
  getSeriesStats,
  insertAnomalies,
  insertReadings,
  MIGRATIONS_DIR,
  migrate,
  openStore,
  type Store,
  sql,
} from './index.ts';

const servers = useServers({ clickhouse: true });
const scratch: string[] = [];
let databases = 0;

const backends = [
  {
    name: 'clickhouse-server',
    open: () => openStore({ clickhouseUrl: servers.clickhouse.url, database: `analytics_t_${++databases}` }),
  },
  {
    name: 'chdb',
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sensormesh-analytics-t-'));
      scratch.push(dir);
      return openStore({ chdbPath: dir });
    },
  },
] as const;

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

const JAN = Date.UTC(2015, 0, 1);
const FEB = Date.UTC(2015, 1, 1);
const DONGSI = 'aq-beijing-dongsi';
const beijing = await loadStations(['Dongsi'], JAN, FEB);
const RAW_COLUMNS = ['sensor_id', 'metric', 'ts', 'value', 'received_at', 'source'];

/** Migrations up to and including `last`, copied to a directory of their own. */
async function migrationsUpTo(last: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sensormesh-migrations-'));
  scratch.push(dir);
  for (const name of await readdir(MIGRATIONS_DIR)) {
    if (Number.parseInt(name, 10) <= last) await copyFile(join(MIGRATIONS_DIR, name), join(dir, name));
  }
  return dir;
}

const anomaly = (overrides: Partial<AnomalyRow>): AnomalyRow => ({
  id: 'a-1',
  sensorId: DONGSI,
  metric: 'pm25',
  ts: JAN + HOUR,
  kind: 'spike',
  score: 0.97,
  threshold: 0.9,
  value: 480,
  expected: 95.5,
  windowStart: JAN - 11 * HOUR,
  modelId: 'pm-forecast',
  modelVersion: '1.0.0',
  streamId: '1420074000000-0',
  detectedAt: JAN + HOUR + 500,
  ...overrides,
});

for (const backend of backends) {
  describe(`analytics tables on ${backend.name}`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await backend.open();
      // Readings stored before migration 006 must reach its time-ordered copy through the backfill.
      await migrate(store, await migrationsUpTo(5));
      await store.insert(
        'readings_raw',
        RAW_COLUMNS,
        beijing
          .filter((row) => row.ts < JAN + 10 * 86_400_000)
          .map((r) => [r.sensorId, r.metric, r.ts, r.value, r.receivedAt, r.source]),
      );
      await migrate(store, MIGRATIONS_DIR);
      await insertReadings(store)(beijing.filter((row) => row.ts >= JAN + 10 * 86_400_000));
    });
    afterAll(async () => {
      await store.close();
    });

    test('migration 006 backfills the time-ordered hourly copy; both copies agree', async () => {
      const byTime = await getSeriesStats(store)({ from: JAN, to: FEB, limit: 100, offset: 0 });
      const bySensor = await getSeriesStats(store)({
        sensorIds: [DONGSI],
        from: JAN,
        to: FEB,
        limit: 100,
        offset: 0,
      });
      expect(byTime.sources[0]?.table).toBe('readings_per_hour_by_time');
      // Sums merged in another order differ in the last bits; everything else is the same.
      const exact = (items: typeof byTime.items) =>
        items.map(({ sensorId, metric, count, min, max }) => ({ sensorId, metric, count, min, max }));
      expect(exact(byTime.items)).toEqual(exact(bySensor.items));
      byTime.items.forEach((item, i) => {
        expect(close(item.avg ?? Number.NaN, bySensor.items[i]?.avg ?? Number.NaN)).toBe(true);
      });
      expect(byTime.items.reduce((sum, item) => sum + (item.count ?? 0), 0)).toBe(beijing.length);
    });

    test('completeness: expected versus present hours per metric, uptime and the longest silence', async () => {
      const [dongsi, silent] = await getCompleteness(store)({
        sensorIds: [DONGSI, 'silent-sensor'],
        metrics: ['pm25', 'o3', 'noise'],
        from: JAN - 30 * 60_000, // the half hour before JAN is not a whole hour: left out
        to: FEB,
      });
      const hoursOf = (metric?: string) =>
        new Set(beijing.filter((row) => metric === undefined || row.metric === metric).map((row) => row.ts));
      const metricsWanted = ['pm25', 'o3', 'noise'];
      const any = new Set(beijing.filter((row) => metricsWanted.includes(row.metric)).map((row) => row.ts));
      const sorted = [...any].sort((a, b) => a - b);
      let gap = (sorted[0] as number) - JAN;
      for (let i = 1; i < sorted.length; i++)
        gap = Math.max(gap, (sorted[i] as number) - (sorted[i - 1] as number) - HOUR);
      gap = Math.max(gap, FEB - HOUR - (sorted.at(-1) as number));
      expect(dongsi).toEqual({
        sensorId: DONGSI,
        expectedHours: 744,
        presentHours: any.size,
        uptime: any.size / 744,
        longestGapHours: gap / HOUR,
        firstHour: sorted[0] ?? null,
        lastHour: sorted.at(-1) ?? null,
        metrics: metricsWanted.map((metric) => ({
          metric,
          presentHours: hoursOf(metric).size,
          completeness: hoursOf(metric).size / 744,
          readings: beijing.filter((row) => row.metric === metric).length,
        })),
      });
      expect(hoursOf('pm25').size).toBeLessThan(744); // the month has NA hours, so this is not trivially full
      expect(silent).toMatchObject({ presentHours: 0, uptime: 0, longestGapHours: 744, firstHour: null });
      const unnamed = await getCompleteness(store)({ sensorIds: [DONGSI], from: JAN, to: FEB });
      expect(unnamed[0]?.metrics.map((m) => m.metric)).toEqual(
        [...new Set(beijing.map((row) => row.metric))].sort(),
      );
    });

    test('reading activity over every sensor, and the stored count from part metadata', async () => {
      const activity = await getReadingActivity(store)({ from: JAN + 90_000, to: FEB });
      const inRange = beijing.filter((row) => row.ts >= JAN + 90_000);
      expect(activity.readings).toBe(inRange.length);
      expect(activity.sensors).toBe(1);
      expect(activity.byMetric.pm25).toEqual({
        readings: inRange.filter((r) => r.metric === 'pm25').length,
        sensors: 1,
      });
      expect(activity.sources.map((s) => s.table)).toEqual([
        'readings_raw',
        'readings_per_minute',
        'readings_per_hour_by_time',
      ]);
      expect(await countStoredReadings(store)()).toBe(beijing.length);
    });

    test('anomalies: a re-scored id counts once, filters apply, nothing else is counted', async () => {
      const none = await countAnomalies(store)({ from: JAN, to: FEB });
      expect(none).toEqual({ total: 0, byKind: {}, bySensor: {} });
      await insertAnomalies(store)([
        anomaly({}),
        anomaly({ id: 'a-2', ts: JAN + 5 * HOUR, kind: 'stuck', value: null, expected: null }),
        anomaly({ id: 'a-3', sensorId: 'other', metric: 'temp', ts: JAN + 6 * HOUR }),
        anomaly({ id: 'a-4', ts: FEB + HOUR }),
      ]);
      // Redelivered and re-scored: same id, later detection.
      await insertAnomalies(store)([anomaly({ score: 0.99, detectedAt: JAN + 2 * HOUR })]);
      expect(await countAnomalies(store)({ from: JAN, to: FEB })).toEqual({
        total: 3,
        byKind: { spike: 2, stuck: 1 },
        bySensor: { [DONGSI]: 2, other: 1 },
      });
      expect(
        (await countAnomalies(store)({ from: JAN, to: FEB, sensorIds: [DONGSI], kinds: ['stuck'] })).total,
      ).toBe(1);
      expect((await countAnomalies(store)({ from: JAN, to: FEB, metrics: ['temp'] })).total).toBe(1);
      const [stored] = await store.query<{ value: number | null }>(
        sql`SELECT value FROM anomalies WHERE id = 'a-2'`,
      );
      expect(stored?.value).toBeNull(); // nan: a missing reading has no value
      await expect(insertAnomalies(store)([anomaly({ id: '' })])).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    });

    test('a crash between readings_raw and the time-ordered copy is repaired by the retry', async () => {
      const start = Date.UTC(2015, 5, 1);
      const batch = fineReadings('crash-by-time', start);
      await store.command(sql`DETACH TABLE readings_per_hour_by_time_mv`);
      try {
        await store.insert(
          'readings_raw',
          RAW_COLUMNS,
          batch.map((r) => [r.sensorId, r.metric, r.ts, r.value, r.receivedAt, r.source]),
        );
      } finally {
        await store.command(sql`ATTACH TABLE readings_per_hour_by_time_mv`);
      }
      const range = { from: start, to: start + 3 * HOUR };
      const before = await getSeriesStats(store)({ ...range, limit: 10, offset: 0 });
      expect(before.items).toEqual([]);
      expect(await insertReadings(store)(batch)).toEqual({
        inserted: 0,
        duplicates: 720,
        rollupRowsRepaired: 720,
      });
      const after = await getSeriesStats(store)({
        ...range,
        limit: 10,
        offset: 0,
        aggregates: ['count', 'min', 'max'],
      });
      const hourly = await getHourlyStats(store)({ ...range, sensorIds: ['crash-by-time'] });
      expect(after.items).toEqual([
        {
          sensorId: 'crash-by-time',
          metric: 'pm25',
          count: 720,
          min: Math.min(...hourly.map((h) => h.min)),
          max: Math.max(...hourly.map((h) => h.max)),
        },
      ]);
    });

    test('an engine that does not know a zone is a validation error, not a failure', async () => {
      await expect(checkEngineTimeZone(store, 'No/Such_Zone')).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        message: 'unknown time zone "No/Such_Zone"',
      });
      await expect(checkEngineTimeZone(store, 'Asia/Shanghai')).resolves.toBeUndefined();
    });
  });
}
