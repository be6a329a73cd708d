import type Redis from 'ioredis';

/**
 * A pull source's progress in Redis: one hash per source, a field per vendor device (its last
 * timestamp seen) plus source-wide marks such as PurpleAir's `modified_since`. Advanced only after
 * the readings are in the stream, so a crash re-fetches rather than loses; losing Redis re-fetches
 * the lookback window, which the writer absorbs (one row per sensor, metric and ts).
 */
export function checkpoint(redis: Redis, source: string) {
  const key = `ingest:checkpoint:${source}`;
  return {
    /** Every stored mark. */
    async load(): Promise<Map<string, number>> {
      const fields = await redis.hgetall(key);
      return new Map(Object.entries(fields).map(([field, value]) => [field, Number(value)]));
    },
    /** Stores marks; one only ever moves forward, so a late writer cannot rewind it. */
    async advance(marks: ReadonlyMap<string, number>): Promise<void> {
      if (marks.size === 0) return;
      const current = await this.load();
      const forward = [...marks].filter(
        ([field, value]) => value > (current.get(field) ?? Number.NEGATIVE_INFINITY),
      );
      if (forward.length > 0)
        await redis.hset(key, Object.fromEntries(forward.map(([f, v]) => [f, String(v)])));
    },
  };
}

/** A source's checkpoint. */
export type Checkpoint = ReturnType<typeof checkpoint>;
