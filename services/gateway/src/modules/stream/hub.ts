import { compareIds } from '@sensormesh/bus';
import type { Logger } from '@sensormesh/log';
import type { SensorService } from '@sensormesh/registry';
import type { Store } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { GatewayConfig } from '../../env.ts';
import type { AccessTokens } from '../auth/tokens.ts';
import { CHANNELS, type Channel } from './channels.ts';
import { decodeEntry } from './entries.ts';
import type { StreamMetrics } from './metrics.ts';
import type { ChannelName } from './model.ts';
import { CloseCode } from './model.ts';
import { needsRegistry, type SensorDirectory, selectSensors } from './sensor-directory.ts';
import { Session, type Socket } from './session.ts';
import { type FrameSink, TopicIndex } from './topics.ts';

/** What publishes to Bun topics: the Bun server(s) the stream route is served by. */
export interface TopicPublisher {
  publish(topic: string, data: string): number;
}

/** What the hub is built from. */
export interface StreamHubDeps {
  config: GatewayConfig;
  /** Commands (XRANGE, XINFO in a replay); the fan-out reads on its own connection. */
  redis: Redis;
  store: Store;
  logger: Logger;
  tokens: AccessTokens;
  sensors: SensorService;
  directory: SensorDirectory;
  metrics: StreamMetrics;
}

/**
 * How often at most the fan-out looks for sockets over the buffer limit: one native call per socket
 * (5,000 sockets cost ~0.5 ms), and a socket gains at most 100 ms of stream between two looks.
 */
const BACKPRESSURE_CHECK_MS = 100;

/**
 * The stream module's state in one process: the sockets and their sessions, the topic index, the
 * fan-out's position per stream, and the timers (heartbeat, registry refresh). `startStreamFanout`
 * feeds it; the Elysia route hands it socket events.
 */
export class StreamHub {
  readonly topics = new TopicIndex();
  readonly config: GatewayConfig;
  readonly redis: Redis;
  readonly store: Store;
  readonly tokens: AccessTokens;
  readonly directory: SensorDirectory;
  readonly log: Logger;
  running = false;
  private readonly metrics: StreamMetrics;
  private readonly sessions = new Map<Socket, Session>();
  private readonly perIp = new Map<string, number>();
  private readonly servers = new Set<TopicPublisher>();
  private readonly byStream = new Map<string, Channel>();
  private readonly positions = new Map<string, string>();
  private waiters: Array<{ stream: string; cursor: string; resolve: () => void }> = [];
  private timers: ReturnType<typeof setInterval>[] = [];
  private lastBackpressureCheck = 0;
  private readonly sink: FrameSink;

  constructor(deps: StreamHubDeps) {
    this.config = deps.config;
    this.redis = deps.redis;
    this.store = deps.store;
    this.tokens = deps.tokens;
    this.directory = deps.directory;
    this.metrics = deps.metrics;
    this.log = deps.logger.child({ module: 'stream' });
    for (const channel of CHANNELS.values()) this.byStream.set(channel.stream.name, channel);
    this.sink = (topic, frame) => {
      for (const server of this.servers) server.publish(topic, frame);
    };
  }

  /** The streams behind the channels, which the fan-out reads. */
  streamNames(): string[] {
    return [...this.byStream.keys()];
  }

  /** Remembers the server a socket came through: topics are published on it. */
  attachServer(server: TopicPublisher): void {
    this.servers.add(server);
  }

  /** The id of the last entry of `stream` the fan-out has published. */
  position(stream: string): string {
    return this.positions.get(stream) ?? '0-0';
  }

