import { AppError } from '@sensormesh/errors';
import { type Static, Type as t } from '@sinclair/typebox';
import { RowBinaryWriter } from '../rowbinary.ts';
import { inList, join, type Sql, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { escapeTsv, tsvNumber } from '../tsv.ts';
import { repairRollups } from './rollup-repair.ts';
import { groupReadings, type ReadingGroup, rowKey, storedRows } from './stored-readings.ts';
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

/**
 * TabSeparated lines of the rows; values were validated finite, so numbers print as ClickHouse
 * reads them. A reading's rows share all but metric and value, so those parts are built once.
 */
function tsvLines(groups: readonly ReadingGroup[], skip?: (row: ReadingRow) => boolean): string {
  let body = '';
  let tail = '';
  let tailOf: ReadingRow | undefined;
  for (const group of groups) {
    const head = `${escapeTsv(group.sensorId)}\t`;
    const ts = `\t${group.ts}\t`;
    for (const row of group.rows) {
      if (skip?.(row)) continue;
      if (
        !tailOf ||
        tailOf.receivedAt !== row.receivedAt ||
        tailOf.source !== row.source ||
        tailOf.entryMs !== row.entryMs ||
        tailOf.entrySeq !== row.entrySeq
      ) {
        tail = `\t${row.receivedAt}\t${escapeTsv(row.source)}\t${row.entryMs ?? 0}\t${row.entrySeq ?? 0}\n`;
        tailOf = row;
      }
      body += `${head}${escapeTsv(row.metric)}${ts}${tsvNumber(row.value)}${tail}`;
    }
  }
  return body;
}

/**
 * About the bytes of a batch's RowBinary, so the buffer is not grown (and copied) while writing:
 * per row five 8-byte columns and three strings with 1-byte lengths, the strings sized by the first
 * row (a batch's ids and metrics are alike), and a quarter spare. A larger batch still grows it.
 */
function rowBinaryBytes(groups: readonly ReadingGroup[]): number {
  let rows = 0;
  for (const group of groups) rows += group.rows.length;
  const first = groups[0]?.rows[0];
  const strings = first ? first.sensorId.length + first.metric.length + first.source.length : 0;
  return Math.ceil(rows * (43 + strings) * 1.25) + 1_024;
}

/** The same rows as RowBinary (READING_COLUMNS order), for backends that take it. */
function rowBinary(groups: readonly ReadingGroup[], skip?: (row: ReadingRow) => boolean): Uint8Array {
  const out = new RowBinaryWriter(rowBinaryBytes(groups));
  let source = '';
  let sourceBytes = out.encode(source);
  for (const group of groups) {
    const sensorId = out.encode(group.sensorId);
    for (const row of group.rows) {
      if (skip?.(row)) continue;
      if (row.source !== source) {
        source = row.source;
        sourceBytes = out.encode(source);
      }
      out
        .encoded(sensorId)
        .string(row.metric)
        .int64(group.ts)
        .float64(row.value)
        .int64(row.receivedAt)
        .encoded(sourceBytes)
        .int64(row.entryMs ?? 0)
        .int64(row.entrySeq ?? 0);
    }
  }
  return out.finish();
}

/** Encodes the batch's rows for the store: RowBinary where it takes it (exact floats), else TSV. */
function rawRows(store: Store) {
  const binary = store.insertRowBinary?.bind(store);
  if (binary) {
    return (groups: readonly ReadingGroup[], skip?: (row: ReadingRow) => boolean) => {
      const body = rowBinary(groups, skip);
      return () => binary('readings_raw', READING_COLUMNS, body);
    };
  }
  return (groups: readonly ReadingGroup[], skip?: (row: ReadingRow) => boolean) => {
    const body = tsvLines(groups, skip);
    return () => store.insertTsv('readings_raw', READING_COLUMNS, body);
  };
}

const ENTRY_COLUMNS = ['entry_ms', 'entry_seq', 'sensor_id', 'ts'] as const;

/**
 * readings_entries rows: one per stream entry the rows came from (rows without one are skipped).
 * Every entry of the batch, stored before or not: a retry of a batch whose rows were stored by an
 * insert that died before its entries still gets them, and readings_entries (a ReplacingMergeTree
 * on the entry id) keeps one row each. An entry whose reading was stored under another entry (a
 * repeat) matches no row in readings_raw and is skipped by the replay.
 */
function eachEntry(
  rows: readonly ReadingRow[],
  write: (ms: number, seq: number, sensorId: string, ts: number) => void,
): void {
  let lastMs = 0;
  let lastSeq = -1;
  for (const row of rows) {
    const ms = row.entryMs ?? 0;
    const seq = row.entrySeq ?? 0;
    // A reading's rows are adjacent and share its entry.
    if (ms === 0 || (ms === lastMs && seq === lastSeq)) continue;
    lastMs = ms;
    lastSeq = seq;
    write(ms, seq, row.sensorId, row.ts);
  }
}

/** Inserts a batch's readings_entries rows: RowBinary where the store takes it (no text to print or parse), else TSV. */
function entriesInsert(store: Store) {
  const binary = store.insertRowBinary?.bind(store);
  if (binary) {
    return (rows: readonly ReadingRow[]) => {
      // Per entry three Int64s and a sensor id, sized by the first row for an entry per two rows
      // (readings usually carry more metrics); grown if need be.
      const perEntry = 25 + (rows[0]?.sensorId.length ?? 0);
      const out = new RowBinaryWriter(Math.ceil(rows.length / 2) * perEntry + 1_024);
      eachEntry(rows, (ms, seq, sensorId, ts) => out.int64(ms).int64(seq).string(sensorId).int64(ts));
      const body = out.finish();
      return () => (body.length > 0 ? binary('readings_entries', ENTRY_COLUMNS, body) : undefined);
    };
  }
  return (rows: readonly ReadingRow[]) => {
    let body = '';
    eachEntry(rows, (ms, seq, sensorId, ts) => {
      body += `${ms}\t${seq}\t${escapeTsv(sensorId)}\t${ts}\n`;
    });
    return () => (body ? store.insertTsv('readings_entries', ENTRY_COLUMNS, body) : undefined);
  };
}

/**
 * Runs one batch's look-up-then-insert so that no other writer's runs in between: two writers
 * holding copies of one reading (a redelivery, a republish) would otherwise both find it missing
 * and both insert it, and the rollups would count it twice (ADR 0001). Resolves or rejects as
 * `work` does.
 */
export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>;

/**
 * Per sensor, the newest ts ever sent to the store in an insert (sent, not necessarily stored: an
 * insert can fail after). `raise` lifts each given sensor's mark to at least the given ts and
 * answers the marks as they were before (a sensor without one is absent). The writer keeps them in
 * Redis; losing them only costs lookups.
 */
export interface SentThrough {
  raise(newest: ReadonlyMap<string, number>): Promise<Map<string, number>>;
}

/**
 * The readings that may be stored already: those at or before their sensor's mark, or of a sensor
 * without one. The marks are raised first, before any insert is sent, so a reading after its
 * sensor's old mark was never sent and needs no lookup: in order, that is nearly every reading,
 * and the lookup (~1.5 µs of ClickHouse and ~0.5 µs of writer CPU per message when it covered
 * every reading) is left for retries, repeats and late data. A sensor without a mark is new, or its
 * mark was lost (Redis emptied): its mark is lifted to its newest stored ts, else a later part of a
 * redelivered batch would pass a mark set by an earlier, older part and be stored twice.
 */
async function unsure(store: Store, marks: SentThrough, groups: ReadingGroup[]): Promise<ReadingGroup[]> {
  const newest = new Map<string, number>();
  for (const group of groups) {
    const seen = newest.get(group.sensorId);
    if (seen === undefined || group.ts > seen) newest.set(group.sensorId, group.ts);
  }
  const before = await marks.raise(newest);
  const unmarked = [...newest.keys()].filter((sensorId) => !before.has(sensorId));
  if (unmarked.length > 0) await marks.raise(await newestStored(store, unmarked));
  return groups.filter((group) => {
    const mark = before.get(group.sensorId);
    return mark === undefined || group.ts <= mark;
  });
}

/** The newest stored ts of each of the sensors that has any row (asked in chunks of 1,000 ids). */
async function newestStored(store: Store, sensorIds: readonly string[]): Promise<Map<string, number>> {
  const newest = new Map<string, number>();
  for (let i = 0; i < sensorIds.length; i += 1_000) {
    const rows = await store.query<{ sensor_id: string; newest: number }>(
      sql`SELECT sensor_id, max(ts) AS newest FROM readings_raw
          WHERE sensor_id IN ${inList(sensorIds.slice(i, i + 1_000))} GROUP BY sensor_id`,
    );
    for (const row of rows) newest.set(row.sensor_id, Number(row.newest));
  }
  return newest;
}

/**
 * Stores readings exactly once: a reading (sensor, metric, ts) already stored, or repeated within
 * the batch, is skipped, so a redelivered batch adds no rows and the rollups count it once. The
 * stream entries they came from go to readings_entries (for the WebSocket replay) in the same call:
 * written here rather than by a materialized view, since a view's GROUP BY over every row cost
 * ClickHouse 18.16 ~1.2 µs per reading and only saw the rows inserted, not those a retry skipped.
 */
export function insertReadings(
  store: Store,
  options: { sentThrough?: SentThrough; exclusive?: Exclusive } = {},
) {
  const encode = rawRows(store);
  const encodeEntries = entriesInsert(store);
  const marks = options.sentThrough;
  const exclusive = options.exclusive ?? ((work) => work());
  return async function insertReadings(rows: readonly ReadingRow[]): Promise<InsertReport> {
    checkRows(rows);
    if (rows.length === 0) return { inserted: 0, duplicates: 0 };
    const { groups, distinct } = groupReadings(rows);
    return exclusive(() => lookUpAndInsert(groups, rows, distinct));
  };

  async function lookUpAndInsert(
    groups: ReadingGroup[],
    rows: readonly ReadingRow[],
    distinct: number,
  ): Promise<InsertReport> {
    const lookup = storedRows(store, marks ? await unsure(store, marks, groups) : groups);
    // Encoded while the lookup is in flight, as if nothing were stored (the usual answer).
    let insertRaw = encode(groups);
    const insertEntries = encodeEntries(rows);
    const stored = await lookup;
    const isStored = (row: ReadingRow) => stored.has(rowKey(row.sensorId, row.metric, row.ts));
    const again = stored.size === 0 ? [] : groups.flatMap((group) => group.rows.filter(isStored));
    if (again.length > 0) insertRaw = encode(groups, isStored);
    // Both idempotent, so they run side by side: a failure of either fails the call, and its retry
    // writes what is missing.
    await Promise.all([insertRaw(), insertEntries()]);
    const inserted = distinct - again.length;
    const report: InsertReport = { inserted, duplicates: rows.length - inserted };
    if (again.length === 0) return report;
    // A batch that finds its own readings stored may be the retry of an insert that died between
    // readings_raw and its rollups: make sure the rollups counted them (rollup-repair.ts).
    const repair = await repairRollups(store, again);
    if (repair.repaired > 0) report.rollupRowsRepaired = repair.repaired;
    if (repair.unexplained > 0) report.rollupBucketsUnexplained = repair.unexplained;
    return report;
  }
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

/** The newest stored reading's ts in [from, to), or null when there is none. */
export function newestReading(store: Store) {
  return async function newestReading(filter: ReadingFilter): Promise<number | null> {
    const where = filterClause(checkFilter(filter), 'ts');
    const [row] = await store.query<{ n: number; newest: number }>(
      sql`SELECT count() AS n, max(ts) AS newest FROM readings_raw WHERE ${where}`,
    );
    return Number(row?.n ?? 0) > 0 ? Number(row?.newest) : null;
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
