import { type Static, Type as t } from '@sinclair/typebox';
import { join, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { paramsChecker } from './validate.ts';

/** Someone's verdict on a prediction or an anomaly (table `feedback`, migration 009). */
export const FeedbackRow = t.Object({
  id: t.String({ minLength: 1, maxLength: 128 }),
  target: t.Union([t.Literal('prediction'), t.Literal('anomaly')]),
  targetId: t.String({ minLength: 1, maxLength: 256 }),
  sensorId: t.String({ minLength: 1, maxLength: 128 }),
  metric: t.String({ minLength: 1, maxLength: 64 }),
  ts: t.Integer({ minimum: 0 }),
  verdict: t.Union([t.Literal('right'), t.Literal('wrong')]),
  /** For an anomaly: the fault kind it really was ('' when not corrected; 'none' = not a fault). */
  kind: t.String({ maxLength: 32 }),
  note: t.String({ maxLength: 1_000 }),
  userId: t.String({ minLength: 1, maxLength: 128 }),
  createdAt: t.Integer({ minimum: 0 }),
});
export type FeedbackRow = Static<typeof FeedbackRow>;

const COLUMNS = [
  'id',
  'target',
  'target_id',
  'sensor_id',
  'metric',
  'ts',
  'verdict',
  'kind',
  'note',
  'user_id',
  'created_at',
] as const;
const check = paramsChecker('insertFeedback', t.Array(FeedbackRow));

/** Stores feedback; one person's newer verdict on the same target replaces their older one. */
export function insertFeedback(store: Store) {
  return async function insertFeedback(rows: readonly FeedbackRow[]): Promise<void> {
    check(rows);
    await store.insert(
      'feedback',
      COLUMNS,
      rows.map((r) => [
        r.id,
        r.target,
        r.targetId,
        r.sensorId,
        r.metric,
        r.ts,
        r.verdict,
        r.kind,
        r.note,
        r.userId,
        r.createdAt,
      ]),
    );
  };
}

/** Every target's newest verdict per person, optionally for one target kind and from a time. */
export function listFeedback(store: Store) {
  return async function listFeedback(params: { target?: 'prediction' | 'anomaly'; since?: number }) {
    const where = join(
      [
        sql`1 = 1`,
        ...(params.target ? [sql`target = ${params.target}`] : []),
        ...(params.since !== undefined ? [sql`ts >= ${params.since}`] : []),
      ],
      ' AND ',
    );
    // Aggregates get names of their own: 18.16 would read an alias named like a column into WHERE.
    const rows = await store.query<Record<string, string | number>>(sql`
      SELECT target, target_id, user_id, argMax(id, created_at) AS last_id,
             argMax(sensor_id, created_at) AS last_sensor, argMax(metric, created_at) AS last_metric,
             argMax(ts, created_at) AS last_ts, argMax(verdict, created_at) AS last_verdict,
             argMax(kind, created_at) AS last_kind, argMax(note, created_at) AS last_note,
             max(created_at) AS last_created
      FROM feedback WHERE ${where} GROUP BY target, target_id, user_id ORDER BY last_created`);
    return rows.map(
      (r): FeedbackRow => ({
        id: String(r.last_id),
        target: r.target as FeedbackRow['target'],
        targetId: String(r.target_id),
        sensorId: String(r.last_sensor),
        metric: String(r.last_metric),
        ts: Number(r.last_ts),
        verdict: r.last_verdict as FeedbackRow['verdict'],
        kind: String(r.last_kind),
        note: String(r.last_note),
        userId: String(r.user_id),
        createdAt: Number(r.last_created),
      }),
    );
  };
}

/** Where a prediction's or anomaly's id points (sensor, metric, ts), or undefined for an unknown id. */
export function findFeedbackTarget(store: Store) {
  return async function findFeedbackTarget(
    target: 'prediction' | 'anomaly',
    id: string,
  ): Promise<{ sensorId: string; metric: string; ts: number } | undefined> {
    const table = target === 'prediction' ? sql`predictions` : sql`anomalies`;
    const [row] = await store.query<{ sensor_id: string; metric: string; ts: number }>(
      sql`SELECT sensor_id, metric, ts FROM ${table} WHERE id = ${id} LIMIT 1`,
    );
    return row ? { sensorId: row.sensor_id, metric: row.metric, ts: Number(row.ts) } : undefined;
  };
}