  /** Resolves once the fan-out has published `cursor` (or the hub stops). */
  reached(stream: string, cursor: string): Promise<void> {
    if (!this.running || compareIds(this.position(stream), cursor) >= 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ stream, cursor, resolve }));
  }

  /** Starts serving from these fan-out positions (the newest entry of each stream). */
  start(positions: ReadonlyMap<string, string>): void {
    for (const [stream, id] of positions) this.positions.set(stream, id);
    this.running = true;
    this.timers = [
      setInterval(() => this.heartbeat(), this.config.STREAM_HEARTBEAT_MS),
      setInterval(() => void this.refreshSensors(), this.config.STREAM_SENSOR_REFRESH_MS),
    ];
    for (const timer of this.timers) timer.unref?.();
  }

  /** Stops: every socket is closed with 1001 (reconnect elsewhere with your cursor). */
  stop(): void {
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const session of [...this.sessions.values()])
      session.close(CloseCode.GOING_AWAY, 'server going away', 'shutdown');
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
  }

  /** A socket opened: enforce the per-address limit, then start its session. */
  open(ws: Socket, ip: string, token: string | undefined): void {
    const count = this.perIp.get(ip) ?? 0;
    if (count >= this.config.STREAM_MAX_CONNECTIONS_PER_IP) {
      this.countClose('too_many_connections');
      ws.close(CloseCode.TOO_MANY_CONNECTIONS, 'too many connections from this address');
      return;
    }
    this.perIp.set(ip, count + 1);
    const session = new Session(this, ws, ip);
    this.sessions.set(ws, session);
    this.metrics.connections.inc();
    if (token) session.authenticateFirst(token);
  }

  message(ws: Socket, raw: unknown): void {
    this.sessions.get(ws)?.receive(raw);
  }

  drain(ws: Socket): void {
    this.sessions.get(ws)?.drained();
  }

  pong(ws: Socket): void {
    const session = this.sessions.get(ws);
    if (session) session.alive = true;
  }

  /** Bun's close event: the peer closed, or we did. */
  closed(ws: Socket): void {
    const session = this.sessions.get(ws);
    if (!session) return;
    this.countClose('client');
    session.dispose();
  }

  /** Forgets a disposed session. */
  forget(session: Session): void {
    if (this.sessions.get(session.ws) !== session) return;
    this.sessions.delete(session.ws);
    this.metrics.connections.dec();
    const count = (this.perIp.get(session.ip) ?? 1) - 1;
    if (count > 0) this.perIp.set(session.ip, count);
    else this.perIp.delete(session.ip);
  }

  /**
   * Publishes a batch the fan-out read from `stream` (entries in stream order), then advances the
   * position, all in one synchronous step: the replay's handover relies on it.
   */
  dispatch(stream: string, entries: ReadonlyArray<[string, string[] | null]>): void {
    const last = entries[entries.length - 1];
    if (!last) return;
    const channel = this.byStream.get(stream);
    if (channel && this.topics.listening(channel.name)) {
      this.checkBackpressure();
      let deliveries = 0;
      let invalid = 0;
      for (const [id, fields] of entries) {
        const decoded = decodeEntry(channel.stream, fields);
        if (decoded) deliveries += this.topics.publish(channel, id, decoded.event, decoded.raw, this.sink);
        else invalid++;
      }
      if (deliveries > 0) this.metrics.deliveries.inc({ channel: channel.name, mode: 'live' }, deliveries);
      if (invalid > 0) {
        this.metrics.invalid.inc({ channel: channel.name }, invalid);
        this.log.warn({ stream, invalid, lastId: last[0] }, 'entries failed their schema; not sent');
      }
    }
    this.positions.set(stream, last[0]);
    this.metrics.lag.set({ stream }, Math.max(0, Date.now() - Number(last[0].split('-')[0])));
    if (this.waiters.length > 0) {
      const waiting = this.waiters;
      this.waiters = [];
      for (const waiter of waiting) {
        if (waiter.stream === stream && compareIds(last[0], waiter.cursor) >= 0) waiter.resolve();
        else this.waiters.push(waiter);
      }
    }
  }

  /**
   * Closes sockets whose queue passed STREAM_BUFFER_BYTES with 4008. Bun queues topic frames until
   * the end of the event-loop turn, so this sees the previous batch; Bun's own 16 MiB limit (past
   * which it drops frames silently) is never reached because the setting stays at most 8 MiB.
   */
  checkBackpressure(force = false): void {
    const now = performance.now();
    if (!force && now - this.lastBackpressureCheck < BACKPRESSURE_CHECK_MS) return;
    this.lastBackpressureCheck = now;
    const limit = this.config.STREAM_BUFFER_BYTES;
    for (const session of this.sessions.values()) {
      const queued = session.ws.getBufferedAmount();
      if (queued > limit) {
        session.close(CloseCode.TOO_SLOW, `too slow: over ${limit} bytes queued`, 'slow');
        this.log.info({ ip: session.ip, queued, limit }, 'stream client too slow; closed with 4008');
      }
    }
  }

  /** Pings every socket; one that answered nothing since the last ping is dropped. */
  private heartbeat(): void {
    for (const session of [...this.sessions.values()]) {
      if (!session.alive) {
        session.terminate('heartbeat');
        continue;
      }
      session.alive = false;
      session.ws.ping();
      session.drained(); // a replay waiting on a drain re-checks the queue
      void session.reverify();
    }
  }

  /** Picks up registry changes for tag and bbox subscriptions (on a timer; tests call it). */
  async refreshSensors(): Promise<void> {
    const dynamic: Array<[Session, Session['subscriptions'] extends Map<string, infer S> ? S : never]> = [];
    for (const session of this.sessions.values())
      for (const subscription of session.subscriptions.values())
        if (needsRegistry(subscription.filter) && subscription.state !== 'closed')
          dynamic.push([session, subscription]);
    if (dynamic.length === 0) return;
    this.directory.invalidate();
    try {
      const places = await this.directory.places();
      for (const [session, subscription] of dynamic) {
        if (subscription.state === 'closed' || !subscription.filter) continue;
        const sensors = selectSensors(places, subscription.filter);
        const old = subscription.sensors;
        if (old && old.size === sensors.size && [...sensors].every((sensor) => old.has(sensor))) continue;
        session.resubscribe(subscription, sensors);
      }
    } catch (error) {
      this.log.warn({ err: error }, 'sensor registry refresh failed; filters keep their sensors');
    }
  }

  countSubscription(channel: ChannelName, delta: number): void {
    this.metrics.subscriptions.inc({ channel }, delta);
  }

  countClose(reason: string): void {
    this.metrics.closes.inc({ reason });
  }

  /** Archived events that failed their channel's schema in a replay: counted as invalid, never sent. */
  countInvalidArchived(channel: ChannelName, events: number): void {
    this.metrics.invalid.inc({ channel }, events);
    this.log.warn({ channel, invalid: events }, 'archived events failed their schema; not sent');
  }

  countReplayed(channel: ChannelName, events: number): void {
    if (events > 0) this.metrics.deliveries.inc({ channel, mode: 'replay' }, events);
  }
}
