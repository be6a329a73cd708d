import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** A frame as the raw client parsed it. */
export interface RawFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client on a bare TCP socket, for what a real client cannot be told to do: stop
 * reading (so TCP backpressure reaches the server) and ignore pings (a dead peer). Test-only.
 */
export class RawSocket {
  readonly frames: RawFrame[] = [];
  /** Resolves with the server's close frame (code and reason) or when the connection ends. */
  readonly closed: Promise<{ code?: number; reason?: string; ended: boolean }>;
  private buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;

  private constructor(private readonly socket: Socket) {
    let settle: (value: { code?: number; reason?: string; ended: boolean }) => void = () => {};
    this.closed = new Promise((resolve) => {
      settle = resolve;
    });
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
      const close = this.frames.find((frame) => frame.opcode === 8);
      if (close)
        settle({
          code: close.payload.readUInt16BE(0),
          reason: close.payload.subarray(2).toString(),
          ended: false,
        });
      this.wake?.();
    });
    const end = () => {
      this.ended = true;
      settle({ ended: true });
      this.wake?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  /** Connects and completes the opening handshake. */
  static open(url: string): Promise<RawSocket> {
    const { hostname, port, pathname, search } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        const key = randomBytes(16).toString('base64');
        socket.write(
          `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        if (!head.subarray(0, end).toString().startsWith('HTTP/1.1 101')) {
          reject(new Error(`upgrade refused: ${head.subarray(0, end).toString()}`));
          socket.destroy();
          return;
        }
        const raw = new RawSocket(socket);
        const rest = head.subarray(end + 4);
        if (rest.length > 0) socket.emit('data', rest);
        resolve(raw);
      };
      socket.on('data', onData);
      socket.on('error', reject);
    });
  }

  private parse(): void {
    for (;;) {
      const buffer = this.buffer;
      if (buffer.length < 2) return;
      let length = (buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      this.frames.push({
        opcode: (buffer[0] as number) & 0x0f,
        payload: buffer.subarray(offset, offset + length),
      });
      this.buffer = buffer.subarray(offset + length);
    }
  }

  /** Sends a masked text frame, as clients must. */
  send(message: unknown): void {
    const payload = Buffer.from(typeof message === 'string' ? message : JSON.stringify(message));
    const mask = randomBytes(4);
    const header =
      payload.length < 126
        ? Buffer.from([0x81, 0x80 | payload.length])
        : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const masked = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number)));
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  /** The text frames received, parsed. */
  texts(): Array<Record<string, unknown>> {
    return this.frames
      .filter((frame) => frame.opcode === 1)
      .map((frame) => JSON.parse(frame.payload.toString()) as Record<string, unknown>);
  }

  /** Waits for a text frame matching `predicate`. */
  async text(predicate: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.texts().find(predicate);
      if (found) return found;
      if (this.ended) throw new Error('connection ended before the frame came');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Stops reading: the kernel buffers fill and the server's queue for this socket grows. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
