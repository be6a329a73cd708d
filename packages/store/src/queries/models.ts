import { type Static, Type as t } from '@sinclair/typebox';
import { sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { paramsChecker } from './validate.ts';

/** A model version's place in the registry: one `active` per task at a time. */
export const ModelStatus = t.Union([
  t.Literal('active'),
  t.Literal('shadow'),
  t.Literal('candidate'),
  t.Literal('retired'),
]);
export type ModelStatus = Static<typeof ModelStatus>;

/** One registered model version (table `models`, migration 009), its newest state. */
export const ModelVersionRow = t.Object({
  task: t.Union([t.Literal('forecast'), t.Literal('faults')]),
  version: t.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
  name: t.String({ minLength: 1, maxLength: 128 }),
  sha256: t.String({ pattern: '^[0-9a-f]{64}$' }),
  status: ModelStatus,
  /** The model card, JSON. */
  card: t.String(),
  /** What evaluation measured, JSON ("{}" when nothing yet). */
  metrics: t.String(),
  /** Where it came from: `seed` (models/ at start-up), `upload`, `retrain`. */
  source: t.String({ maxLength: 32 }),
  /** The version active when this one was activated ('' if none): what a roll-back returns to. */
  previous: t.String({ maxLength: 64 }),
  createdBy: t.String({ maxLength: 128 }),
  createdAt: t.Integer({ minimum: 0 }),
  updatedAt: t.Integer({ minimum: 0 }),
});
export type ModelVersionRow = Static<typeof ModelVersionRow>;

const COLUMNS = [
  'task',
  'version',
  'name',
  'sha256',
  'status',
  'card',
  'metrics',
  'source',
  'previous',
  'created_by',
  'created_at',
  'updated_at',
] as const;
const checkRows = paramsChecker('putModelVersions', t.Array(ModelVersionRow));

/** Writes versions' states; the row with the highest updatedAt per (task, version) is the state. */
export function putModelVersions(store: Store) {
  return async function putModelVersions(rows: readonly ModelVersionRow[]): Promise<void> {
    checkRows(rows);
    await store.insert(
      'models',
      COLUMNS,
      rows.map((r) => [
        r.task,
        r.version,
        r.name,
        r.sha256,
        r.status,
        r.card,
        r.metrics,
        r.source,
        r.previous,
        r.createdBy,
        r.createdAt,
        r.updatedAt,
      ]),
    );
  };
}

/** Every registered version's newest state, newest first. */
export function listModelVersions(store: Store) {
  return async function listModelVersions(): Promise<ModelVersionRow[]> {
    const rows = await store.query<Record<string, string | number>>(sql`
      SELECT task, version, argMax(name, updated_at) AS name, argMax(sha256, updated_at) AS sha256,
             argMax(status, updated_at) AS status, argMax(card, updated_at) AS card,
             argMax(metrics, updated_at) AS metrics, argMax(source, updated_at) AS source, argMax(previous, updated_at) AS previous,
             argMax(created_by, updated_at) AS created_by, min(created_at) AS first_created,
             max(updated_at) AS last_updated
      FROM models GROUP BY task, version ORDER BY first_created DESC, version DESC`);
    return rows.map((r) => ({
      task: r.task as ModelVersionRow['task'],
      version: String(r.version),
      name: String(r.name),
      sha256: String(r.sha256),
      status: r.status as ModelStatus,
      card: String(r.card),
      metrics: String(r.metrics),
      source: String(r.source),
      previous: String(r.previous),
      createdBy: String(r.created_by),
      createdAt: Number(r.first_created),
      updatedAt: Number(r.last_updated),
    }));
  };
}

/** Stores a model's ONNX bytes under their sha256 (content-addressed: storing twice is harmless). */
export function putModelFile(store: Store) {
  return async function putModelFile(sha256: string, bytes: Uint8Array): Promise<void> {
    await store.insert(
      'model_files',
      ['sha256', 'bytes', 'size', 'created_at'],
      [[sha256, Buffer.from(bytes).toString('base64'), bytes.length, Date.now()]],
    );
  };
}

/** A model's ONNX bytes by sha256, or undefined when none is stored. */
export function getModelFile(store: Store) {
  return async function getModelFile(sha256: string): Promise<Uint8Array | undefined> {
    const [row] = await store.query<{ bytes: string }>(
      sql`SELECT any(bytes) AS bytes FROM model_files WHERE sha256 = ${sha256} GROUP BY sha256`,
    );
    return row ? new Uint8Array(Buffer.from(row.bytes, 'base64')) : undefined;
  };
}
