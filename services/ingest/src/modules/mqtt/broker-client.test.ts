import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { DeadLetter } from '@sensormesh/bus';
import { startMosquitto, useServers } from '@sensormesh/testkit';
import Redis from 'ioredis';
import mqtt from 'mqtt';
import { startBrokerClient } from './broker-client.ts';
import { shareMembersKey } from './share-members.ts';
import {
  createSensors,
  deployedQueueSettings,
  mqttTestContext,
  publishQos1,
  sessionPresent,
  streamMessageIds,
  waitFor,
} from './test-support.ts';

const queueSettings = await deployedQueueSettings();
const servers = useServers({ redis: true, clickhouse: true, mosquitto: { extraConfig: queueSettings } });
const SENSORS = Array.from({ length: 20 }, (_, i) => `ext-${i}`);
const database = `mqtt_client_${process.pid}`;
let ctx: Awaited<ReturnType<typeof mqttTestContext>>;
let clientIds = 0;

beforeAll(async () => {
  ctx = await mqttTestContext({
    redisUrl: servers.redis.url,
    clickhouseUrl: servers.clickhouse.url,
    database,
  });
  await createSensors(ctx, SENSORS);
}, 60_000);

afterAll(async () => {
  await ctx?.close();
});

/** An ingest subscriber in this process, with its own client id and share group unless given. */
async function subscriber(brokerUrl: string, settings: Partial<typeof ctx.config> = {}) {
  const id = `${process.pid}-${++clientIds}`;
  const config = {
    ...ctx.config,
    MQTT_URL: brokerUrl,
    MQTT_CLIENT_ID: `ingest-${id}`,
    MQTT_SHARE_GROUP: `g-${id}`,
    ...settings,
  };
  const handle = startBrokerClient({ ...ctx, config });
  await handle.ready;
  return handle;
}

const reading = (i: number) => {
  const sensor = SENSORS[i % SENSORS.length] as string;
  const id = `msg-${i}`;
  return {
    topic: `sensors/${sensor}/readings`,
    payload: JSON.stringify({ ts: Date.now(), metrics: { pm25: i % 500, rh: 50 }, messageId: id }),
    id,
  };
};

/**
 * Publishes `count` messages while Redis refuses writes (ingest cannot ack, so the broker queues),
 * then lets Redis go and returns how many distinct messages reached the stream.
 */
async function publishWhileIngestStalls(brokerUrl: string, count: number) {
  await ctx.redis.del('readings', 'dlq');
  const handle = await subscriber(brokerUrl);
  const admin = new Redis(servers.redis.url);
  try {
    await admin.call('CLIENT', 'PAUSE', '120000', 'WRITE');
    const acked = await publishQos1(brokerUrl, count, reading, { window: 1_000 });
    await admin.call('CLIENT', 'UNPAUSE');
    // A last message, published after the backlog: once it is in, whatever survived is in too.
    await publishQos1(brokerUrl, 1, () => ({
      ...reading(0),
      id: 'last',
      payload: JSON.stringify({ ts: Date.now(), metrics: { pm25: 1 }, messageId: 'last' }),
    }));
    await waitFor('the last message', async () => (await streamMessageIds(ctx.redis)).has('last'), 60_000);
    const seen = await streamMessageIds(ctx.redis);
    seen.delete('last');
    return { acked, seen };
  } finally {
    await admin.call('CLIENT', 'UNPAUSE');
    admin.disconnect();
    await handle.stop();
  }
}

