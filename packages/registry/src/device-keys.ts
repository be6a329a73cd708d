import { timingSafeEqual } from 'node:crypto';
import { hashToken, opaqueToken } from '@sensormesh/auth';
import {
  type DeviceKeyRow,
  findDeviceKeyOwner,
  listDeviceKeys,
  type Store,
  saveDeviceKeys,
} from '@sensormesh/store';
import type Redis from 'ioredis';

/** A freshly issued device key: the raw key exists only in this value. */
export interface IssuedKey {
  key: string;
  prefix: string;
  createdAt: number;
}

/** Length of the public prefix kept beside the hash (`smd_` and 8 random characters). */
export const KEY_PREFIX_LENGTH = 12;
const CACHE_TTL_S = 600;
const cacheKey = (sensorId: string) => `sensor:device-key:${sensorId}`;

// Sets "version:hash" unless the cache already holds a newer version, so a reader that loaded an
// older key from ClickHouse can never overwrite what a rotation just wrote.
const SET_IF_NEWER = `
local current = redis.call('get', KEYS[1])
if current then
  local version = tonumber(string.match(current, '^(%d+):'))
  if version and version > tonumber(ARGV[1]) then return 0 end
end
redis.call('set', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])
return 1`;

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && a.length > 0 && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Device keys: one active key per sensor, stored hashed in ClickHouse, with the current hash cached
 * in Redis for the ingest hot path. Every write clears the cache before ClickHouse and sets it
 * after, both awaited, so a rotated or revoked key fails at once on every replica; the TTL bounds
 * the damage if a writer dies between its ClickHouse write and its cache write.
 */
export function deviceKeys(store: Store, redis: Redis) {
  async function cache(sensorId: string, version: number, hash: string): Promise<void> {
    await redis.eval(SET_IF_NEWER, 1, cacheKey(sensorId), String(version), hash, String(CACHE_TTL_S));
  }

  async function write(sensorId: string, rows: readonly DeviceKeyRow[]): Promise<void> {
    await redis.del(cacheKey(sensorId));
    const version = await saveDeviceKeys(store)(rows);
    const active = rows.find((row) => row.status === 'active');
    await cache(sensorId, version, active?.keyHash ?? '');
  }

  async function activeKeys(sensorId: string) {
    return (await listDeviceKeys(store)(sensorId)).filter((row) => row.status === 'active');
  }

  /** Issues a new key for the sensor and revokes every key it held, in one write. */
  async function issue(sensorId: string): Promise<IssuedKey> {
    const key = opaqueToken('smd');
    const now = Date.now();
    const revoked = (await activeKeys(sensorId)).map(
      ({ version: _version, ...row }): DeviceKeyRow => ({ ...row, status: 'revoked', revokedAt: now }),
    );
    const fresh: DeviceKeyRow = {
      sensorId,
      keyHash: hashToken(key),
      prefix: key.slice(0, KEY_PREFIX_LENGTH),
      status: 'active',
      createdAt: now,
      revokedAt: 0,
    };
    await write(sensorId, [...revoked, fresh]);
    return { key, prefix: fresh.prefix, createdAt: now };
  }

  /** Revokes every key of the sensor (it is retired). */
  async function revokeAll(sensorId: string): Promise<void> {
    const now = Date.now();
    const revoked = (await activeKeys(sensorId)).map(
      ({ version: _version, ...row }): DeviceKeyRow => ({ ...row, status: 'revoked', revokedAt: now }),
    );
    if (revoked.length > 0) await write(sensorId, revoked);
  }

  /** The hash of the sensor's active key ('' when none), from Redis or else ClickHouse. */
  async function currentHash(sensorId: string): Promise<string> {
    const cached = await redis.get(cacheKey(sensorId));
    if (cached !== null) return cached.slice(cached.indexOf(':') + 1);
    const rows = await listDeviceKeys(store)(sensorId);
    // Rows come newest change first; an unknown sensor caches '' at version 0, which any write beats.
    const version = rows[0]?.version ?? 0;
    const hash = rows.find((row) => row.status === 'active')?.keyHash ?? '';
    await cache(sensorId, version, hash);
    return hash;
  }

  /** True when `rawKey` is the sensor's current device key. */
  async function verify(sensorId: string, rawKey: string): Promise<boolean> {
    if (!rawKey.startsWith('smd_')) return false;
    return sameHash(await currentHash(sensorId), hashToken(rawKey));
  }

  /**
   * The sensor this raw key is the current key of, or undefined. A ClickHouse lookup by hash, so
   * callers use it only off the hot path (to tell "another sensor's key" from "no key at all").
   */
  async function owner(rawKey: string): Promise<string | undefined> {
    if (!rawKey.startsWith('smd_')) return undefined;
    const sensorId = await findDeviceKeyOwner(store)(hashToken(rawKey));
    // Confirmed through the cache-consistent path, so a key rotated a moment ago has no owner.
    return sensorId !== undefined && (await verify(sensorId, rawKey)) ? sensorId : undefined;
  }

  return { issue, revokeAll, verify, owner };
}

/** The device-key service. */
export type DeviceKeys = ReturnType<typeof deviceKeys>;
