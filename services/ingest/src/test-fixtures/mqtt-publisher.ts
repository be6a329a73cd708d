/**
 * Bench publisher (a child of scripts/bench-ingest.ts): CONNECTIONS mqtt.js clients publish readings
 * of SENSORS sensors (3 to 5 metrics each) at QoS QOS, RATE msg/s in total (0: as fast as the broker
 * takes them, WINDOW unacknowledged per connection) for DURATION_MS. Each messageId carries its
 * publish time (performance.timeOrigin + performance.now(), comparable across processes). Prints one
 * JSON line: { published, rows, acked, startedAt, endedAt, cpuSeconds }.
 */
import mqtt, { type MqttClient } from 'mqtt';

const env = process.env;
const URL = env.URL ?? 'mqtt://127.0.0.1:1883';
const RATE = Number(env.RATE ?? 0);
const DURATION_MS = Number(env.DURATION_MS ?? 10_000);
const SENSORS = Number(env.SENSORS ?? 1_000);
const CONNECTIONS = Number(env.CONNECTIONS ?? 4);
const WINDOW = Number(env.WINDOW ?? 1_000);
const QOS = Number(env.QOS ?? 1) as 0 | 1;
const T0 = Number(env.T0 ?? Date.now() - 3_600_000);
const PREFIX = env.PREFIX ?? 'bench';
const now = () => performance.timeOrigin + performance.now();

let published = 0;
let rows = 0;
let acked = 0;

function payload(i: number): string {
  // ts unique per sensor: the writer keeps one row per (sensor, metric, ts).
  const ts = T0 + Math.floor(i / SENSORS);
  const n = 3 + (i % 3);
  rows += n;
  const metrics =
    n === 3
      ? `{"pm25":${i % 500},"pm10":${i % 900},"no2":${i % 200}}`
      : n === 4
        ? `{"pm25":${i % 500},"pm10":${i % 900},"no2":${i % 200},"temp":${(i % 60) - 10}}`
        : `{"pm25":${i % 500},"pm10":${i % 900},"no2":${i % 200},"temp":${(i % 60) - 10},"rh":${i % 100}}`;
  return `{"ts":${ts},"metrics":${metrics},"messageId":"${i}@${now().toFixed(3)}"}`;
}

async function run(client: MqttClient, index: number, startedAt: number): Promise<void> {
  let i = index;
  let open = 0;
  const perConnection = RATE / CONNECTIONS;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = now() - startedAt;
      const done = elapsed >= DURATION_MS;
      const due = RATE > 0 ? Math.floor((elapsed / 1_000) * perConnection) : Number.POSITIVE_INFINITY;
      let sent = (i - index) / CONNECTIONS;
      let burst = 0; // QoS 0 has no acks to wait for: yield to the socket every WINDOW messages
      while (!done && open < WINDOW && sent < due && burst++ < WINDOW) {
        const topic = `sensors/${PREFIX}-${i % SENSORS}/readings`;
        const body = payload(i);
        i += CONNECTIONS;
        sent++;
        published++;
        if (QOS === 0) {
          client.publish(topic, body, { qos: 0 });
          continue;
        }
        open++;
        client.publish(topic, body, { qos: 1 }, (error) => {
          open--;
          if (!error) acked++;
        });
      }
      if (done && open === 0) return resolve();
      setTimeout(tick, RATE > 0 || open >= WINDOW ? 1 : 0);
    };
    tick();
  });
}

const clients = await Promise.all(
  Array.from({ length: CONNECTIONS }, (_, c) =>
    mqtt.connectAsync(URL, { clientId: `${PREFIX}-pub-${process.pid}-${c}`, reconnectPeriod: 0 }),
  ),
);
const cpuFrom = process.cpuUsage();
const startedAt = now();
await Promise.all(clients.map((client, c) => run(client, c, startedAt)));
const endedAt = now();
await Promise.all(clients.map((client) => client.endAsync()));
const cpu = process.cpuUsage(cpuFrom);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(`${JSON.stringify({ published, rows, acked, startedAt, endedAt, cpuSeconds })}\n`);
