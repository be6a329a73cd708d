import { AppError } from '@sensormesh/errors';
import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, type Sql, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { escapeTsv } from '../tsv.ts';
import { repairRollups } from './rollup-repair.ts';
import { paramsChecker } from './validate.ts';

/** One stored value: a sensor's metric at a time (UTC epoch ms). */
export const ReadingRow = t.Object({
  sensorId: t.String({ minLength: 1, maxLength: 128 }),
  metric: t.String({ minLength: 1, maxLength: 64 }),
  ts: t.Integer(),
  value: t.Number(),
  receivedAt: t.Integer(),
  source: t.String({ maxLength: 64 }),
  /** The readings stream entry it came from ("<ms>-<seq>"), for WebSocket replay; 0 when unknown. */
  entryMs: t.Optional(t.Integer({ minimum: 0 })),
  entrySeq: t.Optional(t.Integer({ minimum: 0 })),
});
export type ReadingRow = Static<typeof ReadingRow>;

const READING_COLUMNS = [
  'sensor_id',
  'metric',
  'ts',
  'value',
  'received_at',
  'source',
  'entry_ms',
  'entry_seq',
] as const;
const checkRows = paramsChecker('insertReadings', t.Array(ReadingRow));

/** What an insert did: rows written, and rows skipped because that reading was already stored. */
export interface InsertReport {
  inserted: number;
  duplicates: number;
  /** Readings a retry found stored but missing from a rollup, now added to it (per rollup table). */
  rollupRowsRepaired?: number;
  /** Rollup buckets short by a count that these readings do not explain (left as they are). */
  rollupBucketsUnexplained?: number;
}

/** One TabSeparated line; values were validated finite, so numbers print as ClickHouse reads them. */
function readingLine(row: ReadingRow): string {
  return `${escapeTsv(row.sensorId)}\t${escapeTsv(row.metric)}\t${row.ts}\t${row.value}\t${row.receivedAt}\t${escapeTsv(row.source)}\t${row.entryMs ?? 0}\t${row.entrySeq ?? 0}\n`;
}

const keyOf = (sensorId: string, metric: string, ts: number) => `${sensorId}\u0000${metric}\u0000${ts}`;

/** The batch's distinct readings by key (the first of any repeats wins). */
function distinctReadings(rows: readonly ReadingRow[]): Map<string, ReadingRow> {
  const keys = new Map<string, ReadingRow>();
  for (const row of rows) {
    const key = keyOf(row.sensorId, row.metric, row.ts);
    if (!keys.has(key)) keys.set(key, row);
  }
  return keys;
}

/** The sets that bound one lookup on the primary key. */
interface LookupGroup {
  sensors: Set<string>;
  metrics: Set<string>;
  timestamps: Set<number>;
  minTs: number;
  maxTs: number;
  bytes: number;
}

// ClickHouse refuses statements over max_query_size (256 KiB by default on both engines), so a
// large or widely spread batch is looked up in several queries whose literals stay under this.
const LOOKUP_BUDGET_BYTES = 120_000;

const emptyGroup = (): LookupGroup => ({
  sensors: new Set(),
  metrics: new Set(),
  timestamps: new Set(),
  minTs: Number.POSITIVE_INFINITY,
  maxTs: Number.NEGATIVE_INFINITY,
  bytes: 0,
});

function addTo(group: LookupGroup, row: ReadingRow): void {
  group.bytes +=
    (group.sensors.has(row.sensorId) ? 0 : row.sensorId.length * 2 + 4) +
    (group.metrics.has(row.metric) ? 0 : row.metric.length * 2 + 4) +
    (group.timestamps.has(row.ts) ? 0 : 16);
  group.sensors.add(row.sensorId);
  group.metrics.add(row.metric);
  group.timestamps.add(row.ts);
  if (row.ts < group.minTs) group.minTs = row.ts;
  if (row.ts > group.maxTs) group.maxTs = row.ts;
}

/**
 * Lookup groups whose IN lists fit the budget: usually the whole batch in one; a batch that is too
 * wide is cut, in time order, so each group's time range stays narrow.
 */
function lookupGroups(readings: readonly ReadingRow[]): LookupGroup[] {
  const whole = emptyGroup();
  for (const row of readings) addTo(whole, row);
  if (whole.bytes <= LOOKUP_BUDGET_BYTES) return [whole];
  const groups: LookupGroup[] = [];
  let group = emptyGroup();
  for (const row of [...readings].sort((a, b) => a.ts - b.ts)) {
    // One row adds at most ~400 bytes (128-char id and 64-char metric, escaped), so this never overshoots.
    if (group.bytes > LOOKUP_BUDGET_BYTES - 600) {
      groups.push(group);
      group = emptyGroup();
    }
    addTo(group, row);
  }
  groups.push(group);
  return groups;
}

/**
 * Which of the batch's keys are stored. Each filter is a superset (sensor, metric and timestamp
 * sets, all on the primary key, inside the group's time range so whole partitions are pruned); the
 * exact match happens here, by the caller.
 */
async function storedKeys(store: Store, readings: readonly ReadingRow[]): Promise<Set<string>> {
  const found = await Promise.all(
    lookupGroups(readings).map((group) =>
      store.query<{ sensor_id: string; metric: string; ts: number }>(sql`
        SELECT sensor_id, metric, ts FROM readings_raw
        WHERE ts >= ${group.minTs} AND ts <= ${group.maxTs}
          AND sensor_id IN ${inList([...group.sensors])}
          AND metric IN ${inList([...group.metrics])}
          AND ts IN ${inList([...group.timestamps])}`),
    ),
  );
  return new Set(found.flat().map((row) => keyOf(row.sensor_id, row.metric, row.ts)));
}

