import type { DeadLetter, Reading } from '@sensormesh/bus';
import { parseEnv } from '@sensormesh/config';
import { errorHandler, requestContext } from '@sensormesh/http';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import type { NewSensor } from '@sensormesh/registry';
import { MIGRATIONS_DIR, migrate, openStore } from '@sensormesh/store';
import { Elysia } from 'elysia';
import Redis from 'ioredis';
import { IngestEnv } from '../../env.ts';
import { ingestContext, ingestPlugin } from '../../plugin.ts';

let databases = 0;

/** Entries of a stream as [id, message] pairs. */
export async function streamEntries(redis: Redis, stream: string): Promise<Array<[string, unknown]>> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([id, fields]) => [id, JSON.parse(fields[fields.indexOf('m') + 1] as string)]);
}

/** Ingest's HTTP routes on real Redis and ClickHouse (a fresh database), driven with app.handle. */
export async function testIngest(
  servers: { redisUrl: string; clickhouseUrl: string },
  overrides: Record<string, string> = {},
) {
  const config = parseEnv(IngestEnv, { INGEST_FLUSH_MS: '1', ...overrides });
  const store = await openStore({
    clickhouseUrl: servers.clickhouseUrl,
    database: `ingest_http_${process.pid}_${++databases}`,
  });
  await migrate(store, MIGRATIONS_DIR);
  const redis = new Redis(servers.redisUrl);
  await redis.flushall();
  const logger = silentLogger();
  const ctx = ingestContext({ config, store, redis, logger, registry: createRegistry() });
  const app = new Elysia().use(requestContext(logger)).use(errorHandler(logger)).use(ingestPlugin(ctx));

  /** Sends a request; `body` objects go as JSON unless a string is given. */
  async function call(
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; method?: string } = {},
  ) {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    const body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const response = await app.handle(
      new Request(`http://localhost${path}`, { method: options.method ?? 'POST', headers, body }),
    );
    const text = await response.text();
    // biome-ignore lint/suspicious/noExplicitAny: test bodies are asserted field by field
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  /** Registers a sensor and returns its device key. */
  async function sensor(id: string, extra: Partial<NewSensor> = {}): Promise<string> {
    const created = await ctx.sensors.create({ id, name: id, kind: 'air-quality', ...extra }, 'test');
    return created.deviceKey.key;
  }

  return {
    app,
    ctx,
    redis,
    call,
    sensor,
    /** The `readings` stream's messages. */
    readings: async () => (await streamEntries(redis, 'readings')).map(([, message]) => message as Reading),
    /** The `dlq` stream's messages. */
    deadLetters: async () => (await streamEntries(redis, 'dlq')).map(([, message]) => message as DeadLetter),
    /** Stream lengths, to prove a refused request stored nothing. */
    lengths: async () => ({ readings: await redis.xlen('readings'), dlq: await redis.xlen('dlq') }),
    async close() {
      await store.close();
      redis.disconnect();
    },
  };
}

/** The ingest app a test file drives. */
export type TestIngest = Awaited<ReturnType<typeof testIngest>>;