describe('ingest as a client of Mosquitto', () => {
  test('a reading for an unknown sensor goes to the dlq with the reason', async () => {
    await ctx.redis.del('readings', 'dlq');
    const handle = await subscriber(servers.mosquitto.url);
    const device = await mqtt.connectAsync(servers.mosquitto.url, { reconnectPeriod: 0 });
    await device.publishAsync(
      'sensors/ghost/readings',
      JSON.stringify({ ts: Date.now(), metrics: { pm25: 3 } }),
      { qos: 1 },
    );
    await device.publishAsync(
      'sensors/ext-1/readings',
      JSON.stringify({ ts: Date.now(), metrics: { pm25: 3 } }),
      { qos: 1 },
    );
    await device.endAsync();
    await waitFor('the good reading', async () => (await ctx.redis.xlen('readings')) === 1);
    await handle.stop();
    const letters = (await ctx.redis.xrange('dlq', '-', '+')).map(
      ([, f]) => JSON.parse(f[1] as string) as DeadLetter,
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]?.reason).toContain('unknown_sensor');
    expect(letters[0]?.reason).toContain('ghost');
  });

  test("deploy's queue settings: 50,000 QoS 1 messages queued for a stalled ingest all arrive, once", async () => {
    const { acked, seen } = await publishWhileIngestStalls(servers.mosquitto.url, 50_000);
    expect(acked).toHaveLength(50_000);
    expect(seen.size).toBe(50_000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  }, 120_000);

  test('scale-down: a replica that leaves takes what was queued for it and hands its share to the others', async () => {
    await ctx.redis.del('readings', 'dlq');
    const group = { MQTT_SHARE_GROUP: `scale-${process.pid}` };
    const staying = await subscriber(servers.mosquitto.url, group);
    const leaverId = { ...group, MQTT_CLIENT_ID: `ingest-leaver-${process.pid}` };
    // A restart (MQTT_ON_STOP=keep): the broker keeps dealing the stopped replica its share.
    await (await subscriber(servers.mosquitto.url, { ...leaverId, MQTT_ON_STOP: 'keep' })).stop();
    const first = await publishQos1(servers.mosquitto.url, 20_000, reading, { window: 1_000 });
    await waitFor('the staying replica’s share', async () => (await ctx.redis.xlen('readings')) >= 10_000);
    expect(await ctx.redis.xlen('readings')).toBeLessThan(20_000); // the rest waits for the stopped one
    // It comes back, set to leave, and is stopped at once while more is published. Most of its
    // 10,000 are still queued at the broker then (at most max_inflight_messages are sent ahead of
    // their PUBACKs): they are stored only if the leave drains the queue before it ends the session,
    // and what is published meanwhile only if the leave stops its share before the drain's end.
    const leaver = await subscriber(servers.mosquitto.url, { ...leaverId, MQTT_ON_STOP: 'leave' });
    const [second] = await Promise.all([
      publishQos1(servers.mosquitto.url, 10_000, (i) => reading(20_000 + i), { window: 1_000 }),
      leaver.stop(),
    ]);
    await waitFor('every message', async () => (await ctx.redis.xlen('readings')) >= 30_000);
    await staying.stop();
    const seen = await streamMessageIds(ctx.redis);
    expect(first.length + second.length).toBe(30_000);
    expect([...first, ...second].every((id) => seen.get(id) === 1)).toBe(true);
    expect(seen.size).toBe(30_000);
    expect(await sessionPresent(servers.mosquitto.url, leaverId.MQTT_CLIENT_ID)).toBe(false);
    const members = shareMembersKey(group.MQTT_SHARE_GROUP);
    expect(await ctx.redis.zscore(members, leaverId.MQTT_CLIENT_ID)).toBeNull();
    expect(await ctx.redis.zcard(members)).toBe(1); // the staying replica, stopped but its session kept
  }, 60_000);

  test('the last replica of a group does not leave: its session keeps what is published after it stopped', async () => {
    await ctx.redis.del('readings', 'dlq');
    const lone = {
      MQTT_SHARE_GROUP: `lone-${process.pid}`,
      MQTT_CLIENT_ID: `ingest-lone-${process.pid}`,
      MQTT_ON_STOP: 'leave' as const,
    };
    await (await subscriber(servers.mosquitto.url, lone)).stop();
    // Had the session ended, Mosquitto would drop this (no member of the group left), so its
    // arrival on the next start proves the session was kept. (sessionPresent would end it.)
    const [published] = await publishQos1(servers.mosquitto.url, 1, reading);
    const back = await subscriber(servers.mosquitto.url, { ...lone, MQTT_ON_STOP: 'keep' });
    await waitFor('the reading kept for it', async () =>
      (await streamMessageIds(ctx.redis)).has(published as string),
    );
    await back.stop();
    expect(
      await ctx.redis.zscore(shareMembersKey(lone.MQTT_SHARE_GROUP), lone.MQTT_CLIENT_ID),
    ).not.toBeNull();
  }, 60_000);

  test("Mosquitto's default queue loses acknowledged messages in the same run (why the settings exist)", async () => {
    const broker = await startMosquitto([]);
    try {
      const { acked, seen } = await publishWhileIngestStalls(broker.url, 5_000);
      expect(acked).toHaveLength(5_000);
      expect(seen.size).toBeLessThan(5_000);
    } finally {
      await broker.stop();
    }
  }, 60_000);
});
