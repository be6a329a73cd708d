import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { insertTyped, type TypedColumns } from '../typed-insert.ts';
import { checkRange, TimeRange } from './analytics-plan.ts';
import { AnalyticsMetric, AnalyticsSensorId } from './analytics-timeseries.ts';
import { type EntryPage, EntryRangeQuery, entryRangePage } from './stream-entries.ts';
import { paramsChecker } from './validate.ts';

const Label = t.String({ minLength: 1, maxLength: 64 });
const Optional = (schema: ReturnType<typeof t.Number>) => t.Union([schema, t.Null()]);

/** One anomaly a model flagged (table `anomalies`, migration 006). */
export const AnomalyRow = t.Object({
  /** Derived by the producer from what identifies the finding, so a re-score replaces, never adds. */
  id: t.String({ minLength: 1, maxLength: 256 }),
  sensorId: AnalyticsSensorId,
  metric: AnalyticsMetric,
  /** The reading the anomaly is about (UTC epoch ms). */
  ts: t.Integer(),
  kind: Label,
  score: t.Number(),
  threshold: t.Number(),
  /** The observed value; null when the anomaly is a missing reading. */
  value: Optional(t.Number()),
  /** What the model expected; null when it does not predict values. */
  expected: Optional(t.Number()),
  windowStart: t.Integer(),
  modelId: Label,
  modelVersion: Label,
  /** The `anomalies` stream entry the row came from ("" when it did not come over the bus). */
  streamId: t.String({ maxLength: 64 }),
  detectedAt: t.Integer(),
});
export type AnomalyRow = Static<typeof AnomalyRow>;

const COLUMNS: TypedColumns = [
  ['id', 'String'],
  ['sensor_id', 'String'],
  ['metric', 'String'],
  ['ts', 'Int64'],
  ['kind', 'String'],
  ['score', 'Float64'],
  ['threshold', 'Float64'],
  ['value', 'Float64'],
  ['expected', 'Float64'],
  ['window_start', 'Int64'],
  ['model_id', 'String'],
  ['model_version', 'String'],
  ['stream_id', 'String'],
  ['detected_at', 'Int64'],
  ['version', 'UInt64'],
];

const checkAnomalies = paramsChecker('insertAnomalies', t.Array(AnomalyRow));

/**
 * Stores anomalies; the same id stored again (a redelivery, a re-score) replaces the row (the one
 * detected last wins at merge) and is counted once by countAnomalies before any merge.
 */
export function insertAnomalies(store: Store) {
  return async function insertAnomalies(rows: readonly AnomalyRow[]): Promise<void> {
    checkAnomalies(rows);
    await insertTyped(
      store,
      'anomalies',
      COLUMNS,
      rows.map((row) => [
        row.id,
        row.sensorId,
        row.metric,
        row.ts,
        row.kind,
        row.score,
        row.threshold,
        row.value ?? Number.NaN,
        row.expected ?? Number.NaN,
        row.windowStart,
        row.modelId,
        row.modelVersion,
        row.streamId,
        row.detectedAt,
        row.detectedAt,
      ]),
    );
  };
}

/** countAnomalies: anomalies whose reading time is in [from, to), optionally filtered. */
export const AnomalyCountParams = t.Object({
  ...TimeRange,
  sensorIds: t.Optional(t.Array(AnalyticsSensorId, { minItems: 1, maxItems: 1_000 })),
  metrics: t.Optional(t.Array(AnalyticsMetric, { minItems: 1, maxItems: 100 })),
  kinds: t.Optional(t.Array(Label, { minItems: 1, maxItems: 20 })),
});
export type AnomalyCountParams = Static<typeof AnomalyCountParams>;

/** Distinct anomalies in total, by kind and by sensor. */
export interface AnomalyCounts {
  total: number;
  byKind: Record<string, number>;
  bySensor: Record<string, number>;
}

const checkCount = paramsChecker('countAnomalies', AnomalyCountParams);

/** Counts distinct anomaly ids (exact before merges collapse re-scores), in total, by kind and by sensor. */
export function countAnomalies(store: Store) {
  return async function countAnomalies(params: AnomalyCountParams): Promise<AnomalyCounts> {
    const { from, to, sensorIds, metrics, kinds } = checkCount(params);
    checkRange(from, to);
    const where = join(
      [
        sql`ts >= ${from}`,
        sql`ts < ${to}`,
        ...(sensorIds ? [sql`sensor_id IN ${inList(sensorIds)}`] : []),
        ...(metrics ? [sql`metric IN ${inList(metrics)}`] : []),
        ...(kinds ? [sql`kind IN ${inList(kinds)}`] : []),
      ],
      ' AND ',
    );
    // A re-scored finding keeps its id and sensor; argMax picks the kind of its latest version.
    const rows = await store.query<{ sensor: string; kind: string; n: number }>(sql`
      SELECT sensor, latest_kind AS kind, count() AS n FROM (
        SELECT id, any(sensor_id) AS sensor, argMax(kind, version) AS latest_kind
        FROM anomalies WHERE ${where} GROUP BY id)
      GROUP BY sensor, latest_kind`);
    const counts: AnomalyCounts = { total: 0, byKind: {}, bySensor: {} };
    for (const row of rows) {
      const n = Number(row.n);
      counts.total += n;
      counts.byKind[row.kind] = (counts.byKind[row.kind] ?? 0) + n;
      counts.bySensor[row.sensor] = (counts.bySensor[row.sensor] ?? 0) + n;
    }
    return counts;
  };
}

interface AnomalyRecord {
  id: string;
  sensor_id: string;
  metric: string;
  ts: number;
  kind: string;
  score: number;
  threshold: number;
  value: number | null;
  expected: number | null;
  window_start: number;
  model_id: string;
  model_version: string;
  stream_id: string;
  detected_at: number;
}

const SELECT = sql`id, sensor_id, metric, ts, kind, score, threshold, value, expected, window_start,
  model_id, model_version, stream_id, detected_at`;

// A missing value is stored as NaN, which both engines' JSON output spells null.
const finiteOrNull = (value: number | null) => (value === null || Number.isNaN(value) ? null : Number(value));

const toRow = (r: AnomalyRecord): AnomalyRow => ({
  id: r.id,
  sensorId: r.sensor_id,
  metric: r.metric,
  ts: Number(r.ts),
  kind: r.kind,
  score: Number(r.score),
  threshold: Number(r.threshold),
  value: finiteOrNull(r.value),
  expected: finiteOrNull(r.expected),
  windowStart: Number(r.window_start),
  modelId: r.model_id,
  modelVersion: r.model_version,
  streamId: r.stream_id,
  detectedAt: Number(r.detected_at),
});

const checkEntries = paramsChecker('anomalyEntries', EntryRangeQuery);

/**
 * Stored anomalies whose `anomalies` stream entries lie strictly between the bounds, one per entry
 * in entry order (the WebSocket replay of entries the stream trimmed; migration 010). A row stored
 * without an entry id (`streamId` "") is never found.
 */
export function anomalyEntries(store: Store) {
  return async function anomalyEntries(query: EntryRangeQuery): Promise<EntryPage<AnomalyRow>> {
    return entryRangePage(
      store,
      { entries: 'anomalies_entries', table: 'anomalies', columns: SELECT, read: toRow },
      checkEntries(query),
    );
  };
}
