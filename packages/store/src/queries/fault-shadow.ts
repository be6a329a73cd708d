import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { insertTyped, type TypedColumns } from '../typed-insert.ts';
import { paramsChecker } from './validate.ts';

const Label = t.String({ maxLength: 64 });
const SensorId = t.String({ minLength: 1, maxLength: 128 });

/**
 * Both fault models' verdicts on a sensor-metric-hour that one of them flagged during a shadow run
 * (table `fault_shadow_verdicts`, migration 012). A kind of '' means that model did not flag.
 */
export const FaultShadowRow = t.Object({
  /** Derived by the producer from shadow version, sensor, metric and hour: a re-score replaces. */
  id: t.String({ minLength: 1, maxLength: 256 }),
  sensorId: SensorId,
  metric: t.String({ minLength: 1, maxLength: 64 }),
  /** The scored hour (UTC epoch ms). */
  ts: t.Integer({ minimum: 0 }),
  shadowVersion: t.String({ minLength: 1, maxLength: 64 }),
  shadowKind: Label,
  /** 1 − p(none), whether it flagged or not. */
  shadowScore: t.Number(),
  /** '' when no fault model was active. */
  activeVersion: Label,
  activeKind: Label,
  /** null when no fault model was active. */
  activeScore: t.Union([t.Number(), t.Null()]),
  /** The hour's observed mean; null when it had no reading. */
  value: t.Union([t.Number(), t.Null()]),
  /** The network reference (median of the other sensors); null when too few reported. */
  expected: t.Union([t.Number(), t.Null()]),
  streamId: t.String({ maxLength: 64 }),
  detectedAt: t.Integer({ minimum: 0 }),
});
export type FaultShadowRow = Static<typeof FaultShadowRow>;

const COLUMNS: TypedColumns = [
  ['id', 'String'],
  ['sensor_id', 'String'],
  ['metric', 'String'],
  ['ts', 'Int64'],
  ['shadow_version', 'String'],
  ['shadow_kind', 'String'],
  ['shadow_score', 'Float64'],
  ['active_version', 'String'],
  ['active_kind', 'String'],
  ['active_score', 'Float64'],
  ['value', 'Float64'],
  ['expected', 'Float64'],
  ['stream_id', 'String'],
  ['detected_at', 'Int64'],
];
const checkRows = paramsChecker('insertFaultShadowVerdicts', t.Array(FaultShadowRow));

/** Stores fault-shadow verdicts; the same id again (a redelivery, a re-score) replaces the row. */
export function insertFaultShadowVerdicts(store: Store) {
  return async function insertFaultShadowVerdicts(rows: readonly FaultShadowRow[]): Promise<void> {
    checkRows(rows);
    await insertTyped(
      store,
      'fault_shadow_verdicts',
      COLUMNS,
      rows.map((r) => [
        r.id,
        r.sensorId,
        r.metric,
        r.ts,
        r.shadowVersion,
        r.shadowKind,
        r.shadowScore,
        r.activeVersion,
        r.activeKind,
        r.activeScore ?? Number.NaN,
        r.value ?? Number.NaN,
        r.expected ?? Number.NaN,
        r.streamId,
        r.detectedAt,
      ]),
    );
  };
}

export const FaultShadowParams = t.Object({
  shadowVersions: t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100 }),
  /** Scored hours in [from, to) (epoch ms). */
  from: t.Integer({ minimum: 0 }),
  to: t.Integer({ minimum: 0 }),
  limit: t.Integer({ minimum: 1, maximum: 1_000_000 }),
});
export type FaultShadowParams = Static<typeof FaultShadowParams>;
const checkParams = paramsChecker('faultShadowVerdicts', FaultShadowParams);

/** NaN comes back as JSON null (or "nan" where denormals are quoted). */
const finiteOrNull = (value: unknown) => {
  if (value === null) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
};

/**
 * The shadow runs' verdicts of the given shadow versions over [from, to), one row per id (the last
 * detected: exact before merges), oldest hour first, at most `limit`.
 */
export function faultShadowVerdicts(store: Store) {
  return async function faultShadowVerdicts(params: FaultShadowParams): Promise<FaultShadowRow[]> {
    const { shadowVersions, from, to, limit } = checkParams(params);
    const where = join(
      [sql`shadow_version IN ${inList(shadowVersions)}`, sql`ts >= ${from}`, sql`ts < ${to}`],
      ' AND ',
    );
    // Aggregates get names of their own: 18.16 would read an alias named like a column into WHERE.
    const rows = await store.query<Record<string, string | number>>(sql`
      SELECT id, any(sensor_id) AS the_sensor, any(metric) AS the_metric, any(ts) AS hour,
             any(shadow_version) AS the_shadow, argMax(shadow_kind, detected_at) AS last_shadow_kind,
             argMax(shadow_score, detected_at) AS last_shadow_score,
             argMax(active_version, detected_at) AS last_active_version,
             argMax(active_kind, detected_at) AS last_active_kind,
             argMax(active_score, detected_at) AS last_active_score,
             argMax(value, detected_at) AS last_value, argMax(expected, detected_at) AS last_expected,
             argMax(stream_id, detected_at) AS last_stream_id, max(detected_at) AS last_detected
      FROM fault_shadow_verdicts WHERE ${where}
      GROUP BY id ORDER BY hour, id LIMIT ${limit}`);
    return rows.map(
      (r): FaultShadowRow => ({
        id: String(r.id),
        sensorId: String(r.the_sensor),
        metric: String(r.the_metric),
        ts: Number(r.hour),
        shadowVersion: String(r.the_shadow),
        shadowKind: String(r.last_shadow_kind),
        shadowScore: Number(r.last_shadow_score),
        activeVersion: String(r.last_active_version),
        activeKind: String(r.last_active_kind),
        activeScore: finiteOrNull(r.last_active_score),
        value: finiteOrNull(r.last_value),
        expected: finiteOrNull(r.last_expected),
        streamId: String(r.last_stream_id),
        detectedAt: Number(r.last_detected),
      }),
    );
  };
}
