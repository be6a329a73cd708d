import { compareIds } from '@sensormesh/bus';
import type { Principal } from '../access/model.ts';
import { CHANNELS, type Channel } from './channels.ts';
import { checkCursor, checkFilter, expiryOf, idOf } from './checks.ts';
import type { StreamHub } from './hub.ts';
import { frames, parseClientMessage, StreamError } from './messages.ts';
import {
  type AuthMessage,
  type ChannelName,
  CloseCode,
  type StreamFilter,
  type SubscribeMessage,
} from './model.ts';
import { replaySubscription, streamState } from './replay.ts';
import { needsRegistry, selectSensors } from './sensor-directory.ts';
import { firehoseTopic, sensorTopic, type TopicClass } from './topics.ts';

/** What the stream module uses of a Bun ServerWebSocket. */
export interface Socket {
  send(frame: string): number;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  close(code?: number, reason?: string): void;
  terminate(): void;
  ping(): number;
  getBufferedAmount(): number;
}

/** One subscription of a socket. */
export interface Subscription {
  readonly id: string;
  readonly channel: Channel;
  readonly filter: StreamFilter | undefined;
  /** Sensors it listens to; null: the whole channel. */
  sensors: Set<string> | null;
  state: 'starting' | 'replaying' | 'live' | 'closed';
  /** One class per audience of the subscriber, once live. */
  classes: TopicClass[];
}

