import { Duplex } from 'node:stream';

/** A PUBLISH taken off the connection before mqtt.js saw it. */
export interface Publish {
  topic: string;
  /** A view of the received bytes. */
  payload: Buffer;
  qos: 0 | 1;
  /** Present when qos is 1. */
  messageId?: number;
}

const PUBLISH = 3;

/** The Remaining Length at `at` (MQTT 5 §1.5.5): [value, bytes], or undefined while incomplete. */
function varInt(bytes: Buffer, at: number, end: number): [number, number] | undefined {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    if (at + i >= end) return undefined;
    const byte = bytes[at + i] as number;
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) return [value, i + 1];
    multiplier *= 128;
  }
  return [-1, 4]; // a fifth length byte: malformed, left to mqtt.js to refuse
}

/**
 * Reads one MQTT 5 PUBLISH of QoS 0 or 1 from its variable header and payload (`start`..`end`),
 * or answers undefined for one this fast path leaves to mqtt.js: QoS 2, an empty topic (a topic
 * alias, which ingest never allows), or anything that does not add up.
 */
function readPublish(flags: number, bytes: Buffer, start: number, end: number): Publish | undefined {
  const qos = (flags >> 1) & 3;
  if (qos > 1 || start + 2 > end) return undefined;
  const topicLength = bytes.readUInt16BE(start);
  let at = start + 2 + topicLength;
  if (topicLength === 0 || at > end) return undefined;
  const topic = bytes.toString('utf8', start + 2, at);
  let messageId: number | undefined;
  if (qos === 1) {
    if (at + 2 > end) return undefined;
    messageId = bytes.readUInt16BE(at);
    at += 2;
  }
  const properties = varInt(bytes, at, end);
  if (!properties || properties[0] < 0 || at + properties[1] + properties[0] > end) return undefined;
  at += properties[1] + properties[0];
  const payload = bytes.subarray(at, end);
  return messageId === undefined ? { topic, payload, qos: 0 } : { topic, payload, qos: 1, messageId };
}

/**
 * The connection as mqtt.js sees it, minus the PUBLISH packets of QoS 0 and 1: those go to
 * `onPublish` straight from the socket's bytes, and every other packet (CONNACK, SUBACK, PINGRESP,
 * a QoS 2 PUBLISH, …) is passed on to mqtt.js unchanged and in order. mqtt.js parses a packet
 * through a byte list, a state machine, a packet object and a tick of its own (~2 µs of CPU per
 * message); splitting the frames here costs a fraction of that. Writes go to the socket as they are.
 * mqtt.js then never acknowledges those messages: whoever handles `onPublish` must.
 */
export class PublishFrames extends Duplex {
  private rest: Buffer | undefined;
  private readonly socket: Duplex;

  constructor(
    socket: Duplex,
    private readonly onPublish: (publish: Publish, frames: PublishFrames) => void,
  ) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  /** Stops reading from the socket (TCP pushes back on the broker) until `resume`. */
  pauseSocket(): void {
    this.socket.pause();
  }

  resumeSocket(): void {
    this.socket.resume();
  }

  private feed(chunk: Buffer): void {
    const bytes = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    const end = bytes.length;
    let at = 0;
    let passFrom = -1; // start of the run of frames to pass on to mqtt.js
    while (at < end) {
      const length = varInt(bytes, at + 1, end);
      if (!length) break;
      const [size, lengthBytes] = length;
      if (size < 0) {
        // Malformed: hand everything from here to mqtt.js, which closes the connection.
        if (passFrom < 0) passFrom = at;
        at = end;
        break;
      }
      const body = at + 1 + lengthBytes;
      if (body + size > end) break;
      const first = bytes[at] as number;
      const publish = first >> 4 === PUBLISH ? readPublish(first & 0xf, bytes, body, body + size) : undefined;
      if (publish) {
        if (passFrom >= 0) {
          this.push(bytes.subarray(passFrom, at));
          passFrom = -1;
        }
        this.onPublish(publish, this);
      } else if (passFrom < 0) passFrom = at;
      at = body + size;
    }
    if (passFrom >= 0) this.push(bytes.subarray(passFrom, at));
    if (at < end) this.rest = bytes.subarray(at);
  }

  override _read(): void {}

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.socket.write(chunk, encoding)) callback();
    else this.socket.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
