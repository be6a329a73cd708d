/**
 * Bus throughput beside raw ioredis, in one run on a private loopback redis-server, same messages:
 * `bun scripts/bench-bus.ts [count]` (default 200,000 readings per measurement, 7 rounds).
 * (a) raw XADD in pipelines of 1,000, (b) publishBatch, (c) raw XREADGROUP COUNT 1000 + XACK,
 * (d) a bus consumer with a no-op handler. Raw sides JSON-encode/decode too, as any real producer
 * or consumer must; the pre-encoded / undecoded figures are printed for reference.
 */
import { createConsumer, createPublisher, type Reading, readings } from '@sensormesh/bus';
import { startRedis } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { writeReport } from './bench-report.ts';

/** msgs/s of every round of one measurement, and their median. */
interface Measurement {
  rounds: number[];
  median: number;
}

/** What `runBusBench` measured. */
interface BusBenchResult {
  count: number;
  chunk: number;
  redisVersion: string;
  rawPublish: Measurement;
  busPublish: Measurement;
  rawConsume: Measurement;
  busConsume: Measurement;
  /** For reference: XADD of pre-encoded strings and XREADGROUP+XACK without JSON.parse. */
  rawPublishPreEncoded: Measurement;
  rawConsumeNoDecode: Measurement;
}

const CHUNK = 1_000;
const STATIONS = ['Aotizhongxin', 'Changping', 'Dingling', 'Dongsi', 'Guanyuan', 'Gucheng', 'Huairou'];

/** A reading shaped like a Beijing air-quality station hour (11 metrics). */
function stationReading(i: number, now: number): Reading {
  return {
    sensorId: `beijing-${STATIONS[i % STATIONS.length]}`,
    ts: now - 3_600_000 + i,
    metrics: {
      pm25: 4 + (i % 400),
      pm10: 8 + (i % 500),
      so2: 3 + (i % 40),
      no2: 12 + (i % 90),
      co: 300 + (i % 2_000),
      o3: 2 + (i % 150),
      temperature: -5 + (i % 35) + 0.3,
      pressure: 1010.2 + (i % 20),
      dewpoint: -18.4 + (i % 30),
      rain: 0,
      windSpeed: 1.1 + (i % 7) / 2,
    },
    receivedAt: now + (i % 50),
    source: 'mqtt',
    messageId: `bench-${i}`,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function timed(count: number, work: () => Promise<void>): Promise<number> {
  Bun.gc(true); // a collection left over from the previous phase must not land in this one
  const started = performance.now();
  await work();
  return Math.round(count / ((performance.now() - started) / 1_000));
}

async function rawPublish(
  redis: Redis,
  key: string,
  messages: readonly Reading[],
  encode: boolean,
  encoded: string[],
) {
  for (let start = 0; start < messages.length; start += CHUNK) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(start + CHUNK, messages.length); i++) {
      pipeline.xadd(key, '*', 'm', encode ? JSON.stringify(messages[i]) : (encoded[i] as string));
    }
    await pipeline.exec();
  }
}

async function rawConsume(redis: Redis, key: string, count: number, decode: boolean): Promise<void> {
  await redis.xgroup('CREATE', key, 'raw', '0');
  let read = 0;
  while (read < count) {
    const reply = (await redis.xreadgroup('GROUP', 'raw', 'c1', 'COUNT', CHUNK, 'STREAMS', key, '>')) as
      | [string, [string, string[]][]][]
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    const ids: string[] = [];
    for (const [id, fields] of entries) {
      if (decode) JSON.parse(fields[1] ?? 'null');
      ids.push(id);
    }
    if (ids.length > 0) await redis.xack(key, 'raw', ...ids);
    read += entries.length;
  }
}

async function busConsume(redis: Redis, key: string, count: number): Promise<void> {
  const stream = { ...readings, name: key, groups: ['bench'] };
  let seen = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const consumer = createConsumer(redis, {
    stream,
    group: 'bench',
    consumer: 'c1',
    batchSize: CHUNK,
    async handler(messages) {
      seen += messages.length;
      if (seen >= count) finish();
    },
  });
  await consumer.start();
  await done;
  await consumer.stop(); // includes the last XACK
}

