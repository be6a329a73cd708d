import { afterEach, expect, test } from 'bun:test';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startMosquitto, tempDir, useServers } from '@sensormesh/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { manualClock } from './clock.ts';
import { connectDevices, type Devices } from './devices.ts';
import { fleet } from './fleet.ts';
import { replay } from './replay.ts';
import { pump } from './run.ts';
import { BEIJING_STATIONS, stationSensorId } from './stations.ts';

const servers = useServers({ mosquitto: true });
const DATA = new URL('../../../../shared/data/beijing/train', import.meta.url).pathname;
const open: Array<MqttClient | Devices> = [];
afterEach(async () => {
  await Promise.all(
    open.splice(0).map((client) => (client instanceof mqtt.MqttClient ? client.endAsync() : client.close())),
  );
});

/** A subscriber on sensors/+/readings that resolves once it has `count` messages. */
async function subscriber(count: number) {
  const client = await mqtt.connectAsync(servers.mosquitto.url, { clientId: `sub-${Bun.randomUUIDv7()}` });
  open.push(client);
  await client.subscribeAsync('sensors/+/readings', { qos: 1 });
  const messages: Array<{ topic: string; payload: Record<string, unknown> }> = [];
  const all = new Promise<typeof messages>((resolve) => {
    client.on('message', (topic, payload) => {
      messages.push({ topic, payload: JSON.parse(payload.toString()) });
      if (messages.length === count) resolve(messages);
    });
  });
  return { messages, all };
}

test('replay publishes every station hour over its own connection, topic and payload as ingest expects', async () => {
  const received = await subscriber(12 * 5);
  const devices = await connectDevices(
    BEIJING_STATIONS.map((station) => ({ sensorId: stationSensorId(station) })),
    { url: servers.mosquitto.url, qos: 1 },
  );
  open.push(devices);
  const clock = manualClock(Date.now() - 10_000);
  const steps = replay({ dir: DATA, speed: 3_600, clock, loop: false });
  async function* five() {
    let n = 0;
    for await (const step of steps) {
      yield step.readings;
      if (++n === 5) return;
    }
  }
  expect(await pump(five(), devices)).toBe(60);
  const messages = await received.all;
  expect(devices.stats).toEqual({ published: 60, acked: 60, dropped: 0, errors: 0 });
  const dongsi = messages.filter((m) => m.topic === 'sensors/aq-beijing-dongsi/readings');
  expect(dongsi).toHaveLength(5);
  expect(dongsi[0]?.payload).toEqual({
    ts: clock.now() - 4_000,
    metrics: {
      pm25: 9,
      pm10: 9,
      so2: 3,
      no2: 17,
      co: 300,
      o3: 89,
      temp: -0.5,
      pressure: 1024.5,
      dewpoint: -21.4,
      rain: 0,
      wind_speed: 5.7,
      wind_dir: 337.5,
    },
    messageId: `aq-beijing-dongsi:${clock.now() - 4_000}`,
  });
  expect(new Set(messages.map((m) => m.topic)).size).toBe(12);
});

test('a fleet sends its exact message count at QoS 0, 3 to 5 metrics each', async () => {
  const received = await subscriber(200);
  const devices = await connectDevices(
    Array.from({ length: 20 }, (_, i) => ({ sensorId: `sim-${String(i + 1).padStart(5, '0')}` })),
    { url: servers.mosquitto.url, qos: 0 },
  );
  open.push(devices);
  const clock = manualClock(Date.now() - 60_000);
  expect(await pump(fleet({ sensors: 20, rate: 100, durationMs: 2_000, clock }), devices)).toBe(200);
  const messages = await received.all;
  const perSensor = Map.groupBy(messages, (m) => m.topic);
  expect(perSensor.size).toBe(20);
  for (const [, list] of perSensor) {
    expect(list).toHaveLength(10);
    const counts = new Set(list.map((m) => Object.keys(m.payload.metrics as object).length));
    expect(counts.size).toBe(1); // a sensor keeps its metrics
    expect([3, 4, 5]).toContain([...counts][0] as number);
  }
});

test('each device logs in as its sensor id with its device key; a wrong key is refused', async () => {
  // The embedded broker checks device keys in ingest; a Mosquitto password file stands in for it here.
  const dir = await tempDir('mosquitto-auth');
  const passwords = join(dir, 'passwords');
  await Bun.write(passwords, '');
  const made = Bun.spawnSync(['mosquitto_passwd', '-b', passwords, 'aq-beijing-dongsi', 'smd_right']);
  expect(made.exitCode).toBe(0);
  // Anonymous clients stay allowed (testkit's readiness probe is one); a client that names a user must match.
  const broker = await startMosquitto([`password_file ${passwords}`]);
  try {
    const devices = await connectDevices([{ sensorId: 'aq-beijing-dongsi', deviceKey: 'smd_right' }], {
      url: broker.url,
      qos: 1,
    });
    await devices.publish({ sensorId: 'aq-beijing-dongsi', ts: Date.now(), metrics: { pm25: 1 } });
    expect(devices.stats.acked).toBe(1);
    await devices.close();

    const controller = new AbortController();
    const refused: string[] = [];
    const wrong = connectDevices([{ sensorId: 'aq-beijing-dongsi', deviceKey: 'smd_wrong' }], {
      url: broker.url,
      qos: 1,
      signal: controller.signal,
      onWaiting: (sensorId, error) => {
        refused.push(`${sensorId}: ${error.message}`);
        controller.abort();
      },
    });
    await expect(wrong).rejects.toThrow('aborted while connecting');
    expect(refused).toEqual([
      expect.stringMatching(/^aq-beijing-dongsi: .*(Not authorized|Bad User Name or Password)/),
    ]);
  } finally {
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
