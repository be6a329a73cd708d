import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import {
  BEIJING_OFFSET,
  close,
  DAY,
  fineReadings,
  groupStats,
  HOUR,
  hourlyMeans,
  loadStations,
  pearson,
  withinRank,
} from './analytics-test-data.ts';
import {
  getCorrelation,
  getExceedance,
  getProfile,
  getSeriesStats,
  getTimeseries,
  insertReadings,
  MIGRATIONS_DIR,
  migrate,
  type Store,
} from './index.ts';
import { storeBackends } from './test-support/backends.ts';

const servers = useServers({ clickhouse: true });

const backends = storeBackends(servers, 'analytics');

const JAN = Date.UTC(2015, 0, 1);
const FEB = Date.UTC(2015, 1, 1);
const DONGSI = 'aq-beijing-dongsi';
const TIANTAN = 'aq-beijing-tiantan';
const FINE = 'fine-edge-1';
const FINE_START = Date.UTC(2015, 0, 10, 10);
const beijing = await loadStations(['Dongsi', 'Tiantan'], JAN, FEB);
const fine = fineReadings(FINE, FINE_START);

/** Checks one store aggregate row against the hand computation, exact where the math is exact. */
function expectMatches(
  got: { count?: number; avg?: number; min?: number; max?: number; p50?: number; p95?: number },
  want: { count: number; sum: number; min: number; max: number; values: number[] } | undefined,
  label: string,
) {
  expect(want, label).toBeDefined();
  if (!want) return;
  expect(got.count, label).toBe(want.count);
  expect(got.min, label).toBe(want.min);
  expect(got.max, label).toBe(want.max);
  expect(close(got.avg ?? Number.NaN, want.sum / want.count), `${label} avg ${got.avg}`).toBe(true);
  expect(withinRank(want.values, 0.5, got.p50 ?? Number.NaN), `${label} p50 ${got.p50}`).toBe(true);
  expect(withinRank(want.values, 0.95, got.p95 ?? Number.NaN), `${label} p95 ${got.p95}`).toBe(true);
}