/** Starts a redis-server, measures raw ioredis and the bus for `count` messages over `rounds` rounds, stops it. */
async function runBusBench({ count = 200_000, rounds = 5 } = {}): Promise<BusBenchResult> {
  const server = await startRedis();
  const redis = new Redis(server.url);
  try {
    const info = await redis.info('server');
    const now = Date.now();
    const messages = Array.from({ length: count }, (_, i) => stationReading(i, now));
    const encoded = messages.map((message) => JSON.stringify(message));
    const publisher = createPublisher(redis);
    const stream = (key: string) => ({ ...readings, name: key });
    const result = {
      rawPublish: [],
      busPublish: [],
      rawConsume: [],
      busConsume: [],
      pre: [],
      noDecode: [],
    } as Record<string, number[]>;
    const push = (name: string, value: number) => result[name]?.push(value);

    // Round 0 warms the JIT and redis' allocator; it is not reported. Odd rounds run the bus
    // first, even rounds raw first, so neither side always inherits the other's garbage.
    for (let round = 0; round <= rounds; round++) {
      const keep = round > 0;
      const n = keep ? count : Math.min(count, 20_000);
      const batch = messages.slice(0, n);
      const pair = async (first: () => Promise<number>, second: () => Promise<number>) => {
        if (round % 2 === 0) return [await first(), await second()] as const;
        const b = await second();
        return [await first(), b] as const;
      };
      const [raw, bus] = await pair(
        () => timed(n, () => rawPublish(redis, `raw-${round}`, batch, true, encoded)),
        () =>
          timed(n, async () => {
            for (let start = 0; start < n; start += CHUNK) {
              await publisher.publishBatch(stream(`bus-${round}`), batch.slice(start, start + CHUNK));
            }
          }),
      );
      const pre = await timed(n, () => rawPublish(redis, `pre-${round}`, batch, false, encoded));
      const [rawRead, busRead] = await pair(
        () => timed(n, () => rawConsume(redis, `raw-${round}`, n, true)),
        () => timed(n, () => busConsume(redis, `bus-${round}`, n)),
      );
      const noDecode = await timed(n, () => rawConsume(redis, `pre-${round}`, n, false));
      await redis.del(`raw-${round}`, `bus-${round}`, `pre-${round}`);
      if (!keep) continue;
      push('rawPublish', raw);
      push('busPublish', bus);
      push('pre', pre);
      push('rawConsume', rawRead);
      push('busConsume', busRead);
      push('noDecode', noDecode);
    }
    const measurement = (name: string): Measurement => {
      const values = result[name] ?? [];
      return { rounds: values, median: median(values) };
    };
    return {
      count,
      chunk: CHUNK,
      redisVersion: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
      rawPublish: measurement('rawPublish'),
      busPublish: measurement('busPublish'),
      rawConsume: measurement('rawConsume'),
      busConsume: measurement('busConsume'),
      rawPublishPreEncoded: measurement('pre'),
      rawConsumeNoDecode: measurement('noDecode'),
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

const count = Number(process.argv[2] ?? 200_000);
if (!Number.isInteger(count) || count < 1_000) {
  console.error(`usage: bun scripts/bench-bus.ts [count >= 1000], got ${process.argv[2]}`);
  process.exit(2);
}
const rounds = 7;
const result = await runBusBench({ count, rounds });

/** Median of the per-round bus/raw ratios: each round runs both back to back, so the pair shares the machine's mood. */
function pairedRatio(bus: Measurement, raw: Measurement): number {
  const ratios = bus.rounds.map((value, i) => value / (raw.rounds[i] ?? Number.NaN)).sort((a, b) => a - b);
  return Math.round((ratios[Math.floor(ratios.length / 2)] ?? 0) * 1_000) / 1_000;
}
const publishRatio = pairedRatio(result.busPublish, result.rawPublish);
const consumeRatio = pairedRatio(result.busConsume, result.rawConsume);
const rows = [
  { what: 'publish', raw: result.rawPublish.median, bus: result.busPublish.median, ratio: publishRatio },
  { what: 'consume+ack', raw: result.rawConsume.median, bus: result.busConsume.median, ratio: consumeRatio },
];
console.log(
  `bus bench: ${count} readings, chunks of ${result.chunk}, redis ${result.redisVersion}, msgs/s = median of ${rounds} rounds, bus/raw = median of per-round ratios`,
);
console.table(
  rows.map(({ what, raw, bus, ratio }) => ({ what, raw, bus, 'bus/raw': `${(ratio * 100).toFixed(1)}%` })),
);
console.log(
  `reference: raw XADD of pre-encoded JSON ${result.rawPublishPreEncoded.median}/s, raw XREADGROUP+XACK without JSON.parse ${result.rawConsumeNoDecode.median}/s`,
);
const goal = publishRatio >= 0.85 && consumeRatio >= 0.85;
console.log(goal ? 'goal met: bus >= 85% of raw for publish and consume' : 'GOAL MISSED: bus < 85% of raw');

const file = await writeReport('bus', {
  ...result,
  ratios: { publish: publishRatio, consume: consumeRatio },
  goalMet: goal,
});
console.log(`wrote ${file}`);
