import { tokenLock } from '@sensormesh/bus';
import { AppError } from '@sensormesh/errors';
import type { Exclusive } from '@sensormesh/store';
import type Redis from 'ioredis';
import { backoffDelay, sleep } from './backoff.ts';

/** The one lock every writer takes around a batch's look-up-then-insert (ADR 0001). */
export const INSERT_LOCK_KEY = 'writer:insert-lock';

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
 * Serialises the writers' inserts through a Redis token lock, renewed while held. A writer that dies
 * holding it delays the others by at most `ttlMs`. A holder stalled for longer than `ttlMs` (an
 * event loop blocked that long) loses it, and only then can two inserts overlap again.
 */
export function insertLock(redis: Redis, options: InsertLockOptions = {}): Exclusive {
  const ttlMs = options.ttlMs ?? 30_000;
  const signal = options.signal ?? new AbortController().signal;
  const lock = tokenLock(redis, INSERT_LOCK_KEY);
  return async function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const token = crypto.randomUUID();
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted)
        throw new AppError('UNAVAILABLE', 'writer stopped while waiting for the insert lock');
      if (await lock.take(token, ttlMs)) break;
      options.onWait?.();
      await sleep(backoffDelay(attempt, WAIT), signal);
    }
    const renewal = setInterval(
      () => void lock.renew(token, ttlMs).catch(() => undefined),
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    try {
      return await work();
    } finally {
      clearInterval(renewal);
      // Unreleased (Redis gone), it lapses after ttlMs.
      await lock.release(token).catch(() => undefined);
    }
  };
}
