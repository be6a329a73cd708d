import { type Static, Type as t } from '@sinclair/typebox';
import { ident, inList, join, type Sql, sql } from '../sql.ts';
import type { Store } from '../store.ts';

const EntryPart = t.Integer({ minimum: 0 });

/** The bounds of a replay: entries strictly after (afterMs, afterSeq) and before (beforeMs, beforeSeq). */
export const EntryBounds = {
  afterMs: EntryPart,
  afterSeq: EntryPart,
  beforeMs: EntryPart,
  beforeSeq: EntryPart,
};

/** Which stored predictions or anomalies to replay: entries strictly between the bounds, in stream order. */
export const EntryRangeQuery = t.Object({
  ...EntryBounds,
  /** Only these sensors (the filter of the client being replayed); all when absent. */
  sensorIds: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 500 })),
  /** Only these metrics; all when absent. */
  metrics: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 64 })),
  /** Entries per page; 500 keeps the row lookup's IN lists well under max_query_size. */
  limit: t.Integer({ minimum: 1, maximum: 500 }),
});
export type EntryRangeQuery = Static<typeof EntryRangeQuery>;

/** A page of replayed rows (each names its entry in `streamId`), in stream order. */
export interface EntryPage<R> {
  rows: R[];
  /** The page's last entry id (continue after it); null when the page was empty. */
  last: { ms: number; seq: number } | null;
  /** True when the page was full, so more entries may follow before `before`. */
  more: boolean;
}

/** The bounds as numbers. */
export interface EntryBoundsValue {
  afterMs: number;
  afterSeq: number;
  beforeMs: number;
  beforeSeq: number;
}

/** A stream entry id as ClickHouse and Redis spell it. */
export const entryKey = (ms: number, seq: number) => `${ms}-${seq}`;

/**
 * `(entry_ms, entry_seq)` strictly between the bounds: ids compare as two integers, never as text
 * ("…-9" < "…-10"), in a form 18.16's primary-key analysis narrows by entry_ms.
 */
export function entriesBetween(q: EntryBoundsValue): Sql {
  return sql`entry_ms >= ${q.afterMs} AND (entry_ms > ${q.afterMs} OR entry_seq > ${q.afterSeq})
    AND entry_ms <= ${q.beforeMs} AND (entry_ms < ${q.beforeMs} OR entry_seq < ${q.beforeSeq})`;
}

interface EntryRow {
  entry_ms: number;
  entry_seq: number;
  sensor_id: string;
  metric: string;
  ts: number;
}

/** Where a channel's rows and their entry index live, and how a stored record reads as a row. */
export interface EntryTables<Rec extends { stream_id: string }, R> {
  /** One row per entry, ordered by (entry_ms, entry_seq) (migration 010). */
  entries: string;
  /** The rows, ordered by (sensor_id, metric, ts, …), with `stream_id`. */
  table: string;
  columns: Sql;
  read(record: Rec): R;
}

/**
 * One page of rows whose entries lie within the query's bounds, in entry order, each entry once.
 * Two bounded reads: the page of entries from the entry index (a primary-key range), then their
 * rows from the table by its own key and `stream_id`. ReplacingMergeTree may hold an entry's row
 * twice before it merges (a redelivery stored again): the first is kept. An entry whose row a
 * later version replaced at merge (the same id published again under a newer entry) is skipped.
 */
export async function entryRangePage<Rec extends { stream_id: string }, R>(
  store: Store,
  tables: EntryTables<Rec, R>,
  q: EntryRangeQuery,
): Promise<EntryPage<R>> {
  const conditions = [entriesBetween(q)];
  if (q.sensorIds) conditions.push(sql`sensor_id IN ${inList(q.sensorIds)}`);
  if (q.metrics) conditions.push(sql`metric IN ${inList(q.metrics)}`);
  const found = await store.query<EntryRow>(sql`
    SELECT entry_ms, entry_seq, sensor_id, metric, ts FROM ${ident(tables.entries)}
    WHERE ${join(conditions, ' AND ')}
    ORDER BY entry_ms, entry_seq
    LIMIT ${q.limit}`);
  const entries = new Map<string, EntryRow>();
  for (const row of found) entries.set(entryKey(Number(row.entry_ms), Number(row.entry_seq)), row);
  if (entries.size === 0) return { rows: [], last: null, more: false };
  const page = [...entries.values()];
  const last = page[page.length - 1] as EntryRow;
  const times = page.map((row) => Number(row.ts));
  const records = await store.query<Rec>(sql`
    SELECT ${tables.columns} FROM ${ident(tables.table)}
    WHERE sensor_id IN ${inList([...new Set(page.map((row) => row.sensor_id))])}
      AND metric IN ${inList([...new Set(page.map((row) => row.metric))])}
      AND ts >= ${Math.min(...times)} AND ts <= ${Math.max(...times)}
      AND ts IN ${inList([...new Set(times)])}
      AND stream_id IN ${inList([...entries.keys()])}`);
  const byEntry = new Map<string, Rec>();
  for (const record of records) if (!byEntry.has(record.stream_id)) byEntry.set(record.stream_id, record);
  const rows: R[] = [];
  for (const key of entries.keys()) {
    const record = byEntry.get(key);
    if (record) rows.push(tables.read(record));
  }
  return {
    rows,
    last: { ms: Number(last.entry_ms), seq: Number(last.entry_seq) },
    more: found.length >= q.limit,
  };
}
