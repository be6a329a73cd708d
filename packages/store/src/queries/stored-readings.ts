import { quoteString, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import type { ReadingRow } from './readings.ts';

/** A batch's rows of one reading (sensor, ts), at most one per metric. */
export interface ReadingGroup {
  sensorId: string;
  ts: number;
  rows: ReadingRow[];
}

/**
 * Groups rows by reading, in first-seen order; a metric repeated within a reading keeps its first
 * row. Rows of one reading usually arrive together, so the maps are asked once per reading: by
 * sensor, then by ts (a number key, no "ts|sensor" string built and hashed per reading).
 */
export function groupReadings(rows: readonly ReadingRow[]): { groups: ReadingGroup[]; distinct: number } {
  const bySensor = new Map<string, Map<number, ReadingGroup>>();
  const groups: ReadingGroup[] = [];
  let distinct = 0;
  let last: ReadingGroup | undefined;
  let lastSensor: Map<number, ReadingGroup> | undefined;
  for (const row of rows) {
    let group = last;
    if (!group || group.ts !== row.ts || group.sensorId !== row.sensorId) {
      let byTs = group && group.sensorId === row.sensorId ? lastSensor : bySensor.get(row.sensorId);
      if (!byTs) {
        byTs = new Map();
        bySensor.set(row.sensorId, byTs);
      }
      lastSensor = byTs;
      group = byTs.get(row.ts);
      if (!group) {
        group = { sensorId: row.sensorId, ts: row.ts, rows: [] };
        byTs.set(row.ts, group);
        groups.push(group);
      }
      last = group;
    }
    const kept = group.rows;
    let repeated = false;
    for (let i = 0; i < kept.length; i++) {
      if ((kept[i] as ReadingRow).metric === row.metric) {
        repeated = true;
        break;
      }
    }
    if (repeated) continue;
    kept.push(row);
    distinct++;
  }
  return { groups, distinct };
}

// One lookup statement carries at most this much key text. The backends raise max_query_size to
// 4 MiB (ClickHouse's default, 256 KiB, would hold only ~12,000 keys, less than a writer batch).
const LOOKUP_BUDGET_BYTES = 2_000_000;
const NEEDS_ESCAPE = /[\\'\n\r\t\0\b\f]/;

/** Bytes a reading's key adds to a statement: the quoted id, its ts offset, "|" and ", ". */
const keyBytes = (sensorId: string) =>
  (NEEDS_ESCAPE.test(sensorId) ? quoteString(sensorId).length : sensorId.length + 2) + 18;

interface Lookup {
  readings: ReadingGroup[];
  minTs: number;
  maxTs: number;
}

function span(readings: ReadingGroup[]): Lookup {
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  for (const reading of readings) {
    if (reading.ts < minTs) minTs = reading.ts;
    if (reading.ts > maxTs) maxTs = reading.ts;
  }
  return { readings, minTs, maxTs };
}

/** Usually one lookup; a batch whose keys pass the budget is cut in time order, keeping ranges narrow. */
function lookups(groups: ReadingGroup[]): Lookup[] {
  let bytes = 0;
  for (const group of groups) bytes += keyBytes(group.sensorId);
  if (bytes <= LOOKUP_BUDGET_BYTES) return [span(groups)];
  const out: Lookup[] = [];
  let part: ReadingGroup[] = [];
  bytes = 0;
  for (const group of [...groups].sort((a, b) => a.ts - b.ts)) {
    const size = keyBytes(group.sensorId);
    if (bytes + size > LOOKUP_BUDGET_BYTES && part.length > 0) {
      out.push(span(part));
      part = [];
      bytes = 0;
    }
    part.push(group);
    bytes += size;
  }
  out.push(span(part));
  return out;
}

/** A stored row's identity, as `storedRows` reports it. */
export const rowKey = (sensorId: string, metric: string, ts: number) => `${ts}|${metric}|${sensorId}`;

/**
 * Which rows of these readings are stored, as rowKey strings (usually none). The filter is exact
 * per reading: "<ts - minTs>|<sensor id>" in the batch's key set, with the ts range as PREWHERE so
 * only rows in the batch's time span are hashed. The reading's metrics are then matched by the
 * caller. (A filter built from separate sensor, metric and ts sets is cheaper to parse but, when
 * sensors share timestamps, returns every stored reading of any listed sensor at any listed time:
 * 3.6 rows per reading of a writer batch in the ingest bench, and most of the writer's CPU.)
 */
export async function storedRows(store: Store, groups: ReadingGroup[]): Promise<Set<string>> {
  if (groups.length === 0) return new Set();
  const found = await Promise.all(
    lookups(groups).map(({ readings, minTs, maxTs }) =>
      store.query<{ sensor_id: string; metric: string; ts: number }>(sql`
        SELECT sensor_id, metric, ts FROM readings_raw
        PREWHERE ts >= ${minTs} AND ts <= ${maxTs}
        WHERE concat(toString(ts - (${minTs})), '|', sensor_id)
          IN (SELECT arrayJoin(${readings.map((reading) => `${reading.ts - minTs}|${reading.sensorId}`)}))`),
    ),
  );
  const stored = new Set<string>();
  for (const rows of found) for (const row of rows) stored.add(rowKey(row.sensor_id, row.metric, row.ts));
  return stored;
}
