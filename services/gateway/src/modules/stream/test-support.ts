import { createPublisher, type Reading } from '@sensormesh/bus';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { type StreamFanout, startStreamFanout } from './fanout.ts';

/** A server frame as the tests see it. */
export interface Frame {
  type: string;
  id?: string;
  channel?: string;
  cursor?: string;
  code?: string;
  message?: string;
  details?: unknown;
  data?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A WebSocket client that queues every frame, so a test awaits frames rather than time. */
export class TestSocket {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private read = 0;
  private wake: (() => void) | undefined;
  private isClosed = false;

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener('message', (event) => {
      this.frames.push(JSON.parse(String(event.data)) as Frame);
      this.wake?.();
    });
    this.closed = new Promise((resolve) =>
      ws.addEventListener('close', (event) => {
        this.isClosed = true;
        this.wake?.();
        resolve({ code: event.code, reason: event.reason });
      }),
    );
  }

  /** Opens a socket and resolves once it is open (or rejects if the upgrade failed). */
  static open(url: string): Promise<TestSocket> {
    const socket = new TestSocket(new WebSocket(url));
    return new Promise((resolve, reject) => {
      socket.ws.addEventListener('open', () => resolve(socket));
      socket.ws.addEventListener('error', () => reject(new Error(`could not open ${url}`)));
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next unread frame matching `predicate` (frames before it are passed over). */
  async next(predicate: (frame: Frame) => boolean = () => true): Promise<Frame> {
    for (;;) {
      while (this.read < this.frames.length) {
        const frame = this.frames[this.read++] as Frame;
        if (predicate(frame)) return frame;
      }
      if (this.isClosed)
        throw new Error(`socket closed before the frame came; got ${JSON.stringify(this.frames.slice(-3))}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** The first frame ever received that matches (read or not), waiting for it if need be. */
  async seen(predicate: (frame: Frame) => boolean): Promise<Frame> {
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      if (this.isClosed) throw new Error('socket closed before the frame came');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** The next frame of `type` (for subscription `id`, when given). */
  nextOf(type: string, id?: string): Promise<Frame> {
    return this.next((frame) => frame.type === type && (id === undefined || frame.id === id));
  }

  /** Collects event frames of subscription `id` until `done` says enough. */
  async events(id: string, done: (events: Frame[]) => boolean): Promise<Frame[]> {
    const events: Frame[] = [];
    while (!done(events)) events.push(await this.nextOf('event', id));
    return events;
  }

  /** A ping answered by a pong: proves the socket is up and every earlier message was handled. */
  async roundTrip(): Promise<void> {
    this.send({ type: 'ping' });
    await this.nextOf('pong');
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close(1000);
    return this.closed;
  }
}

/** A gateway listening on loopback with its stream fan-out running, plus a bus publisher on its Redis. */
export async function streamGateway(
  servers: { redisUrl: string; clickhouseUrl: string },
  overrides: Record<string, string> = {},
  options: { database?: string; chdbPath?: string } = {},
) {
  const gw: TestGateway = await testGateway(servers, overrides, options);
  gw.app.listen({ port: 0, hostname: '127.0.0.1' });
  const fanout: StreamFanout = await startStreamFanout(gw.ctx, { blockMs: 100 });
  const url = `ws://127.0.0.1:${gw.app.server?.port}/api/v1/stream`;
  const publisher = createPublisher(gw.redis);
  return {
    gw,
    url,
    fanout,
    publisher,
    /** Opens a socket (with `?token=` when given); the fan-out's stop closes it. */
    async connect(token?: string): Promise<TestSocket> {
      return TestSocket.open(token ? `${url}?token=${encodeURIComponent(token)}` : url);
    },
    async close() {
      await fanout.stop();
      await gw.app.stop(true);
      await gw.close();
    },
  };
}

/** The stream gateway of a test file. */
export type StreamGateway = Awaited<ReturnType<typeof streamGateway>>;

/** A reading of `sensorId` numbered `n` (ts and values follow n, so order is checkable). */
export function reading(sensorId: string, n: number, metrics: Record<string, number> = {}): Reading {
  return {
    sensorId,
    ts: 1_732_000_000_000 + n * 1_000,
    metrics: { pm25: n, temp: 20 + (n % 7), ...metrics },
    receivedAt: 1_732_000_000_500 + n * 1_000,
    source: 'test',
  };
}
