import { parseEnv } from '@sensormesh/config';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { MIGRATIONS_DIR, migrate, openStore } from '@sensormesh/store';
import Redis from 'ioredis';
import mqtt from 'mqtt';
import type { IngestContext } from '../../context.ts';
import { IngestEnv } from '../../env.ts';
import { ingestContext } from '../../plugin.ts';

/**
 * An ingest context on real Redis and ClickHouse for MQTT tests, benches and the crash fixture.
 * `database` is shared by processes that must see the same sensors (a parent and its child).
 */
export async function mqttTestContext(options: {
  redisUrl: string;
  clickhouseUrl: string;
  database: string;
  env?: Record<string, string | undefined>;
  migrate?: boolean;
}): Promise<IngestContext & { close(): Promise<void> }> {
  const config = parseEnv(IngestEnv, options.env ?? {});
  const store = await openStore({ clickhouseUrl: options.clickhouseUrl, database: options.database });
  if (options.migrate !== false) await migrate(store, MIGRATIONS_DIR);
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  const ctx = ingestContext({ config, store, redis, logger: silentLogger(), registry: createRegistry() });
  return {
    ...ctx,
    async close() {
      await ctx.pipeline.flush();
      redis.disconnect();
      await store.close();
    },
  };
}

/** Registers sensors (active) and returns their device keys by id. */
export async function createSensors(
  ctx: IngestContext,
  ids: readonly string[],
  metrics: string[] = [],
): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const id of ids) {
    const { deviceKey } = await ctx.sensors.create({ id, name: id, kind: 'air-quality', metrics }, 'test');
    keys.set(id, deviceKey.key);
  }
  return keys;
}

/** The queue lines of deploy/mosquitto/mosquitto.conf, so tests run the broker as deployed. */
export async function deployedQueueSettings(): Promise<string[]> {
  const conf = await Bun.file(
    new URL('../../../../../deploy/mosquitto/mosquitto.conf', import.meta.url),
  ).text();
  const lines = conf
    .split('\n')
    .filter((line) => /^(max_queued_messages|max_queued_bytes|max_inflight_messages)\s/.test(line));
  if (lines.length < 2) throw new Error('deploy/mosquitto/mosquitto.conf lost its queue settings');
  return lines;
}

/**
 * Publishes `count` QoS 1 messages as fast as the broker takes them (at most `window` unacknowledged)
 * and returns the message ids the broker acknowledged, in order. `onAck` sees each acknowledgement.
 */
export async function publishQos1(
  url: string,
  count: number,
  message: (i: number) => { topic: string; payload: string; id: string },
  options: { window?: number; onAck?: (acked: number) => void; stopAt?: () => boolean } = {},
): Promise<string[]> {
  const client = await mqtt.connectAsync(url, {
    clientId: `publisher-${process.pid}-${Date.now()}`,
    reconnectPeriod: 0,
  });
  const acked: string[] = [];
  const window = options.window ?? 500;
  let next = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let open = 0;
      const pump = () => {
        while (open < window && next < count && !options.stopAt?.()) {
          const { topic, payload, id } = message(next++);
          open++;
          client.publish(topic, payload, { qos: 1 }, (error) => {
            open--;
            if (error) return reject(error);
            acked.push(id);
            options.onAck?.(acked.length);
            if (open === 0 && (next >= count || options.stopAt?.())) resolve();
            else pump();
          });
        }
      };
      pump();
    });
  } finally {
    await client.endAsync(true);
  }
  return acked;
}

/** Message ids in a stream (readings or dlq), with how often each occurs. */
export async function streamMessageIds(redis: Redis, stream = 'readings'): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let start = '-';
  for (;;) {
    const rows = await redis.xrange(stream, start, '+', 'COUNT', 10_000);
    for (const [, fields] of rows) {
      const id = (JSON.parse(fields[1] as string) as { messageId?: string }).messageId ?? '';
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    if (rows.length < 10_000) return seen;
    start = `(${rows[rows.length - 1]?.[0]}`;
  }
}

/** Polls `check` every 20 ms until it returns true; throws with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/**
 * Whether the broker still holds a session for `clientId` (the CONNACK's session-present flag). The
 * probe connects with session expiry 0, so the broker drops the session as the probe leaves.
 */
export async function sessionPresent(
  url: string,
  clientId: string,
  auth: { username?: string; password?: string } = {},
): Promise<boolean> {
  const client = mqtt.connect(url, {
    ...auth,
    clientId,
    protocolVersion: 5,
    clean: false,
    reconnectPeriod: 0,
  });
  try {
    return await new Promise<boolean>((resolve, reject) => {
      client.once('connect', (connack) => resolve(connack.sessionPresent));
      client.once('error', reject);
    });
  } finally {
    await client.endAsync(true);
  }
}
