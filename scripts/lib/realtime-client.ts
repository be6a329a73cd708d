/**
 * A lean WebSocket client for `scripts/bench realtime`: bare TCP, frame headers parsed by hand,
 * payloads read only for `"seq"` and `"sentAt"`, so thousands of them in one process measure the
 * server rather than the clients. Answers pings; records close codes.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** Latency buckets of 50 µs up to 1 s; slower arrivals count in `overflow`. */
const BUCKET_MS = 0.05;
const BUCKETS = 20_000;
const histogram = new Uint32Array(BUCKETS);
let overflow = 0;
let maxLatencyMs = 0;

const SEQ = Buffer.from('"seq":');
const SENT_AT = Buffer.from('"sentAt":');

function numberAfter(payload: Buffer, key: Buffer): number {
  const at = payload.indexOf(key);
  if (at < 0) return Number.NaN;
  let end = at + key.length;
  while (end < payload.length && payload[end] !== 44 && payload[end] !== 125) end++; // , or }
  return Number(payload.toString('latin1', at + key.length, end));
}

function masked(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const header =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | payload.length])
      : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const body = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([header, mask, body]);
}

/** One bench client: subscribes to `sensors` (or the whole stream when null) as subscription "s1". */
export class RawClient {
  received = 0;
  outOfOrder = 0;
  firstArrival = 0;
  lastArrival = 0;
  closeCode: number | undefined;
  private lastSeq = -1;
  private socket: Socket | undefined;
  private pending = Buffer.alloc(0);
  private subscribed: (() => void) | undefined;

  constructor(
    private readonly url: string,
    private readonly sensors: string[] | null,
    private readonly latencyFromSeq: number,
  ) {}

  /** Connects, upgrades, subscribes; resolves on the `subscribed` frame. */
  open(): Promise<void> {
    const { hostname, port, pathname } = new URL(this.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      this.socket = socket;
      socket.setNoDelay(true);
      let upgraded = false;
      socket.on('connect', () => {
        const key = randomBytes(16).toString('base64');
        socket.write(
          `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.on('data', (chunk: Buffer) => {
        if (upgraded) return this.onData(chunk);
        this.pending = Buffer.concat([this.pending, chunk]);
        const end = this.pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!this.pending.subarray(0, 12).toString().includes('101'))
          return reject(new Error('upgrade refused'));
        upgraded = true;
        const rest = this.pending.subarray(end + 4);
        this.pending = Buffer.alloc(0);
        this.subscribed = resolve;
        const filter = this.sensors ? { sensorIds: this.sensors } : undefined;
        socket.write(
          masked(
            0x1,
            Buffer.from(JSON.stringify({ type: 'subscribe', id: 's1', channel: 'readings', filter })),
          ),
        );
        if (rest.length > 0) this.onData(rest);
      });
      socket.on('error', reject);
      socket.on('close', () => this.subscribed?.());
    });
  }

  private onData(chunk: Buffer): void {
    const arrival = performance.timeOrigin + performance.now();
    let buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (buffer.length < 2) break;
      let length = (buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) break;
      this.frame((buffer[0] as number) & 0x0f, buffer.subarray(offset, offset + length), arrival);
      buffer = buffer.subarray(offset + length);
    }
    this.pending = buffer.length > 0 ? Buffer.from(buffer) : Buffer.alloc(0);
  }

  private frame(opcode: number, payload: Buffer, arrival: number): void {
    if (opcode === 0x9) {
      this.socket?.write(masked(0xa, payload));
      return;
    }
    if (opcode === 0x8) {
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      return;
    }
    if (opcode !== 0x1) return;
    if (this.subscribed) {
      // The first text frame answers the subscription.
      const done = this.subscribed;
      this.subscribed = undefined;
      done();
      return;
    }
    const seq = numberAfter(payload, SEQ);
    if (Number.isNaN(seq)) return;
    this.received++;
    if (this.firstArrival === 0) this.firstArrival = arrival;
    this.lastArrival = arrival;
    if (seq <= this.lastSeq) this.outOfOrder++;
    this.lastSeq = seq;
    if (seq < this.latencyFromSeq) return;
    const latency = arrival - numberAfter(payload, SENT_AT);
    const bucket = Math.floor(latency / BUCKET_MS);
    if (bucket < BUCKETS) histogram[Math.max(0, bucket)] = (histogram[Math.max(0, bucket)] as number) + 1;
    else overflow++;
    if (latency > maxLatencyMs) maxLatencyMs = latency;
  }

  destroy(): void {
    this.socket?.destroy();
  }

  /** What a process's clients measured, for the orchestrator to merge. */
  static summary(clients: RawClient[]) {
    const buckets: Record<number, number> = {};
    histogram.forEach((count, index) => {
      if (count > 0) buckets[index] = count;
    });
    const codes: Record<string, number> = {};
    for (const client of clients)
      if (client.closeCode !== undefined) codes[client.closeCode] = (codes[client.closeCode] ?? 0) + 1;
    return {
      received: clients.reduce((sum, client) => sum + client.received, 0),
      outOfOrder: clients.reduce((sum, client) => sum + client.outOfOrder, 0),
      firstArrival: Math.min(...clients.map((client) => client.firstArrival || Number.POSITIVE_INFINITY)),
      lastArrival: Math.max(...clients.map((client) => client.lastArrival)),
      closeCodes: codes,
      latency: { bucketMs: BUCKET_MS, buckets, overflow, maxMs: maxLatencyMs },
    };
  }
}
