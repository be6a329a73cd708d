import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, sql, tuple } from '../sql.ts';
import type { Store } from '../store.ts';
import { insertTyped, type TypedColumns } from '../typed-insert.ts';
import { type EntryPage, EntryRangeQuery, entryRangePage } from './stream-entries.ts';
import { paramsChecker } from './validate.ts';

export type { EntryPage, EntryRangeQuery } from './stream-entries.ts';

const SensorId = t.String({ minLength: 1, maxLength: 128 });
const Label = t.String({ minLength: 1, maxLength: 64 });

/** One stored forecast of a metric from origin `ts` (table `predictions`, migration 009). */
export const PredictionRow = t.Object({
  /** Derived by the producer (model, version, sensor, metric, origin): a re-score replaces, never adds. */
  id: t.String({ minLength: 1, maxLength: 256 }),
  sensorId: SensorId,
  metric: Label,
  /** The origin hour (UTC epoch ms); horizons count from it. */
  ts: t.Integer({ minimum: 0 }),
  /** Minutes after `ts`, aligned with p10/p50/p90. */
  horizons: t.Array(t.Integer({ minimum: 1 }), { minItems: 1, maxItems: 10_080 }),
  p10: t.Array(t.Number()),
  p50: t.Array(t.Number()),
  p90: t.Array(t.Number()),
  model: Label,
  modelVersion: Label,
  role: t.Union([t.Literal('active'), t.Literal('shadow')]),
  streamId: t.String({ maxLength: 64 }),
  createdAt: t.Integer({ minimum: 0 }),
});
export type PredictionRow = Static<typeof PredictionRow>;

const COLUMNS: TypedColumns = [
  ['id', 'String'],
  ['sensor_id', 'String'],
  ['metric', 'String'],
  ['ts', 'Int64'],
  ['horizons', 'Array(Int32)'],
  ['p10', 'Array(Float64)'],
  ['p50', 'Array(Float64)'],
  ['p90', 'Array(Float64)'],
  ['model', 'String'],
  ['model_version', 'String'],
  ['role', 'String'],
  ['stream_id', 'String'],
  ['created_at', 'Int64'],
  ['version', 'UInt64'],
];

const checkRows = paramsChecker('insertPredictions', t.Array(PredictionRow));

/** Stores forecasts; the same id again (a redelivery, a re-score) replaces the row at merge. */
export function insertPredictions(store: Store) {
  return async function insertPredictions(rows: readonly PredictionRow[]): Promise<void> {
    checkRows(rows);
    for (const row of rows) {
      const n = row.horizons.length;
      if (row.p10.length !== n || row.p50.length !== n || row.p90.length !== n) {
        throw new Error(`prediction ${row.id}: quantile arrays must match its ${n} horizons`);
      }
    }
    await insertTyped(
      store,
      'predictions',
      COLUMNS,
      rows.map((row) => [
        row.id,
        row.sensorId,
        row.metric,
        row.ts,
        row.horizons,
        row.p10,
        row.p50,
        row.p90,
        row.model,
        row.modelVersion,
        row.role,
        row.streamId,
        row.createdAt,
        row.createdAt,
      ]),
    );
  };
}

interface PredictionRecord {
  id: string;
  sensor_id: string;
  metric: string;
  ts: number;
  horizons: number[];
  p10: number[];
  p50: number[];
  p90: number[];
  model: string;
  model_version: string;
  role: 'active' | 'shadow';
  stream_id: string;
  created_at: number;
}

const SELECT = sql`id, sensor_id, metric, ts, horizons, p10, p50, p90, model, model_version, role,
  stream_id, created_at`;

const toRow = (r: PredictionRecord): PredictionRow => ({
  id: r.id,
  sensorId: r.sensor_id,
  metric: r.metric,
  ts: Number(r.ts),
  horizons: r.horizons.map(Number),
  p10: r.p10.map(Number),
  p50: r.p50.map(Number),
  p90: r.p90.map(Number),
  model: r.model,
  modelVersion: r.model_version,
  role: r.role,
  streamId: r.stream_id,
  createdAt: Number(r.created_at),
});

/** Keeps the newest version of each id (rows of one id differ only by when they were written). */
function newestPerId(rows: PredictionRow[]): PredictionRow[] {
  const byId = new Map<string, PredictionRow>();
  for (const row of rows) {
    const seen = byId.get(row.id);
    if (!seen || row.createdAt > seen.createdAt) byId.set(row.id, row);
  }
  return [...byId.values()];
}

export const LatestPredictionsParams = t.Object({
  /** Only forecasts from origins at or after this (epoch ms). */
  since: t.Integer({ minimum: 0 }),
  role: t.Optional(t.Union([t.Literal('active'), t.Literal('shadow')])),
  sensorIds: t.Optional(t.Array(SensorId, { minItems: 1, maxItems: 10_000 })),
});
export type LatestPredictionsParams = Static<typeof LatestPredictionsParams>;
const checkLatest = paramsChecker('latestPredictions', LatestPredictionsParams);

