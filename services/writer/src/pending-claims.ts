import type Redis from 'ioredis';

/** One of this consumer's pending entries, with the delivery count it was handed over with. */
export interface HeldEntry {
  id: string;
  attempts: number;
}

/**
 * Keeps hold of the entries a writer is still working on, and hands them back untouched when it
 * stops. Both use XCLAIM to itself with JUSTID, which resets an entry's idle time without counting
 * a delivery.
 */
export function pendingClaims(redis: Redis, stream: string, group: string, consumer: string) {
  /**
   * Resets the idle time of entries held longer than `minIdleMs`, so no other writer takes them
   * over while an insert is retried through a long outage (the takeover would count a delivery and,
   * repeated, dead-letter good readings). The min-idle guard leaves alone an entry another consumer
   * claimed meanwhile.
   */
  async function keep(ids: readonly string[], minIdleMs: number): Promise<number> {
    if (ids.length === 0) return 0;
    const claimed = (await redis.call(
      'XCLAIM',
      stream,
      group,
      consumer,
      minIdleMs,
      ...ids,
      'JUSTID',
    )) as string[];
    return claimed.length;
  }

  /**
   * Leaves entries pending with their delivery count set back by the delivery that never got to
   * run (the writer stopped while the store was down), so restarts through an outage do not use
   * up the retry budget; the next run or another writer picks them up.
   */
  async function release(entries: readonly HeldEntry[]): Promise<void> {
    const byCount = new Map<number, string[]>();
    for (const entry of entries) {
      const count = Math.max(0, entry.attempts - 1);
      const ids = byCount.get(count);
      if (ids) ids.push(entry.id);
      else byCount.set(count, [entry.id]);
    }
    for (const [count, ids] of byCount)
      await redis.call('XCLAIM', stream, group, consumer, 0, ...ids, 'RETRYCOUNT', count, 'JUSTID');
  }

  return { keep, release };
}