/**
 * Stores readings exactly once: a reading (sensor, metric, ts) already stored, or repeated within
 * the batch, is skipped, so a redelivered batch adds no rows and the rollups count it once.
 */
export function insertReadings(store: Store) {
  return async function insertReadings(rows: readonly ReadingRow[]): Promise<InsertReport> {
    checkRows(rows);
    if (rows.length === 0) return { inserted: 0, duplicates: 0 };
    const keys = distinctReadings(rows);
    const lookup = storedKeys(store, [...keys.values()]);
    // Encode while the lookup is in flight; only the lines of unstored readings are sent.
    const lines: string[] = [];
    for (const row of keys.values()) lines.push(readingLine(row));
    // The lookup is a superset filter: it may return stored keys of other sensors at these times.
    const stored = await lookup;
    let body: string;
    let inserted = keys.size;
    if (stored.size === 0) body = lines.join('');
    else {
      const fresh: string[] = [];
      let index = 0;
      for (const key of keys.keys()) {
        if (stored.has(key)) inserted--;
        else fresh.push(lines[index] as string);
        index++;
      }
      body = fresh.join('');
    }
    await store.insertTsv('readings_raw', READING_COLUMNS, body);
    const report: InsertReport = { inserted, duplicates: rows.length - inserted };
    if (inserted === keys.size) return report;
    // A batch that finds its own readings stored may be the retry of an insert that died between
    // readings_raw and its rollups: make sure the rollups counted them (rollup-repair.ts).
    const again: ReadingRow[] = [];
    for (const [key, row] of keys) if (stored.has(key)) again.push(row);
    const repair = await repairRollups(store, again);
    if (repair.repaired > 0) report.rollupRowsRepaired = repair.repaired;
    if (repair.unexplained > 0) report.rollupBucketsUnexplained = repair.unexplained;
    return report;
  };
}

/** Filters shared by the reading queries. */
export const ReadingFilter = t.Object({
  sensorIds: t.Optional(
    t.Array(t.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 1_000 }),
  ),
  metrics: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100 })),
  from: t.Integer(),
  to: t.Integer(),
});
export type ReadingFilter = Static<typeof ReadingFilter>;

function filterClause(filter: ReadingFilter, tsColumn: 'ts' | 'bucket'): Sql {
  if (filter.to < filter.from) {
    throw new AppError('VALIDATION_FAILED', '`to` is before `from`', {
      details: { from: filter.from, to: filter.to },
    });
  }
  const column = tsColumn === 'ts' ? sql`ts` : sql`bucket`;
  const parts = [sql`${column} >= ${filter.from}`, sql`${column} < ${filter.to}`];
  if (filter.sensorIds) parts.push(sql`sensor_id IN ${inList(filter.sensorIds)}`);
  if (filter.metrics) parts.push(sql`metric IN ${inList(filter.metrics)}`);
  return join(parts, ' AND ');
}

const checkFilter = paramsChecker('readings filter', ReadingFilter);

/** Counts stored readings in [from, to). */
export function countReadings(store: Store) {
  return async function countReadings(filter: ReadingFilter): Promise<number> {
    const where = filterClause(checkFilter(filter), 'ts');
    const [row] = await store.query<{ n: number }>(sql`SELECT count() AS n FROM readings_raw WHERE ${where}`);
    return Number(row?.n ?? 0);
  };
}

/** One rollup bucket of one sensor's metric. */
export const BucketStats = t.Object({
  sensorId: t.String(),
  metric: t.String(),
  bucket: t.Integer(),
  count: t.Integer(),
  avg: t.Number(),
  min: t.Number(),
  max: t.Number(),
  p50: t.Number(),
  p95: t.Number(),
});
export type BucketStats = Static<typeof BucketStats>;

interface BucketRow {
  sensor_id: string;
  metric: string;
  bucket: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  quantiles: number[];
}

function rollupQuery(table: 'readings_per_minute' | 'readings_per_hour') {
  const source = table === 'readings_per_minute' ? sql`readings_per_minute` : sql`readings_per_hour`;
  return (store: Store) =>
    async function rollupStats(filter: ReadingFilter): Promise<BucketStats[]> {
      const where = filterClause(checkFilter(filter), 'bucket');
      const rows = await store.query<BucketRow>(sql`
        SELECT sensor_id, metric, bucket, countMerge(count) AS count, sumMerge(sum) AS sum,
               minMerge(min) AS min, maxMerge(max) AS max,
               quantilesTDigestMerge(0.5, 0.95)(quantiles) AS quantiles
        FROM ${source}
        WHERE ${where}
        GROUP BY sensor_id, metric, bucket
        ORDER BY sensor_id, metric, bucket`);
      return rows.map((row) => ({
        sensorId: row.sensor_id,
        metric: row.metric,
        bucket: row.bucket,
        count: row.count,
        avg: row.sum / row.count,
        min: row.min,
        max: row.max,
        p50: row.quantiles[0] ?? Number.NaN,
        p95: row.quantiles[1] ?? Number.NaN,
      }));
    };
}

/** Per-hour count, avg, min, max, p50 and p95 from the hourly rollup (never scans raw rows). */
export const getHourlyStats = rollupQuery('readings_per_hour');
/** Per-minute count, avg, min, max, p50 and p95 from the minute rollup. */
export const getMinuteStats = rollupQuery('readings_per_minute');
