import type { DeviceReading } from './replay.ts';

/** Where readings go: a set of connected devices, or anything with the same shape (tests). */
export interface ReadingSink {
  publish(reading: DeviceReading): Promise<void>;
}

/** Something that may change or suppress a reading on its way out (the fault injector). */
export interface ReadingFilter {
  apply(reading: DeviceReading): DeviceReading | undefined;
}

/** Options for pumping readings into a sink. */
export interface PumpOptions {
  filter?: ReadingFilter;
  /** Publishes awaiting their ack at once; beyond it the source waits, so memory stays bounded. */
  maxInFlight?: number;
  /** Told after each batch with the running count. */
  onProgress?: (sent: number) => void;
}

/**
 * Sends every batch from `source` through the filter to the sink with at most `maxInFlight`
 * publishes outstanding, and waits for the last of them; resolves with the number sent.
 */
export async function pump(
  source: AsyncIterable<readonly DeviceReading[]>,
  sink: ReadingSink,
  options: PumpOptions = {},
): Promise<number> {
  const limit = options.maxInFlight ?? 1_000;
  const pending = new Set<Promise<void>>();
  let sent = 0;
  for await (const batch of source) {
    for (const original of batch) {
      const reading = options.filter ? options.filter.apply(original) : original;
      if (!reading) continue;
      const publishing = sink.publish(reading).finally(() => pending.delete(publishing));
      pending.add(publishing);
      sent++;
      if (pending.size >= limit) await Promise.race(pending);
    }
    options.onProgress?.(sent);
  }
  await Promise.all(pending);
  return sent;
}
