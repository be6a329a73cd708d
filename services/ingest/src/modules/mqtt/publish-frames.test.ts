import { expect, test } from 'bun:test';
import { type Duplex, PassThrough } from 'node:stream';
import { type Publish, PublishFrames } from './publish-frames.ts';

/** An MQTT packet: fixed header byte, Remaining Length (MQTT 5 §1.5.5), then the body. */
function frame(first: number, ...body: Buffer[]): Buffer {
  const rest = Buffer.concat(body);
  const length: number[] = [];
  let n = rest.length;
  do {
    length.push((n % 128) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...length]), rest]);
}
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const str = (s: string) => Buffer.concat([u16(Buffer.byteLength(s)), Buffer.from(s)]);
function publish(
  qos: number,
  topic: string,
  payload: string,
  messageId?: number,
  properties = Buffer.alloc(0),
) {
  const id = messageId === undefined ? [] : [u16(messageId)];
  return frame(
    0x30 | (qos << 1),
    str(topic),
    ...id,
    Buffer.from([properties.length]),
    properties,
    Buffer.from(payload),
  );
}

/** The socket's bytes in `pieces` chunks split at the given offsets, through PublishFrames. */
async function run(bytes: Buffer, cuts: number[]) {
  const socket = new PassThrough();
  const published: Publish[] = [];
  const frames = new PublishFrames(socket as Duplex, (publish) => published.push(publish));
  const passed: Buffer[] = [];
  frames.on('data', (chunk: Buffer) => passed.push(chunk));
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    socket.write(bytes.subarray(from, cut));
    from = cut;
  }
  await Bun.sleep(0);
  return { published, passed: Buffer.concat(passed) };
}

const connack = frame(0x20, Buffer.from([0, 0, 0])); // no session, success, no properties
const suback = frame(0x90, u16(1), Buffer.from([0, 1]));
const qos0 = publish(0, 'sensors/a-1/readings', '{"ts":1}');
// Payload format indicator and a user property; 300 bytes of payload need a two-byte length.
const props = Buffer.concat([Buffer.from([0x01, 1, 0x26]), str('a'), str('b')]);
const qos1 = publish(1, 'sensors/é/readings', 'x'.repeat(300), 4242, props);
const qos2 = publish(2, 'sensors/q2/readings', 'z', 7);
const ping = frame(0xd0);
const stream = Buffer.concat([connack, suback, qos0, qos1, qos2, ping, qos0]);

test('PublishFrames: QoS 0 and 1 PUBLISHes go to the handler, every other packet on to mqtt.js, however the bytes are cut', async () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const { published, passed } = await run(stream, cut === 0 ? [] : [cut]);
    expect(published.map((p) => [p.topic, p.qos, p.messageId, p.payload.toString()])).toEqual([
      ['sensors/a-1/readings', 0, undefined, '{"ts":1}'],
      ['sensors/é/readings', 1, 4242, 'x'.repeat(300)],
      ['sensors/a-1/readings', 0, undefined, '{"ts":1}'],
    ]);
    expect(passed.equals(Buffer.concat([connack, suback, qos2, ping]))).toBe(true);
  }
  // One byte at a time.
  const { published, passed } = await run(
    stream,
    Array.from({ length: stream.length - 1 }, (_, i) => i + 1),
  );
  expect(published).toHaveLength(3);
  expect(passed.equals(Buffer.concat([connack, suback, qos2, ping]))).toBe(true);
});

test('PublishFrames: what mqtt.js writes reaches the socket', async () => {
  const socket = new PassThrough();
  const frames = new PublishFrames(socket as Duplex, () => {});
  const written: Buffer[] = [];
  socket.on('data', () => {}); // the socket's readable side is what the broker would send; unused
  const sink = socket as unknown as { write: (chunk: Buffer) => boolean };
  const write = sink.write.bind(socket);
  sink.write = (chunk: Buffer) => {
    written.push(Buffer.from(chunk));
    return write(Buffer.alloc(0));
  };
  frames.write(Buffer.from([0x40, 2, 0, 1]));
  await Bun.sleep(0);
  expect(Buffer.concat(written)).toEqual(Buffer.from([0x40, 2, 0, 1]));
});
