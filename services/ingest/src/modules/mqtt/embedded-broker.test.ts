import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import type { DeadLetter, Reading } from '@sensormesh/bus';
import { useServers } from '@sensormesh/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { type EmbeddedBroker, startEmbeddedBroker } from './embedded-broker.ts';
import { createSensors, mqttTestContext } from './test-support.ts';

const servers = useServers({ redis: true, clickhouse: true });
const MAX_PAYLOAD = 2_048;
let ctx: Awaited<ReturnType<typeof mqttTestContext>>;
let broker: EmbeddedBroker;
let keys: Map<string, string>;
const clients: MqttClient[] = [];

beforeAll(async () => {
  ctx = await mqttTestContext({
    redisUrl: servers.redis.url,
    clickhouseUrl: servers.clickhouse.url,
    database: `mqtt_embedded_${process.pid}`,
    env: { INGEST_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) },
  });
  keys = await createSensors(ctx, ['s-1', 's-2', 's-rotated'], ['vibration']);
  broker = await startEmbeddedBroker(ctx, { host: '127.0.0.1', port: 0, reauthIntervalMs: 100 });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
  await broker?.stop();
  await ctx?.close();
});

beforeEach(async () => {
  await ctx.redis.del('readings', 'dlq');
});

async function device(sensorId: string, key = keys.get(sensorId) ?? '') {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
    username: sensorId,
    password: key,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  clients.push(client);
  return client;
}

async function entries<T>(stream: string): Promise<T[]> {
  const rows = await ctx.redis.xrange(stream, '-', '+');
  return rows.map(([, fields]) => JSON.parse(fields[1] as string) as T);
}

const now = () => Date.now();

describe('embedded broker', () => {
  test('a QoS 1 reading is in the stream when the PUBACK arrives', async () => {
    const client = await device('s-1');
    const ts = now() - 1_000;
    await client.publishAsync(
      'sensors/s-1/readings',
      JSON.stringify({ ts, metrics: { pm25: 12.4, vibration: 0.2 }, messageId: 'm-1' }),
      { qos: 1 },
    );
    // No wait: the PUBACK itself is the proof.
    const [reading] = await entries<Reading>('readings');
    expect(reading).toMatchObject({
      sensorId: 's-1',
      ts,
      metrics: { pm25: 12.4, vibration: 0.2 },
      source: 'mqtt',
      messageId: 'm-1',
    });
    expect(await ctx.redis.xlen('dlq')).toBe(0);
  });

  test('a batch payload puts every reading on the stream before its PUBACK', async () => {
    const client = await device('s-1');
    const batch = Array.from({ length: 30 }, (_, i) => ({ ts: now() - i, metrics: { no2: i } }));
    await client.publishAsync('sensors/s-1/readings', JSON.stringify(batch), { qos: 1 });
    expect(await entries<DeadLetter>('dlq')).toEqual([]);
    expect(await ctx.redis.xlen('readings')).toBe(30);
  });

  test('wrong key, unknown sensor and no credentials are refused at CONNECT', async () => {
    await expect(device('s-1', 'smd_wrong')).rejects.toThrow(/Bad username or password/i);
    await expect(device('nobody', keys.get('s-1'))).rejects.toThrow(/Bad username or password/i);
    await expect(
      mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 0 }),
    ).rejects.toThrow(/Bad username or password/i);
  });

  test("another sensor's topic: refused into the dlq, nothing stored, the connection stays", async () => {
    const client = await device('s-1');
    const body = JSON.stringify({ ts: now(), metrics: { pm25: 1 } });
    await client.publishAsync('sensors/s-2/readings', body, { qos: 1 });
    await client.publishAsync('elsewhere/s-1', body, { qos: 1 });
    expect(await ctx.redis.xlen('readings')).toBe(0);
    const letters = await entries<DeadLetter>('dlq');
    expect(letters.map((letter) => letter.reason)).toEqual([
      expect.stringContaining('topic_not_allowed'),
      expect.stringContaining('bad_topic'),
    ]);
    expect(client.connected).toBe(true);
    await client.publishAsync('sensors/s-1/readings', body, { qos: 1 });
    expect(await ctx.redis.xlen('readings')).toBe(1);
  });

  test("subscribing to another sensor's topics is refused, its own subtree allowed", async () => {
    const client = await device('s-1');
    // mqtt.js reports a partly refused SUBSCRIBE as an error that still carries the SUBACK.
    const suback = await client
      .subscribeAsync({
        'sensors/s-2/readings': { qos: 1 },
        'sensors/+/readings': { qos: 1 },
        '#': { qos: 1 },
        'sensors/s-1/commands': { qos: 1 },
      })
      .then(
        () => undefined,
        (error: { packet?: { granted: number[] } }) => error.packet,
      );
    expect(suback?.granted).toEqual([128, 128, 128, 1]);
    expect(client.connected).toBe(true);
  });

  const ok = { no2: 40 };
  test.each([
    ['malformed JSON', () => '{"ts": 1, "metrics": {', 'malformed_json', undefined],
    ['non-number', () => ({ ts: now(), metrics: { pm25: '12', ...ok } }), 'metrics.pm25 not_a_number', ok],
    ['out of range', () => ({ ts: now(), metrics: { rh: 300, ...ok } }), 'metrics.rh out_of_range', ok],
    ['sentinel -999', () => ({ ts: now(), metrics: { temp: -999, ...ok } }), 'metrics.temp sentinel', ok],
    ['future ts', () => ({ ts: now() + 600_000, metrics: ok }), 'ts future_timestamp', undefined],
    [
      'unknown metric',
      () => ({ ts: now(), metrics: { bogus: 1, ...ok } }),
      'metrics.bogus unknown_metric',
      ok,
    ],
    [
      'oversized payload',
      () => ({ ts: now(), metrics: ok, pad: 'x'.repeat(MAX_PAYLOAD) }),
      'payload_too_large',
      undefined,
    ],
    ['empty batch', () => [], 'no_metrics', undefined],
    [
      'bad reading in a batch',
      () => [
        { ts: now(), metrics: ok },
        { ts: now(), metrics: { pm25: Number.NaN } },
      ],
      '[1].metrics.pm25 not_a_number',
      ok,
    ],
  ])(
    '%s: a dead letter names it, good fields kept, the connection stays up',
    async (_name, make, reason, kept) => {
      const client = await device('s-1');
      const body = make();
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      await client.publishAsync('sensors/s-1/readings', payload, { qos: 1 });
      const [letter, ...more] = await entries<DeadLetter>('dlq');
      expect(more).toEqual([]);
      expect(letter?.source).toBe('mqtt');
      expect(letter?.reason).toContain(reason);
      expect(letter?.payload).toBe(payload.slice(0, 4_096));
      const stored = await entries<Reading>('readings');
      expect(stored.map((reading) => reading.metrics)).toEqual(kept ? [kept] : []);
      // The same connection still works.
      await client.publishAsync('sensors/s-1/readings', JSON.stringify({ ts: now(), metrics: ok }), {
        qos: 1,
      });
      expect(await ctx.redis.xlen('readings')).toBe(stored.length + 1);
    },
  );

  test('a rotated key is refused at once and its live connection is closed', async () => {
    const oldKey = keys.get('s-rotated') ?? '';
    const client = await device('s-rotated', oldKey);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const fresh = await ctx.sensors.rotateDeviceKey('s-rotated', 'test');
    await expect(device('s-rotated', oldKey)).rejects.toThrow(/Bad username or password/i);
    await closed; // the periodic re-check (100 ms here) dropped it
    const again = await device('s-rotated', fresh.key);
    expect(again.connected).toBe(true);
  });
});
