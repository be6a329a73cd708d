import { type Static, Type as t } from '@sinclair/typebox';
import { inList, type Sql, sql, tuple } from '../sql.ts';
import type { Store } from '../store.ts';
import { nextVersion } from './versions.ts';

/** A stored API key (only its SHA-256); times are epoch ms, 0 meaning never. */
export const ApiKeyRow = t.Object({
  id: t.String(),
  userId: t.String(),
  name: t.String(),
  prefix: t.String(),
  keyHash: t.String(),
  scopes: t.Array(t.String()),
  createdAt: t.Integer(),
  expiresAt: t.Integer(),
  revokedAt: t.Integer(),
});
export type ApiKeyRow = Static<typeof ApiKeyRow>;

interface ApiKeyRecord {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  scopes: string[];
  created_at: number;
  expires_at: number;
  revoked_at: number;
}

const toApiKey = (row: ApiKeyRecord): ApiKeyRow => ({
  id: row.id,
  userId: row.user_id,
  name: row.name,
  prefix: row.prefix,
  keyHash: row.key_hash,
  scopes: row.scopes,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});

/** Writes an API key (a new one, or a new version: revoked). */
export function saveApiKey(store: Store) {
  return async function saveApiKey(key: ApiKeyRow): Promise<void> {
    // Through the sql binder (not TSV): scopes is an array.
    const values = tuple([
      key.id,
      key.userId,
      key.name,
      key.prefix,
      key.keyHash,
      key.scopes,
      key.createdAt,
      key.expiresAt,
      key.revokedAt,
      nextVersion(),
    ]);
    await store.command(
      sql`INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at, expires_at, revoked_at, version) VALUES ${values}`,
    );
  };
}

const API_KEY_SELECT = sql`SELECT id, user_id, name, prefix, key_hash, scopes, created_at, expires_at, revoked_at FROM api_keys FINAL`;

/** The keys with this public prefix (normally one), latest versions. */
export function findApiKeysByPrefix(store: Store) {
  return async function findApiKeysByPrefix(prefix: string): Promise<ApiKeyRow[]> {
    const rows = await store.query<ApiKeyRecord>(sql`${API_KEY_SELECT} WHERE prefix = ${prefix}`);
    return rows.map(toApiKey);
  };
}

/** The latest version of the key with this id, if any. */
export function findApiKeyById(store: Store) {
  return async function findApiKeyById(id: string): Promise<ApiKeyRow | undefined> {
    const [row] = await store.query<ApiKeyRecord>(sql`${API_KEY_SELECT} WHERE id = ${id} LIMIT 1`);
    return row && toApiKey(row);
  };
}

/** Keys page by page, newest first, of one user or of everyone, with the total. */
export function listApiKeys(store: Store) {
  return async function listApiKeys(filter: {
    userId?: string;
    limit: number;
    offset: number;
  }): Promise<{ items: ApiKeyRow[]; total: number }> {
    const where: Sql = filter.userId === undefined ? sql`1` : sql`user_id = ${filter.userId}`;
    const [rows, count] = await Promise.all([
      store.query<ApiKeyRecord>(
        sql`${API_KEY_SELECT} WHERE ${where} ORDER BY created_at DESC, id LIMIT ${filter.limit} OFFSET ${filter.offset}`,
      ),
      store.query<{ n: number }>(sql`SELECT count() AS n FROM api_keys FINAL WHERE ${where}`),
    ]);
    return { items: rows.map(toApiKey), total: Number(count[0]?.n ?? 0) };
  };
}

/** Records that a key was used at `at` (epoch ms); the latest time wins. */
export function recordApiKeyUse(store: Store) {
  return async function recordApiKeyUse(keyId: string, at: number): Promise<void> {
    await store.insert('api_key_usage', ['key_id', 'last_used_at'], [[keyId, at]]);
  };
}

/** Last-use times (epoch ms) of the given keys; keys never used are absent. */
export function findApiKeyLastUse(store: Store) {
  return async function findApiKeyLastUse(keyIds: readonly string[]): Promise<Map<string, number>> {
    if (keyIds.length === 0) return new Map();
    const rows = await store.query<{ key_id: string; last_used_at: number }>(
      sql`SELECT key_id, max(last_used_at) AS last_used_at FROM api_key_usage WHERE key_id IN ${inList(keyIds)} GROUP BY key_id`,
    );
    return new Map(rows.map((row) => [row.key_id, Number(row.last_used_at)]));
  };
}
