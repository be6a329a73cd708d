/**
 * Bench subscriber for the raw broker ceiling (a child of scripts/bench-ingest.ts): a bare mqtt.js
 * MQTT 5 client on a shared subscription at QoS 1 that only counts (mqtt.js acks at once). The
 * group is its own: Mosquitto 2.0.11 lost 2-4 QoS 1 messages of ~270,000 when a second ceiling
 * phase joined the group the first phase's subscriber had left.
 * With FRAMES=1 it takes PUBLISH packets off the socket as ingest does (PublishFrames, its own
 * PUBACK at once) instead of through mqtt.js's parser: the tighter ceiling of the two.
 * Prints "ready", then every 100 ms a JSON line { received, firstAt, lastAt }.
 */
import type { Duplex } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { PublishFrames } from '../modules/mqtt/publish-frames.ts';

const client = mqtt.connect(process.env.URL ?? 'mqtt://127.0.0.1:1883', {
  clientId: `bare-${process.pid}`,
  protocolVersion: 5,
  reconnectPeriod: 0,
  manualConnect: true,
});
let received = 0;
let firstAt = 0;
let lastAt = 0;
const count = () => {
  lastAt = performance.timeOrigin + performance.now();
  if (received++ === 0) firstAt = lastAt;
};
client.on('message', count);
if (process.env.FRAMES === '1') {
  // The same mqtt.js internal ingest hooks (mqtt is pinned for it). PUBACKs go out together once per
  // turn of the event loop, as ingest writes them, not one socket write each.
  const internals = client as unknown as { streamBuilder: (client: MqttClient) => Duplex };
  const build = internals.streamBuilder;
  let acks: number[] = [];
  internals.streamBuilder = (self) => {
    const frames: PublishFrames = new PublishFrames(build(self), ({ messageId }) => {
      count();
      if (messageId === undefined) return;
      if (acks.length === 0)
        setImmediate(() => {
          const bytes = Buffer.alloc(acks.length * 4);
          for (const [i, id] of acks.entries()) bytes.set([0x40, 2, id >> 8, id & 0xff], i * 4);
          acks = [];
          frames.write(bytes);
        });
      acks.push(messageId);
    });
    return frames;
  };
}
client.connect();
await new Promise((resolve, reject) => {
  client.once('connect', resolve);
  client.once('error', reject);
});
await client.subscribeAsync(`$share/bare-${process.pid}/sensors/+/readings`, { qos: 1 });
process.stdout.write('ready\n');
setInterval(() => process.stdout.write(`${JSON.stringify({ received, firstAt, lastAt })}\n`), 100);
