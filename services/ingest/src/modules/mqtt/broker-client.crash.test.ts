import { afterAll, beforeAll, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import type { Subprocess } from 'bun';
import {
  createSensors,
  deployedQueueSettings,
  mqttTestContext,
  publishQos1,
  streamMessageIds,
  waitFor,
} from './test-support.ts';

const queueSettings = await deployedQueueSettings();
const servers = useServers({ redis: true, clickhouse: true, mosquitto: { extraConfig: queueSettings } });
const CHILD = new URL('../../test-fixtures/mqtt-ingest-child.ts', import.meta.url).pathname;
const SENSORS = Array.from({ length: 50 }, (_, i) => `crash-${i}`);
const TOTAL = 20_000;
const KILL_AT = 6_000;
const database = `mqtt_crash_${process.pid}`;
let ctx: Awaited<ReturnType<typeof mqttTestContext>>;
const children: Subprocess[] = [];

beforeAll(async () => {
  ctx = await mqttTestContext({
    redisUrl: servers.redis.url,
    clickhouseUrl: servers.clickhouse.url,
    database,
  });
  await createSensors(ctx, SENSORS);
}, 60_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await ctx?.close();
});

/** Starts ingest in MQTT client mode as a child process; resolves once it is subscribed. */
async function startIngestChild(): Promise<Subprocess<'ignore', 'pipe', 'inherit'>> {
  const child = Bun.spawn(['bun', CHILD], {
    env: {
      ...process.env,
      REDIS_URL: servers.redis.url,
      CLICKHOUSE_URL: servers.clickhouse.url,
      DATABASE: database,
      MQTT_URL: servers.mosquitto.url,
      MQTT_CLIENT_ID: 'ingest-crash-test',
    },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  children.push(child);
  const reader = child.stdout.getReader();
  let out = '';
  while (!out.includes('ready\n')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`ingest child exited before it was ready: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return child;
}

test('SIGKILL mid-stream: every message the publisher saw acknowledged is in the readings stream', async () => {
  const first = await startIngestChild();
  let inStreamAtKill = 0;
  let kill: Promise<void> | undefined;
  const acked = await publishQos1(
    servers.mosquitto.url,
    TOTAL,
    (i) => {
      const id = `m-${i}`;
      const sensor = SENSORS[i % SENSORS.length];
      const payload = JSON.stringify({ ts: Date.now(), metrics: { pm25: i % 700, no2: 30 }, messageId: id });
      return { topic: `sensors/${sensor}/readings`, payload, id };
    },
    {
      window: 500,
      onAck(count) {
        // The broker acks the publisher on its own; kill once ingest has demonstrably started
        // writing too, so the kill lands mid-stream however slowly the child warmed up.
        if (count === KILL_AT && !kill) {
          kill = (async () => {
            await waitFor(
              'ingest to start writing',
              async () => (await ctx.redis.xlen('readings')) > 0,
              30_000,
            );
            inStreamAtKill = await ctx.redis.xlen('readings');
            first.kill('SIGKILL');
          })();
        }
      },
    },
  );
  await kill;
  await first.exited;
  expect(first.signalCode).toBe('SIGKILL');
  expect(acked).toHaveLength(TOTAL);

  // The same client id resumes the session: the broker hands over what it queued and redelivers
  // what the dead process had taken but not acknowledged.
  const second = await startIngestChild();
  const missing = async () => {
    const seen = await streamMessageIds(ctx.redis);
    return acked.filter((id) => !seen.has(id));
  };
  await waitFor('every acknowledged message', async () => (await missing()).length === 0, 60_000);
  second.kill('SIGTERM');
  await second.exited;

  const seen = await streamMessageIds(ctx.redis);
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  // Redelivery is at-least-once: duplicates may sit in the stream (the writer's insert is idempotent).
  console.info(
    `killed with ${inStreamAtKill} in the stream; ${seen.size} distinct, ${duplicates} duplicated`,
  );
  expect(inStreamAtKill).toBeGreaterThan(0);
  expect(inStreamAtKill).toBeLessThan(TOTAL);
  expect(await missing()).toEqual([]);
  expect(seen.size).toBe(TOTAL);
}, 120_000);
