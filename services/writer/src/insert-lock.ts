import { AppError } from '@sensormesh/errors';
import type { Exclusive } from '@sensormesh/store';
import type Redis from 'ioredis';
import { backoffDelay, sleep } from './backoff.ts';

/** The one lock every writer takes around a batch's look-up-then-insert (ADR 0001). */
export const INSERT_LOCK_KEY = 'writer:insert-lock';

// Compare before touching: a holder whose lock lapsed must not extend or delete the next holder's.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Retries of a held lock: 5 ms doubling to 100 ms, jittered, so a released lock is taken soon. */
const WAIT = { minMs: 5, maxMs: 100 };

export interface InsertLockOptions {
  /** How long the lock outlives a writer that died holding it; renewed every third of it (default 30 s). */
  ttlMs?: number;
  /** Aborting ends a wait for the lock: the call rejects, and the writer hands its batch back. */
  signal?: AbortSignal;
  /** Called each time another writer held the lock (a metric). */
  onWait?: () => void;
}

/**
 * Serialises the writers' inserts through a Redis lock (SET NX PX with a token, renewed while held,
 * released by compare-and-delete). A writer that dies holding it delays the others by at most
 * `ttlMs`. A holder stalled for longer than `ttlMs` (an event loop blocked that long) loses it, and
 * only then can two inserts overlap again.
 */
export function insertLock(redis: Redis, options: InsertLockOptions = {}): Exclusive {
  const ttlMs = options.ttlMs ?? 30_000;
  const signal = options.signal ?? new AbortController().signal;
  return async function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const token = crypto.randomUUID();
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted)
        throw new AppError('UNAVAILABLE', 'writer stopped while waiting for the insert lock');
      if ((await redis.set(INSERT_LOCK_KEY, token, 'PX', ttlMs, 'NX')) === 'OK') break;
      options.onWait?.();
      await sleep(backoffDelay(attempt, WAIT), signal);
    }
    const renewal = setInterval(
      () => void redis.eval(RENEW, 1, INSERT_LOCK_KEY, token, String(ttlMs)).catch(() => undefined),
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    try {
      return await work();
    } finally {
      clearInterval(renewal);
      // Unreleased (Redis gone), it lapses after ttlMs.
      await redis.eval(RELEASE, 1, INSERT_LOCK_KEY, token).catch(() => undefined);
    }
  };
}
