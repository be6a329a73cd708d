import { timingSafeEqual } from 'node:crypto';
import { hashToken, opaqueToken } from '@sensormesh/auth';
import { AppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import {
  type ApiKeyRow,
  findApiKeyById,
  findApiKeyLastUse,
  findApiKeysByPrefix,
  findUserById,
  listApiKeys,
  recordApiKeyUse,
  type Store,
  saveApiKey,
} from '@sensormesh/store';
import type Redis from 'ioredis';
import { API_KEY_SCOPES, type Principal, type Scope } from '../access/model.ts';
import type { ApiKeyView, CreatedApiKey } from './model.ts';

/** What the API-key service needs. */
export interface ApiKeyServiceDeps {
  store: Store;
  redis: Redis;
  logger: Logger;
}

/** Public prefix length: `smk_` and 8 random characters, stored in the clear to find the key. */
export const API_KEY_PREFIX_LENGTH = 12;
/** Last use is written at most this often per key. */
export const LAST_USED_INTERVAL_S = 60;

const KNOWN_SCOPES: ReadonlySet<string> = new Set(API_KEY_SCOPES);
const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);

function statusOf(key: ApiKeyRow, now: number): ApiKeyView['status'] {
  if (key.revokedAt > 0) return 'revoked';
  return key.expiresAt > 0 && key.expiresAt <= now ? 'expired' : 'active';
}

function view(key: ApiKeyRow, lastUsedAt: number, now = Date.now()): ApiKeyView {
  return {
    id: key.id,
    userId: key.userId,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes.filter((scope): scope is Scope => KNOWN_SCOPES.has(scope)),
    status: statusOf(key, now),
    createdAt: new Date(key.createdAt).toISOString(),
    expiresAt: iso(key.expiresAt),
    revokedAt: iso(key.revokedAt),
    lastUsedAt: iso(lastUsedAt),
  };
}

const sameHash = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * API keys for integrations: shown once, stored as SHA-256, found by their public prefix. Reads go
 * to ClickHouse (FINAL) on every request, so a revocation, an expiry or the owner being disabled
 * takes effect at once on every replica without any cache to invalidate.
 */
export function apiKeyService(deps: ApiKeyServiceDeps) {
  const { store, redis } = deps;
  const log = deps.logger.child({ module: 'api-keys' });

  /** Creates a key for `ownerId` (who must be an active account); the raw key is returned once. */
  async function create(
    ownerId: string,
    input: { name: string; scopes: readonly Scope[]; expiresAt?: number },
  ): Promise<CreatedApiKey> {
    const now = Date.now();
    if (input.expiresAt !== undefined && input.expiresAt <= now) {
      throw new AppError('VALIDATION_FAILED', 'expiresAt must be in the future', {
        details: [{ path: '/expiresAt', message: 'must be in the future' }],
      });
    }
    const owner = await findUserById(store)(ownerId);
    if (owner?.status !== 'active') {
      throw new AppError('VALIDATION_FAILED', 'the owner must be an active account', {
        details: [{ path: '/userId', message: 'no active account with this id' }],
      });
    }
    const key = opaqueToken('smk');
    const row: ApiKeyRow = {
      id: crypto.randomUUID(),
      userId: ownerId,
      name: input.name,
      prefix: key.slice(0, API_KEY_PREFIX_LENGTH),
      keyHash: hashToken(key),
      scopes: [...input.scopes],
      createdAt: now,
      expiresAt: input.expiresAt ?? 0,
      revokedAt: 0,
    };
    await saveApiKey(store)(row);
    log.info({ keyId: row.id, userId: ownerId, scopes: row.scopes }, 'API key created');
    return { ...view(row, 0, now), key };
  }

  /** A page of keys (one account's, or everyone's), with their last use. */
  async function list(filter: { userId?: string; limit: number; offset: number }) {
    const page = await listApiKeys(store)(filter);
    const lastUse = await findApiKeyLastUse(store)(page.items.map((key) => key.id));
    return { items: page.items.map((key) => view(key, lastUse.get(key.id) ?? 0)), total: page.total };
  }

  /** Revokes a key; only its owner or an admin may, and others are told it does not exist. */
  async function revoke(id: string, caller: { userId: string; isAdmin: boolean }): Promise<ApiKeyView> {
    const key = await findApiKeyById(store)(id);
    if (!key || (key.userId !== caller.userId && !caller.isAdmin)) {
      throw new AppError('NOT_FOUND', 'no such API key', { details: { id } });
    }
    const revoked = key.revokedAt > 0 ? key : { ...key, revokedAt: Date.now() };
    if (revoked !== key) {
      await saveApiKey(store)(revoked);
      log.info({ keyId: id, by: caller.userId }, 'API key revoked');
    }
    const lastUse = await findApiKeyLastUse(store)([id]);
    return view(revoked, lastUse.get(id) ?? 0);
  }

  // At most one usage write per key per interval across replicas (Redis SET NX).
  async function touch(keyId: string, now: number): Promise<void> {
    const first = await redis.set(`api-key:used:${keyId}`, '1', 'EX', LAST_USED_INTERVAL_S, 'NX');
    if (first !== 'OK') return;
    // A failed usage write must not fail the caller's request; it is logged, not hidden.
    await recordApiKeyUse(store)(keyId, now).catch((error: unknown) =>
      log.warn({ keyId, err: error }, 'could not record API key use'),
    );
  }

  /** The principal a raw API key stands for, or null when unknown, revoked, expired or its owner is disabled. */
  async function verifyApiKey(rawKey: string): Promise<Principal | null> {
    if (!rawKey.startsWith('smk_') || rawKey.length < API_KEY_PREFIX_LENGTH) return null;
    const hash = hashToken(rawKey);
    const candidates = await findApiKeysByPrefix(store)(rawKey.slice(0, API_KEY_PREFIX_LENGTH));
    const key = candidates.find((candidate) => sameHash(candidate.keyHash, hash));
    const now = Date.now();
    if (!key || statusOf(key, now) !== 'active') return null;
    const owner = await findUserById(store)(key.userId);
    if (owner?.status !== 'active') return null;
    await touch(key.id, now);
    return {
      kind: 'apiKey',
      keyId: key.id,
      userId: key.userId,
      role: owner.role,
      scopes: key.scopes.filter((scope): scope is Scope => KNOWN_SCOPES.has(scope)),
    };
  }

  return { create, list, revoke, verifyApiKey };
}

/** The API-key service. */
export type ApiKeyService = ReturnType<typeof apiKeyService>;
