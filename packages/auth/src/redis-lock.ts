import { AppError } from '@sensormesh/errors';
import type Redis from 'ioredis';

/** How long a lock lives and how long to wait for it. */
export interface LockOptions {
  /** The lock expires after this, so a crashed holder cannot block the key for good (default 10 s). */
  ttlMs?: number;
  /** Tries before giving up with 409 CONFLICT (default 50; 1 = do not wait). */
  attempts?: number;
  /** Pause between tries (default 20 ms). */
  retryMs?: number;
}

// Deletes the key only while it still holds our token: it may have expired and been taken meanwhile.
const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

/** Runs `work` holding a short Redis lock, so concurrent replicas do not interleave on one key. */
export async function withLock<T>(
  redis: Redis,
  key: string,
  work: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const { ttlMs = 10_000, attempts = 50, retryMs = 20 } = options;
  const token = crypto.randomUUID();
  for (let attempt = 0; attempt < attempts; attempt++) {
    if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') {
      try {
        return await work();
      } finally {
        await redis.eval(RELEASE, 1, key, token);
      }
    }
    if (attempt + 1 < attempts) await Bun.sleep(retryMs);
  }
  throw new AppError('CONFLICT', 'the resource is busy; retry');
}
