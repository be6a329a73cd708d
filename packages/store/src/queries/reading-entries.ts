import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { EntryBounds, entriesBetween, entryKey } from './stream-entries.ts';
import { paramsChecker } from './validate.ts';

/** Which stored readings to replay: entries strictly between `after` and `before`, in stream order. */
export const ReadingEntriesQuery = t.Object({
  ...EntryBounds,
  /** Only these sensors (the filter of the client being replayed); all when absent. */
  sensorIds: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 500 })),
  /** Entries per page; 500 keeps the row lookup's IN lists well under max_query_size. */
  limit: t.Integer({ minimum: 1, maximum: 500 }),
});
export type ReadingEntriesQuery = Static<typeof ReadingEntriesQuery>;

/** One stored reading regrouped from its rows, with the stream entry it came from. */
export interface StoredReading {
  entryMs: number;
  entrySeq: number;
  sensorId: string;
  ts: number;
  metrics: Record<string, number>;
  receivedAt: number;
  source: string;
}

/** A page of replayed readings: where it ended, and whether entries may follow in the range. */
export interface ReadingEntriesPage {
  readings: StoredReading[];
  /** The page's last entry id (continue after it); null when the page was empty. */
  last: { ms: number; seq: number } | null;
  /** True when the page was full, so more entries may follow before `before`. */
  more: boolean;
}

interface EntryRow {
  entry_ms: number;
  entry_seq: number;
  sensor_id: string;
  ts: number;
}

interface ValueRow extends EntryRow {
  metric: string;
  value: number;
  received_at: number;
  source: string;
}

const checkQuery = paramsChecker('readingEntries', ReadingEntriesQuery);

/**
 * Stored readings whose stream entries lie strictly between `after` and `before`, one per entry in
 * entry order, a page of at most `limit` entries. Two bounded reads:
 * the page of entry ids from `readings_entries` (ordered by entry id), then their rows from
 * `readings_raw` by its own key (sensor_id, ts). A reading stored before migration 008 has no entry
 * id and is not found; a repeated reading (same sensor, metric and ts) was stored once, under the
 * first entry that carried it.
 */
export function readingEntries(store: Store) {
  return async function readingEntries(query: ReadingEntriesQuery): Promise<ReadingEntriesPage> {
    const q = checkQuery(query);
    const conditions = [entriesBetween(q)];
    if (q.sensorIds) conditions.push(sql`sensor_id IN ${inList(q.sensorIds)}`);
    const found = await store.query<EntryRow>(sql`
      SELECT entry_ms, entry_seq, sensor_id, ts FROM readings_entries
      WHERE ${join(conditions, ' AND ')}
      ORDER BY entry_ms, entry_seq
      LIMIT ${q.limit}`);
    // ReplacingMergeTree may still hold a redelivered entry twice before it merges.
    const entries = new Map<string, EntryRow>();
    for (const row of found) entries.set(entryKey(row.entry_ms, row.entry_seq), row);
    if (entries.size === 0) return { readings: [], last: null, more: false };
    const page = [...entries.values()];
    const first = page[0] as EntryRow;
    const last = page[page.length - 1] as EntryRow;
    const sensors = new Set(page.map((row) => row.sensor_id));
    const times = new Set(page.map((row) => row.ts));
    const rows = await store.query<ValueRow>(sql`
      SELECT entry_ms, entry_seq, sensor_id, ts, metric, value, received_at, source FROM readings_raw
      WHERE sensor_id IN ${inList([...sensors])}
        AND ts >= ${Math.min(...times)} AND ts <= ${Math.max(...times)}
        AND ts IN ${inList([...times])}
        AND entry_ms >= ${first.entry_ms} AND entry_ms <= ${last.entry_ms}`);
    const readings = new Map<string, StoredReading>();
    for (const row of rows) {
      const key = entryKey(row.entry_ms, row.entry_seq);
      if (!entries.has(key)) continue;
      let reading = readings.get(key);
      if (!reading) {
        reading = {
          entryMs: row.entry_ms,
          entrySeq: row.entry_seq,
          sensorId: row.sensor_id,
          ts: row.ts,
          metrics: {},
          receivedAt: row.received_at,
          source: row.source,
        };
        readings.set(key, reading);
      }
      reading.metrics[row.metric] ??= row.value;
    }
    const ordered: StoredReading[] = [];
    for (const key of entries.keys()) {
      const reading = readings.get(key);
      if (reading) ordered.push(reading);
    }
    return {
      readings: ordered,
      last: { ms: last.entry_ms, seq: last.entry_seq },
      more: found.length >= q.limit,
    };
  };
}