/** One connected socket: its principal, subscriptions and message handling. */
export class Session {
  principal: Principal = { kind: 'public' };
  readonly subscriptions = new Map<string, Subscription>();
  /** Answered (pong or any message) since the last heartbeat ping. */
  alive = true;
  closed = false;
  private token: string | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private queue: Promise<void> = Promise.resolve();
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly hub: StreamHub,
    readonly ws: Socket,
    readonly ip: string,
  ) {}

  /** Runs message handling one message at a time, in arrival order. */
  private enqueue(work: () => Promise<void> | void): void {
    this.queue = this.queue
      .then(work)
      .catch((error: unknown) => this.hub.log.error({ err: error, ip: this.ip }, 'stream message failed'));
  }

  /** Handles one client message (as Elysia parsed it). */
  receive(raw: unknown): void {
    this.alive = true;
    this.enqueue(() => this.process(raw));
  }

  /** Authenticates with the connection's `?token=` before any message is handled. */
  authenticateFirst(token: string): void {
    this.enqueue(() => this.authenticate(token));
  }

  private async process(raw: unknown): Promise<void> {
    if (this.closed) return;
    let id: string | undefined;
    try {
      const message = parseClientMessage(raw);
      if (message.type === 'ping') this.send(frames.pong);
      else if (message.type === 'auth') await this.authenticate(message.token);
      else if (message.type === 'unsubscribe') {
        id = message.id;
        this.unsubscribe(message.id);
      } else {
        id = message.id;
        await this.subscribe(message);
      }
    } catch (error) {
      this.fail(error, id ?? idOf(raw));
    }
  }

  /** Answers a failed message with an error frame (unexpected errors say only INTERNAL). */
  private fail(error: unknown, id?: string): void {
    if (error instanceof StreamError) this.send(frames.error(error.code, error.message, id, error.details));
    else {
      this.hub.log.error({ err: error, ip: this.ip, subscription: id }, 'stream request failed');
      this.send(frames.error('UNAVAILABLE', 'the stream could not be served; try again', id));
    }
  }

  private async authenticate(token: AuthMessage['token']): Promise<void> {
    const principal = await this.hub.tokens.verify(token).catch(() => null);
    if (this.closed) return;
    if (principal?.kind !== 'user') {
      this.close(CloseCode.UNAUTHORIZED, 'invalid, expired or revoked token', 'unauthorized');
      return;
    }
    if (this.principal.kind === 'user' && this.principal.userId !== principal.userId) {
      throw new StreamError('FORBIDDEN', 'this socket belongs to another user; open a new one');
    }
    const expiresAt = expiryOf(token);
    this.principal = principal;
    this.token = token;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(
      () => this.close(CloseCode.UNAUTHORIZED, 'token expired', 'token_expired'),
      Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
    );
    this.send(frames.authenticated(principal.userId, expiresAt));
  }

  /** Checks the token again (revocation, role change, disabled user); closes with 4001 when it fails. */
  async reverify(): Promise<void> {
    const token = this.token;
    if (!token || this.closed) return;
    const principal = await this.hub.tokens.verify(token).catch(() => undefined);
    // undefined: Redis did not answer; the next heartbeat tries again.
    if (principal === null && this.token === token) {
      this.close(CloseCode.UNAUTHORIZED, 'token revoked or expired', 'token_revoked');
    }
  }

  private async subscribe(message: SubscribeMessage): Promise<void> {
    const channel = CHANNELS.get(message.channel as ChannelName);
    if (!channel) {
      throw new StreamError('VALIDATION_FAILED', `unknown channel ${JSON.stringify(message.channel)}`, [
        { path: '/channel', message: `one of ${[...CHANNELS.keys()].join(', ')}` },
      ]);
    }
    if (channel.access === 'user' && this.principal.kind === 'public') {
      throw new StreamError(
        'UNAUTHORIZED',
        `the ${channel.name} channel needs a signed-in user: connect with ?token= or send {"type":"auth","token":…} first`,
      );
    }
    if (this.subscriptions.has(message.id))
      throw new StreamError('CONFLICT', `subscription ${message.id} exists; unsubscribe it first`);
    if (this.subscriptions.size >= this.hub.config.STREAM_MAX_SUBSCRIPTIONS) {
      throw new StreamError(
        'RATE_LIMITED',
        `at most ${this.hub.config.STREAM_MAX_SUBSCRIPTIONS} subscriptions per socket`,
      );
    }
    checkFilter(channel, message.filter);
    const since = message.since === undefined ? undefined : checkCursor(message.since);
    if (!this.hub.running) throw new StreamError('UNAVAILABLE', 'the stream fan-out is not running');

    const subscription: Subscription = {
      id: message.id,
      channel,
      filter: message.filter,
      sensors: null,
      state: 'starting',
      classes: [],
    };
    this.subscriptions.set(subscription.id, subscription);
    try {
      subscription.sensors = await this.resolveSensors(message.filter);
    } catch (error) {
      this.subscriptions.delete(subscription.id);
      throw error;
    }
    if (since !== undefined) {
      try {
        await this.checkSince(channel, since);
      } catch (error) {
        this.subscriptions.delete(subscription.id);
        throw error;
      }
    }
    if (subscription.state === 'closed' || this.closed) return;
    this.hub.countSubscription(channel.name, 1);

    if (since === undefined) {
      // Read and subscribed in one synchronous step: every event after this cursor arrives live.
      const cursor = this.hub.position(channel.stream.name);
      this.send(frames.subscribed(subscription.id, channel.name, cursor));
      this.activate(subscription);
      return;
    }
    subscription.state = 'replaying';
    this.send(frames.subscribed(subscription.id, channel.name, since));
    void this.replay(subscription, since);
  }

  private async replay(subscription: Subscription, since: string): Promise<void> {
    try {
      await replaySubscription(this.hub, this, subscription, since);
    } catch (error) {
      if (subscription.state === 'closed' || this.closed) return;
      this.removeSubscription(subscription);
      this.fail(error, subscription.id);
    }
  }

  /**
   * Refuses a cursor the stream never issued, and one older than STREAM_REPLAY_MAX_AGE_S when the
   * stream has been trimmed since (the replay would reach into the archive, or into a gap). A
   * cursor past this replica's fan-out but within the stream is fine: another replica's fan-out
   * was further along, and the replay waits for ours.
   */
  private async checkSince(channel: Channel, since: string): Promise<void> {
    const stream = channel.stream.name;
    const maxAgeS = this.hub.config.STREAM_REPLAY_MAX_AGE_S;
    const old = Number(since.split('-')[0]) < Date.now() - maxAgeS * 1_000;
    const ahead = compareIds(since, this.hub.position(stream)) > 0;
    if (!old && !ahead) return;
    const state = await streamState(this.hub, stream).catch(() => {
      throw new StreamError('UNAVAILABLE', 'the stream could not be read; try again');
    });
    if (ahead && compareIds(since, state?.lastGeneratedId ?? '0-0') > 0) {
      throw new StreamError('VALIDATION_FAILED', 'the cursor is ahead of the stream', [
        { path: '/since', message: 'no such entry yet' },
      ]);
    }
    if (old && state?.trimmedEver) {
      throw new StreamError('GONE', `the cursor is older than the replay horizon (${maxAgeS} s)`, { since });
    }
  }

  /** The sensors a filter selects, or null for the whole channel. */
  private async resolveSensors(filter: StreamFilter | undefined): Promise<Set<string> | null> {
    if (!filter || (!filter.sensorIds && !needsRegistry(filter))) return null;
    if (!needsRegistry(filter)) return new Set(filter.sensorIds);
    try {
      return selectSensors(await this.hub.directory.places(), filter);
    } catch (error) {
      this.hub.log.warn({ err: error }, 'sensor registry unavailable for a stream filter');
      throw new StreamError('UNAVAILABLE', 'the sensor registry is unavailable; try again');
    }
  }

  /** Joins a subscription's topics; from now on the fan-out delivers to it. Synchronous on purpose. */
  activate(subscription: Subscription): void {
    if (subscription.state === 'closed' || this.closed) return;
    const metrics = subscription.filter?.metrics;
    for (const audience of subscription.channel.audiencesFor(this.principal)) {
      const topicClass = this.hub.topics.classFor(subscription.channel, subscription.id, metrics, audience);
      subscription.classes.push(topicClass);
      this.hub.topics.add(topicClass, subscription.sensors);
      this.joinTopics(topicClass, subscription.sensors);
    }
    subscription.state = 'live';
  }

  private joinTopics(topicClass: TopicClass, sensors: Iterable<string> | null): void {
    if (sensors === null) this.ws.subscribe(firehoseTopic(topicClass));
    else for (const sensor of sensors) this.ws.subscribe(sensorTopic(topicClass, sensor));
  }

  private leaveTopics(topicClass: TopicClass, sensors: Iterable<string> | null): void {
    if (this.closed) return; // Bun already dropped a closed socket's topics
    if (sensors === null) this.ws.unsubscribe(firehoseTopic(topicClass));
    else for (const sensor of sensors) this.ws.unsubscribe(sensorTopic(topicClass, sensor));
  }

  /** Applies a new sensor set to a live tag or bbox subscription (the registry changed). */
  resubscribe(subscription: Subscription, sensors: Set<string>): void {
    const old = subscription.sensors ?? new Set<string>();
    const added = [...sensors].filter((sensor) => !old.has(sensor));
    const removed = [...old].filter((sensor) => !sensors.has(sensor));
    subscription.sensors = sensors;
    if (subscription.state !== 'live') return;
    for (const topicClass of subscription.classes) {
      this.hub.topics.add(topicClass, added);
      this.joinTopics(topicClass, added);
      this.leaveTopics(topicClass, removed);
      this.hub.topics.remove(topicClass, removed);
    }
  }

  private unsubscribe(id: string): void {
    const subscription = this.subscriptions.get(id);
    if (!subscription) throw new StreamError('NOT_FOUND', `no subscription ${id}`);
    this.removeSubscription(subscription);
    this.send(frames.unsubscribed(id));
  }

  private removeSubscription(subscription: Subscription): void {
    const wasCounted = subscription.state !== 'starting';
    if (subscription.state === 'live') {
      for (const topicClass of subscription.classes) {
        this.leaveTopics(topicClass, subscription.sensors);
        this.hub.topics.remove(topicClass, subscription.sensors);
      }
    }
    subscription.state = 'closed';
    subscription.classes = [];
    this.subscriptions.delete(subscription.id);
    if (wasCounted) this.hub.countSubscription(subscription.channel.name, -1);
  }

  /** Sends a frame now (control frames and replayed events). */
  send(frame: string): void {
    if (this.closed) return;
    // 0: Bun dropped it (the socket is past Bun's own backpressure limit, or gone).
    if (this.ws.send(frame) === 0 && !this.closed) this.close(CloseCode.TOO_SLOW, 'too slow', 'slow');
  }

  /** Resolves once the socket's queue is under half the buffer limit (or it closed): paces replays. */
  async writable(): Promise<void> {
    while (!this.closed && this.ws.getBufferedAmount() > this.hub.config.STREAM_BUFFER_BYTES / 2) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
  }

  /** Bun's drain event (also called on heartbeats and close, so no replay waits forever). */
  drained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Closes the socket with a code and reason, counting why. */
  close(code: number, reason: string, why: string): void {
    if (this.closed) return;
    this.hub.countClose(why);
    this.dispose();
    this.ws.close(code, reason);
  }

  /** Drops a dead peer without a close handshake. */
  terminate(why: string): void {
    if (this.closed) return;
    this.hub.countClose(why);
    this.dispose();
    this.ws.terminate();
  }

  /** Releases everything the session holds; idempotent (called by close() and by Bun's close event). */
  dispose(): void {
    if (this.closed) return;
    for (const subscription of [...this.subscriptions.values()]) this.removeSubscription(subscription);
    this.closed = true;
    clearTimeout(this.expiryTimer);
    this.drained();
    this.hub.forget(this);
  }
}
