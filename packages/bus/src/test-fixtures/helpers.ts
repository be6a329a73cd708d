import Redis from 'ioredis';
import { defineStream, type StreamDef } from '../catalogue.ts';
import { parseEntries } from '../replies.ts';
import { type DeadLetter, Reading } from '../streams.ts';

let streamCounter = 0;

/** A fresh readings-shaped stream for one test, with the given groups and policies. */
export function testStream<const G extends string>(
  groups: readonly G[],
  options: { maxAttempts?: number; backoffMs?: number; maxAgeMs?: number; maxLen?: number } = {},
) {
  streamCounter += 1;
  return defineStream({
    name: `test-${process.pid}-${streamCounter}`,
    schema: Reading,
    groups,
    retry: { maxAttempts: options.maxAttempts ?? 3, backoffMs: options.backoffMs ?? 10 },
    trim: { maxAgeMs: options.maxAgeMs, maxLen: options.maxLen },
  });
}

/** A realistic reading; `i` makes it unique. */
export function reading(i: number): Reading {
  const ts = 1_700_000_000_000 + i * 1_000;
  return {
    sensorId: `sensor-${i % 97}`,
    ts,
    metrics: { pm25: (i % 300) / 2, pm10: (i % 500) / 3, temperature: 21.5, humidity: 40 + (i % 20) },
    receivedAt: ts + 120,
    source: 'mqtt',
    messageId: `msg-${i}`,
  };
}

/** Polls `probe` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** Races `promise` against a deadline so a hung test fails with a name instead of a timeout. */
export function within<T>(what: string, promise: Promise<T>, timeoutMs = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** How many entries of `group` are pending (delivered, not acked). */
export async function pendingCount(redis: Redis, stream: StreamDef, group: string): Promise<number> {
  const [count] = (await redis.xpending(stream.name, group)) as [number];
  return Number(count);
}

/** Every dead letter in the `dlq` stream, decoded. */
export async function deadLetters(redis: Redis, name = 'dlq'): Promise<(DeadLetter & { id: string })[]> {
  return parseEntries(await redis.xrange(name, '-', '+')).map((entry) => ({
    id: entry.id,
    ...(JSON.parse(entry.fields?.[1] ?? 'null') as DeadLetter),
  }));
}

/** Idempotent sink: applies a message's effect once, however often it is delivered (atomic in Lua). */
export const APPLY_ONCE = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then redis.call('INCR', KEYS[2]) return 1 end
return 0`;

/** Applies the effect of each id once to the sink hash `sink` and counter `sink:applied`. */
export async function applyOnce(redis: Redis, sink: string, ids: readonly string[]): Promise<void> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.eval(APPLY_ONCE, 2, sink, `${sink}:applied`, id, '1');
  const replies = (await pipeline.exec()) ?? [];
  const failure = replies.find(([error]) => error);
  if (failure) throw failure[0];
}

/** Connects to `url`, failing fast rather than queueing commands while Redis is away. */
export function connect(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}