for (const backend of backends) {
  describe(`analytics on ${backend.name} (Beijing, January 2015)`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await backend.open();
      await migrate(store, MIGRATIONS_DIR);
      const insert = insertReadings(store);
      for (const rows of [beijing, fine]) {
        for (let offset = 0; offset < rows.length; offset += 10_000) {
          await insert(rows.slice(offset, offset + 10_000));
        }
      }
    });
    afterAll(async () => {
      await store.close();
    });

    test('daily UTC buckets: count, avg, min, max exact, p50/p95 within t-digest tolerance, hours only', async () => {
      const result = await getTimeseries(store)({
        sensorIds: [DONGSI, TIANTAN],
        metrics: ['pm25', 'temp'],
        from: JAN,
        to: FEB,
        bucket: '1d',
      });
      expect(result.sources).toEqual([{ level: 'hour', table: 'readings_per_hour', from: JAN, to: FEB }]);
      const want = groupStats(beijing, (row) =>
        ['pm25', 'temp'].includes(row.metric)
          ? `${row.sensorId}|${row.metric}|${Math.floor(row.ts / DAY) * DAY}`
          : undefined,
      );
      expect(result.series.map((s) => `${s.sensorId}|${s.metric}`)).toEqual([
        `${DONGSI}|pm25`,
        `${DONGSI}|temp`,
        `${TIANTAN}|pm25`,
        `${TIANTAN}|temp`,
      ]);
      let points = 0;
      for (const series of result.series) {
        for (const point of series.points) {
          const key = `${series.sensorId}|${series.metric}|${point.bucket}`;
          expectMatches(point, want.get(key), key);
          points++;
        }
      }
      expect(points).toBe(want.size);
    });

    test('daily buckets in Asia/Shanghai are local days', async () => {
      const result = await getTimeseries(store)({
        sensorIds: [DONGSI],
        metrics: ['pm10'],
        from: JAN,
        to: FEB,
        bucket: '1d',
        tz: 'Asia/Shanghai',
      });
      expect(result.tz).toBe('Asia/Shanghai');
      const localDay = (ts: number) => Math.floor((ts + BEIJING_OFFSET) / DAY) * DAY - BEIJING_OFFSET;
      const want = groupStats(beijing, (row) =>
        row.sensorId === DONGSI && row.metric === 'pm10' ? localDay(row.ts) : undefined,
      );
      const points = result.series[0]?.points ?? [];
      expect(points.map((p) => p.bucket)).toEqual([...want.keys()].sort((a, b) => a - b));
      for (const point of points) expectMatches(point, want.get(point.bucket), `local day ${point.bucket}`);
      expect(points[0]?.bucket).toBe(JAN - BEIJING_OFFSET);
    });

    test('hourly buckets return the hourly readings; asked-for aggregates only', async () => {
      const result = await getTimeseries(store)({
        sensorIds: [TIANTAN],
        metrics: ['so2'],
        from: JAN,
        to: JAN + 3 * DAY,
        bucket: '1h',
        aggregates: ['avg', 'max'],
      });
      const want = beijing
        .filter((row) => row.sensorId === TIANTAN && row.metric === 'so2' && row.ts < JAN + 3 * DAY)
        .map((row) => ({ bucket: row.ts, avg: row.value, max: row.value }));
      expect(result.series[0]?.points).toEqual(want);
    });

    test('edges off whole hours and minutes: minutes and raw rows fill them, exactly', async () => {
      const from = FINE_START + 17 * 60_000 + 22_500; // 10:17:22.5
      const to = FINE_START + 2 * HOUR + 41 * 60_000 + 40_000; // 12:41:40
      const inRange = fine.filter((row) => row.ts >= from && row.ts < to);
      for (const bucket of ['1h', '15m'] as const) {
        const width = bucket === '1h' ? HOUR : 15 * 60_000;
        const result = await getTimeseries(store)({ sensorIds: [FINE], metrics: ['pm25'], from, to, bucket });
        const want = groupStats(inRange, (row) => Math.floor(row.ts / width) * width);
        const points = result.series[0]?.points ?? [];
        expect(points.length).toBe(want.size);
        for (const point of points) expectMatches(point, want.get(point.bucket), `${bucket} ${point.bucket}`);
        const raw = result.sources.filter((s) => s.level === 'raw');
        expect(raw.map((s) => s.to - s.from)).toEqual([37_500, 40_000]);
      }
      const sources = (
        await getTimeseries(store)({ sensorIds: [FINE], metrics: ['pm25'], from, to, bucket: '1h' })
      ).sources;
      expect(sources.map((s) => s.level)).toEqual(['raw', 'minute', 'hour', 'minute', 'raw']);
    });

    test('per-series statistics over the month, with paging; all sensors read the time-ordered copy', async () => {
      const want = groupStats([...beijing, ...fine], (row) => `${row.sensorId}|${row.metric}`);
      const all = await getSeriesStats(store)({ from: JAN, to: FEB, limit: 1_000, offset: 0 });
      expect(all.sources.map((s) => s.table)).toEqual(['readings_per_hour_by_time']);
      expect(all.items.length).toBe(want.size);
      expect(all.hasMore).toBe(false);
      for (const item of all.items) {
        expectMatches(item, want.get(`${item.sensorId}|${item.metric}`), `${item.sensorId}|${item.metric}`);
      }
      const named = await getSeriesStats(store)({
        sensorIds: [DONGSI],
        metrics: ['pm25', 'o3'],
        from: JAN,
        to: FEB,
        limit: 1,
        offset: 1,
      });
      expect(named.sources.map((s) => s.table)).toEqual(['readings_per_hour']);
      expect(named.items.map((item) => item.metric)).toEqual(['pm25']);
      expect(named.hasMore).toBe(false);
      const first = await getSeriesStats(store)({
        sensorIds: [DONGSI],
        metrics: ['pm25', 'o3'],
        from: JAN,
        to: FEB,
        limit: 1,
        offset: 0,
      });
      expect(first.items.map((item) => item.metric)).toEqual(['o3']);
      expect(first.hasMore).toBe(true);
    });

    test('exceedance hours above a threshold, by hourly average and by hourly maximum', async () => {
      for (const threshold of [75, 150, 1_000]) {
        const result = await getExceedance(store)({
          sensorIds: [DONGSI, TIANTAN, 'no-such-sensor'],
          metric: 'pm25',
          threshold,
          statistic: 'avg',
          from: JAN,
          to: FEB,
        });
        for (const sensor of [DONGSI, TIANTAN]) {
          const hours = beijing.filter((row) => row.sensorId === sensor && row.metric === 'pm25');
          const over = hours.filter((row) => row.value > threshold);
          expect(result.find((r) => r.sensorId === sensor)).toEqual({
            sensorId: sensor,
            exceedanceHours: over.length,
            hoursWithData: hours.length,
            share: over.length / hours.length,
            firstExceedance: over[0]?.ts ?? null,
            lastExceedance: over.at(-1)?.ts ?? null,
          });
        }
        expect(result.at(-1)).toEqual({
          sensorId: 'no-such-sensor',
          exceedanceHours: 0,
          hoursWithData: 0,
          share: null,
          firstExceedance: null,
          lastExceedance: null,
        });
      }
      // The fine sensor has 240 readings an hour: its maxima exceed where its averages do not.
      const range = {
        sensorIds: [FINE],
        metric: 'pm25',
        threshold: 150,
        from: FINE_START,
        to: FINE_START + 3 * HOUR,
      };
      const byHour = groupStats(fine, (row) => Math.floor(row.ts / HOUR) * HOUR);
      const avg = await getExceedance(store)({ ...range, statistic: 'avg' });
      const max = await getExceedance(store)({ ...range, statistic: 'max' });
      expect(avg[0]?.exceedanceHours).toBe([...byHour.values()].filter((h) => h.sum / h.count > 150).length);
      expect(max[0]?.exceedanceHours).toBe([...byHour.values()].filter((h) => h.max > 150).length);
      expect(max[0]?.exceedanceHours).toBe(3);
    });

    test('diurnal and weekly profiles in Asia/Shanghai; a half-hour zone reads minutes', async () => {
      const localHour = (ts: number, offset: number) => new Date(ts + offset).getUTCHours();
      const weekday = (ts: number) => new Date(ts + BEIJING_OFFSET).getUTCDay() || 7;
      const params = { sensorIds: [DONGSI], metrics: ['pm25'], from: JAN, to: FEB };
      const pm25 = beijing.filter((row) => row.sensorId === DONGSI && row.metric === 'pm25');
      const cases = [
        {
          by: 'hour',
          tz: 'Asia/Shanghai',
          slot: (ts: number) => localHour(ts, BEIJING_OFFSET),
          level: 'hour',
        },
        { by: 'weekday', tz: 'Asia/Shanghai', slot: weekday, level: 'hour' },
        { by: 'hour', tz: 'Asia/Kolkata', slot: (ts: number) => localHour(ts, 5.5 * HOUR), level: 'minute' },
      ] as const;
      for (const { by, tz, slot, level } of cases) {
        const result = await getProfile(store)({ ...params, by, tz });
        expect(result.sources.map((s) => s.level)).toEqual([level]);
        const want = groupStats(pm25, (row) => slot(row.ts));
        const slots = result.series[0]?.slots ?? [];
        expect(slots.map((s) => s.slot)).toEqual([...want.keys()].sort((a, b) => a - b));
        for (const s of slots) expectMatches(s, want.get(s.slot), `${by} ${tz} ${s.slot}`);
      }
    });

    test('Pearson correlation of hourly averages, paired where both series have data', async () => {
      const cases = [
        { x: { sensorId: DONGSI, metric: 'pm25' }, y: { sensorId: DONGSI, metric: 'pm10' } },
        { x: { sensorId: DONGSI, metric: 'pm25' }, y: { sensorId: TIANTAN, metric: 'pm25' } },
        { x: { sensorId: DONGSI, metric: 'temp' }, y: { sensorId: TIANTAN, metric: 'co' } },
      ];
      for (const { x, y } of cases) {
        const xs = hourlyMeans(beijing, x.sensorId, x.metric);
        const ys = hourlyMeans(beijing, y.sensorId, y.metric);
        const pairs: [number, number][] = [];
        for (const [hour, value] of xs) {
          const other = ys.get(hour);
          if (other !== undefined) pairs.push([value, other]);
        }
        const got = await getCorrelation(store)({ x, y, from: JAN, to: FEB });
        expect(got.n).toBe(pairs.length);
        expect(pairs.length).toBeLessThan(744); // NA hours really are left out of the pairing
        expect(close(got.r ?? Number.NaN, pearson(pairs)), `r ${got.r} vs ${pearson(pairs)}`).toBe(true);
      }
      const none = await getCorrelation(store)({
        x: { sensorId: DONGSI, metric: 'pm25' },
        y: { sensorId: 'no-such-sensor', metric: 'pm25' },
        from: JAN,
        to: FEB,
      });
      expect(none).toEqual({ r: null, n: 0, meanX: null, meanY: null });
    });

    test('bad parameters are refused with a validation error naming the problem', async () => {
      const base = { sensorIds: [DONGSI], metrics: ['pm25'], from: JAN, to: FEB, bucket: '1h' as const };
      const refusals: [Promise<unknown>, RegExp][] = [
        [getTimeseries(store)({ ...base, from: FEB, to: JAN }), /before/],
        [getTimeseries(store)({ ...base, tz: 'Mars/Olympus' }), /unknown time zone/],
        [getTimeseries(store)({ ...base, tz: "UTC'; DROP TABLE readings_raw; --" }), /unknown time zone/],
        [getTimeseries(store)({ ...base, bucket: '7m' as never }), /invalid parameters/],
        [getTimeseries(store)({ ...base, metrics: ['PM 2.5'] }), /invalid parameters/],
        [
          getCorrelation(store)({
            x: { sensorId: DONGSI, metric: 'pm25' },
            y: { sensorId: DONGSI, metric: 'pm25' },
            from: JAN,
            to: FEB,
          }),
          /itself/,
        ],
        [
          getExceedance(store)({
            sensorIds: [DONGSI],
            metric: 'pm25',
            threshold: 1,
            statistic: 'avg',
            from: JAN + 60_000,
            to: JAN + HOUR,
          }),
          /no whole hour/,
        ],
      ];
      for (const [promise, message] of refusals) {
        const error = (await promise.catch((caught: unknown) => caught)) as {
          code?: string;
          message?: string;
        };
        expect(error.code).toBe('VALIDATION_FAILED');
        expect(error.message).toMatch(message);
      }
    });
  });
}
