import type Redis from 'ioredis';

// Compare before touching: a holder whose lock lapsed must not extend or delete the next holder's.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * A lock in Redis shared by processes: one key whose value is the holder's token, with a ttl so a
 * holder that dies frees it. Only the holder's token renews or releases it.
 */
export function tokenLock(redis: Redis, key: string) {
  return {
    key,
    /** Takes the lock for `ttlMs` if free; true when taken. */
    async take(token: string, ttlMs: number): Promise<boolean> {
      return (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
    },
    /** Extends the holder's lock to `ttlMs` from now; false when `token` no longer holds it. */
    async renew(token: string, ttlMs: number): Promise<boolean> {
      return (await redis.eval(RENEW, 1, key, token, String(ttlMs))) === 1;
    },
    /** Frees the lock if `token` holds it; false when it did not (lapsed, or another's). */
    async release(token: string): Promise<boolean> {
      return (await redis.eval(RELEASE, 1, key, token)) === 1;
    },
  };
}

/** What `tokenLock` returns. */
export type TokenLock = ReturnType<typeof tokenLock>;
