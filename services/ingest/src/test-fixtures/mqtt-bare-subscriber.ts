/**
 * Bench subscriber for the raw broker ceiling (a child of scripts/bench-ingest.ts): a bare mqtt.js
 * MQTT 5 client on the same shared subscription at QoS 1 that only counts (mqtt.js acks at once).
 * Prints "ready", then every 100 ms a JSON line { received, firstAt, lastAt }.
 */
import mqtt from 'mqtt';

const client = await mqtt.connectAsync(process.env.URL ?? 'mqtt://127.0.0.1:1883', {
  clientId: `bare-${process.pid}`,
  protocolVersion: 5,
  reconnectPeriod: 0,
});
let received = 0;
let firstAt = 0;
let lastAt = 0;
client.on('message', () => {
  lastAt = performance.timeOrigin + performance.now();
  if (received++ === 0) firstAt = lastAt;
});
await client.subscribeAsync('$share/bare/sensors/+/readings', { qos: 1 });
process.stdout.write('ready\n');
setInterval(() => process.stdout.write(`${JSON.stringify({ received, firstAt, lastAt })}\n`), 100);
