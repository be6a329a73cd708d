import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { checkRange, planSegments, type Segment, stateSource } from './analytics-plan.ts';

/** Registered sensors by status and kind (latest version of each). */
export interface SensorCounts {
  total: number;
  byStatus: Record<string, number>;
  byKind: Record<string, number>;
}

/** Counts the registry's sensors by status and by kind. */
export function countSensors(store: Store) {
  return async function countSensors(): Promise<SensorCounts> {
    const rows = await store.query<{ status: string; kind: string; n: number }>(sql`
      SELECT status, kind, count() AS n FROM sensors FINAL GROUP BY status, kind`);
    const counts: SensorCounts = { total: 0, byStatus: {}, byKind: {} };
    for (const row of rows) {
      const n = Number(row.n);
      counts.total += n;
      counts.byStatus[row.status] = (counts.byStatus[row.status] ?? 0) + n;
      counts.byKind[row.kind] = (counts.byKind[row.kind] ?? 0) + n;
    }
    return counts;
  };
}

/** Readings and reporting sensors in a range, over every sensor. */
export interface ReadingActivity {
  readings: number;
  sensors: number;
  byMetric: Record<string, { readings: number; sensors: number }>;
  sources: Segment[];
}

/**
 * How many readings arrived in [from, to) and from how many sensors, in total and per metric, over
 * every sensor: the time-ordered hourly rollup for whole hours, minutes and raw rows at the edges.
 */
export function getReadingActivity(store: Store) {
  return async function getReadingActivity(range: { from: number; to: number }): Promise<ReadingActivity> {
    checkRange(range.from, range.to);
    const sources = planSegments(range.from, range.to, 'hour', true);
    const source = stateSource(sources, {}, false);
    const [totals, perMetric] = await Promise.all([
      store.query<{ readings: number; sensors: number }>(sql`
        SELECT countMerge(c) AS readings, uniqExact(sensor_id) AS sensors FROM (${source})`),
      store.query<{ metric: string; readings: number; sensors: number }>(sql`
        SELECT metric, countMerge(c) AS readings, uniqExact(sensor_id) AS sensors FROM (${source})
        GROUP BY metric ORDER BY metric`),
    ]);
    const byMetric: ReadingActivity['byMetric'] = {};
    for (const row of perMetric) {
      byMetric[row.metric] = { readings: Number(row.readings), sensors: Number(row.sensors) };
    }
    return {
      readings: Number(totals[0]?.readings ?? 0),
      sensors: Number(totals[0]?.sensors ?? 0),
      byMetric,
      sources,
    };
  };
}

/**
 * Readings stored in all: rows in readings_raw's active parts, from the parts' metadata (no scan).
 * Exact, since the writer never stores a reading twice (docs/adr/0001).
 */
export function countStoredReadings(store: Store) {
  return async function countStoredReadings(): Promise<number> {
    const [row] = await store.query<{ n: number }>(sql`
      SELECT toUInt64(sum(rows)) AS n FROM system.parts
      WHERE database = ${store.database} AND table = 'readings_raw' AND active`);
    return Number(row?.n ?? 0);
  };
}