/** The newest forecast per sensor and metric (origin ≥ since) of the given role (default active). */
export function latestPredictions(store: Store) {
  return async function latestPredictions(params: LatestPredictionsParams): Promise<PredictionRow[]> {
    const { since, role = 'active', sensorIds } = checkLatest(params);
    const where = join(
      [
        sql`role = ${role}`,
        sql`ts >= ${since}`,
        ...(sensorIds ? [sql`sensor_id IN ${inList(sensorIds)}`] : []),
      ],
      ' AND ',
    );
    // "origin", not "ts": 18.16 would read an alias named like the column into the WHERE.
    const heads = await store.query<{ sensor_id: string; metric: string; origin: number }>(sql`
      SELECT sensor_id, metric, max(ts) AS origin FROM predictions WHERE ${where} GROUP BY sensor_id, metric`);
    if (heads.length === 0) return [];
    const keys = heads.map((h) => tuple([h.sensor_id, h.metric, Number(h.origin)]));
    const rows = await store.query<PredictionRecord>(sql`
      SELECT ${SELECT} FROM predictions
      WHERE role = ${role} AND (sensor_id, metric, ts) IN (${join(keys, ', ')})`);
    // Two model versions may share an origin (an activation mid-hour): the newest written wins.
    const best = new Map<string, PredictionRow>();
    for (const row of newestPerId(rows.map(toRow))) {
      const key = `${row.sensorId}\u0000${row.metric}`;
      const seen = best.get(key);
      if (!seen || row.createdAt > seen.createdAt) best.set(key, row);
    }
    return [...best.values()].sort(
      (a, b) => a.sensorId.localeCompare(b.sensorId) || a.metric.localeCompare(b.metric),
    );
  };
}

export const PredictionHistoryParams = t.Object({
  sensorId: SensorId,
  from: t.Integer({ minimum: 0 }),
  to: t.Integer({ minimum: 0 }),
  metric: t.Optional(Label),
  role: t.Optional(t.Union([t.Literal('active'), t.Literal('shadow')])),
  modelVersion: t.Optional(Label),
  limit: t.Integer({ minimum: 1, maximum: 10_000 }),
});
export type PredictionHistoryParams = Static<typeof PredictionHistoryParams>;
const checkHistory = paramsChecker('predictionHistory', PredictionHistoryParams);

/** A sensor's forecasts with origins in [from, to), oldest first, at most `limit`. */
export function predictionHistory(store: Store) {
  return async function predictionHistory(params: PredictionHistoryParams): Promise<PredictionRow[]> {
    const { sensorId, from, to, metric, role, modelVersion, limit } = checkHistory(params);
    const where = join(
      [
        sql`sensor_id = ${sensorId}`,
        sql`ts >= ${from}`,
        sql`ts < ${to}`,
        ...(metric ? [sql`metric = ${metric}`] : []),
        ...(role ? [sql`role = ${role}`] : []),
        ...(modelVersion ? [sql`model_version = ${modelVersion}`] : []),
      ],
      ' AND ',
    );
    // Over-fetch a little: duplicates of one id collapse below, before the limit is applied.
    const rows = await store.query<PredictionRecord>(sql`
      SELECT ${SELECT} FROM predictions WHERE ${where} ORDER BY ts, metric, id LIMIT ${limit * 2}`);
    return newestPerId(rows.map(toRow))
      .sort((a, b) => a.ts - b.ts || a.metric.localeCompare(b.metric) || a.id.localeCompare(b.id))
      .slice(0, limit);
  };
}

/** Forecasts of the given model versions with origins in [from, to): the live comparison's input. */
export function predictionsOfVersions(store: Store) {
  return async function predictionsOfVersions(params: {
    versions: readonly string[];
    from: number;
    to: number;
    limit: number;
  }): Promise<PredictionRow[]> {
    const rows = await store.query<PredictionRecord>(sql`
      SELECT ${SELECT} FROM predictions
      WHERE model_version IN ${inList(params.versions)} AND ts >= ${params.from} AND ts < ${params.to}
      ORDER BY ts LIMIT ${params.limit}`);
    return newestPerId(rows.map(toRow));
  };
}

const checkEntries = paramsChecker('predictionEntries', EntryRangeQuery);

/**
 * Stored forecasts whose `predictions` stream entries lie strictly between the bounds, one per
 * entry in entry order (the WebSocket replay of entries the stream trimmed; migration 010). A row
 * stored without an entry id (`streamId` "") is never found.
 */
export function predictionEntries(store: Store) {
  return async function predictionEntries(query: EntryRangeQuery): Promise<EntryPage<PredictionRow>> {
    return entryRangePage(
      store,
      { entries: 'predictions_entries', table: 'predictions', columns: SELECT, read: toRow },
      checkEntries(query),
    );
  };
}
