import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import mqtt, { type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { IngestContext } from '../../context.ts';
import { type Publish, PublishFrames } from './publish-frames.ts';
import { mqttIngest } from './service.ts';
import { shareMembers } from './share-members.ts';

/** Messages being ingested at once before we stop reading from the broker (TCP pushes back). */
const MAX_IN_FLIGHT = 20_000;
/** The broker keeps our session (subscription and unacknowledged messages) this long while we are away. */
const SESSION_EXPIRY_S = 7 * 24 * 3_600;

/** How often a running replica pushes on its membership's expiry (see share-members.ts). */
const MEMBERSHIP_REFRESH_MS = 60_000;
/**
 * The longest each step after a leave's own bound may take: subscribing again after a failed one,
 * forgetting the membership after a finished one.
 */
const WRAP_UP_STEP_MS = 1_000;
/**
 * What a stop may take past MQTT_LEAVE_TIMEOUT_MS when the leave fails: subscribing again, then the
 * plain stop. A process that bounds its shutdown must allow the leave timeout plus this.
 */
export const LEAVE_WRAP_UP_MS = 2_000;

/**
 * Resolves undefined once `work` resolved, or with why not: its error, or 'timeout' after `ms`.
 * A rejection after the timeout changes nothing, so it is caught and dropped.
 */
async function settleWithin(work: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  work.catch(() => {});
  try {
    return await Promise.race([work.then(() => undefined), timedOut]);
  } catch (error) {
    return error;
  } finally {
    clearTimeout(timer);
  }
}

/** Where a leaving replica sends itself the marker that ends its drain (see `leave`). */
export function drainTopic(clientId: string): string {
  return `ingest/drain/${clientId}`;
}

/** A QoS 1 message in hand; `stream` is set once mqtt.js asked to PUBACK it on that connection. */
interface Held {
  state: 'working' | 'stored' | 'failed';
  stream?: MqttClient['stream'];
}

type SendPacket = (packet: Packet, cb?: (error?: Error) => void, ...rest: unknown[]) => void;

/** A running subscriber on an external broker. */
export interface BrokerClient {
  readonly client: MqttClient;
  /** Resolves once the broker granted the subscription (every reconnect subscribes again). */
  readonly ready: Promise<void>;
  /**
   * Finishes the messages in hand and disconnects. MQTT_ON_STOP=keep leaves the session (and our
   * share of what is published meanwhile) with the broker for a restart; `leave` first leaves the
   * shared subscription and drains (see `leave`), and keeps the session only if that fails.
   */
  stop(): Promise<void>;
}

/**
 * Ingest as a client of an external broker (Mosquitto): a persistent MQTT 5 session under a stable
 * client id, subscribed at QoS 1 to `$share/{group}/sensors/+/readings` so replicas split the load.
 *
 * Messages: QoS 0 and 1 PUBLISH packets are split off the connection's bytes (PublishFrames) and
 * ingested without mqtt.js, which keeps the session (connect, subscribe, pings, reconnects); each
 * QoS 1 message is acknowledged with a raw PUBACK once its pipeline promise resolved, and on a Redis
 * failure the connection is dropped, as below. Whatever the fast path leaves to mqtt.js (QoS 2)
 * takes the path below.
 *
 * Acks: mqtt.js handles incoming packets strictly one at a time and calls `customHandleAcks` /
 * `handleMessage` before it sends the PUBACK; holding that callback until Redis has the reading would
 * allow one message per Redis round trip. So the callback returns at once and the PUBACK itself is
 * held: `_sendPacket` is wrapped and a PUBACK is written only when its message's pipeline promise
 * resolved. On a Redis failure no PUBACK is sent and the connection is dropped, because a broker
 * resends unacknowledged messages only when the session resumes (MQTT 5 §4.4): it reconnects and
 * they come again. A PUBACK whose connection has gone is dropped too; the broker redelivers.
 */
export function startBrokerClient(ctx: IngestContext): BrokerClient {
  const { config } = ctx;
  if (!config.MQTT_URL) throw new Error('startBrokerClient needs MQTT_URL');
  const log = ctx.logger.child({ module: 'mqtt', mode: 'client', clientId: config.MQTT_CLIENT_ID });
  const { ingest } = mqttIngest(ctx);
  const topic = `$share/${config.MQTT_SHARE_GROUP}/sensors/+/readings`;
  /** QoS 1 messages in hand by packet id, until mqtt.js asks to PUBACK them. */
  const pending = new Map<number, Held>();
  let inFlight = 0;
  let stopping = false;
  let resume: Array<() => void> = [];
  let idle: (() => void) | undefined;
  const ownTopic = drainTopic(config.MQTT_CLIENT_ID);
  /** While leaving: the marker we sent ourselves, and what to call when it comes back. */
  let marked: { token: string; back: () => void } | undefined;
  /** Set once a leave gives up the shared subscription: a reconnect must not take a share again. */
  let departing = false;
  const members = shareMembers(ctx.redis, config.MQTT_SHARE_GROUP, config.MQTT_CLIENT_ID, SESSION_EXPIRY_S);
  const join = () =>
    members.join().catch((error: unknown) => log.warn({ err: error }, 'share group membership not recorded'));
  /** Started once subscribed: a replica the broker refused never counts as a member. */
  let refresh: ReturnType<typeof setInterval> | undefined;

  const client = mqtt.connect(config.MQTT_URL, {
    clientId: config.MQTT_CLIENT_ID,
    username: config.MQTT_USERNAME,
    password: config.MQTT_PASSWORD,
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: SESSION_EXPIRY_S },
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    manualConnect: true,
    // mqtt.js's own debug log, called several times per packet even when disabled (~0.1 µs a message).
    log: () => {},
  });

  function settled(count = 1) {
    inFlight -= count;
    if (inFlight < MAX_IN_FLIGHT / 2 && resume.length > 0) {
      const waiting = resume;
      resume = [];
      for (const next of waiting) next();
    }
    if (inFlight === 0) idle?.();
  }

  // Called for every PUBLISH (QoS 0 and, after customHandleAcks, QoS 1) before any PUBACK is sent.
  // One callback per message settles it and, once mqtt.js has asked (deferPuback), acknowledges it.
  client.handleMessage = function ingestMessage(packet: IPublishPacket, callback) {
    if (stopping) return; // never called back: this message is not acknowledged and stays with the broker
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const work = ingest(packet.topic, payload, undefined);
    inFlight++;
    const messageId = packet.qos > 0 ? packet.messageId : undefined;
    const held: Held | undefined = messageId === undefined ? undefined : { state: 'working' };
    if (held) pending.set(messageId as number, held);
    work.then(
      () => {
        if (held?.stream) acknowledge(held.stream, messageId as number);
        else if (held) held.state = 'stored';
        settled();
      },
      (error: unknown) => {
        log.error({ err: error, topic: packet.topic }, 'ingest failed; message left unacknowledged');
        // Reconnect: the broker redelivers what we did not acknowledge.
        if (held?.stream && client.stream === held.stream) held.stream.destroy();
        else if (held) held.state = 'failed';
        settled();
      },
    );
    if (inFlight < MAX_IN_FLIGHT) callback();
    else resume.push(() => callback());
  };

  // PUBACKs whose messages are in Redis go out together at the end of the turn, one socket write for
  // a pipeline's worth instead of one trip through mqtt.js each. A success PUBACK is 4 bytes in MQTT
  // 5 (§3.4.2.1: reason code and properties may be left out): 0x40, remaining length 2, packet id.
  let acks: number[] = [];
  let acksFor: typeof client.stream | undefined;
  function writeAcks(): void {
    const stream = acksFor;
    const ids = acks;
    acks = [];
    acksFor = undefined;
    if (ids.length === 0 || !stream || client.stream !== stream || !client.connected) return;
    const bytes = Buffer.allocUnsafe(ids.length * 4);
    for (let i = 0; i < ids.length; i++) {
      bytes[i * 4] = 0x40;
      bytes[i * 4 + 1] = 2;
      bytes.writeUInt16BE(ids[i] as number, i * 4 + 2);
    }
    stream.write(bytes);
  }
  function acknowledge(stream: typeof client.stream, messageId: number): void {
    if (acksFor !== stream) writeAcks(); // acks of an older connection are dropped there
    if (acks.length === 0) setImmediate(writeAcks);
    acksFor = stream;
    acks.push(messageId);
  }

  // The hot path: QoS 0 and 1 PUBLISH packets are split off the socket's bytes (PublishFrames) and
  // never reach mqtt.js, so they are acknowledged here, once in Redis; mqtt.js keeps the session
  // (CONNECT, SUBSCRIBE, pings, reconnects) and any PUBLISH the fast path leaves to it (QoS 2).
  let paused = false;
  /**
   * Messages in a row whose work is the same promise (the readings of one Redis pipeline share
   * theirs, pipeline.acceptShared): one reaction settles and acknowledges them all.
   */
  interface Run {
    work: Promise<unknown>;
    stream: PublishFrames;
    count: number;
    /** Packet ids of its QoS 1 messages. */
    ids: number[];
  }
  let run: Run | undefined;
  function stored({ stream, count, ids }: Run): void {
    const to = stream as unknown as typeof client.stream;
    for (const id of ids) acknowledge(to, id);
    settled(count);
  }
  function failed({ stream, count, ids }: Run, error: unknown): void {
    log.error({ err: error, messages: count }, 'ingest failed; messages left unacknowledged');
    // Reconnect: the broker redelivers what we did not acknowledge.
    if (ids.length > 0 && client.stream === (stream as unknown as typeof client.stream)) stream.destroy();
    settled(count);
  }
  function direct({ topic, payload, messageId }: Publish, frames: PublishFrames): void {
    if (stopping) return; // not acknowledged: a QoS 1 message stays with the broker
    if (topic === ownTopic) {
      marker(payload, messageId, frames);
      return;
    }
    const work = ingest(topic, payload, undefined);
    inFlight++;
    if (run && run.work === work && run.stream === frames) run.count++;
    else {
      const next: Run = { work, stream: frames, count: 1, ids: [] };
      run = next;
      work.then(
        () => stored(next),
        (error: unknown) => failed(next, error),
      );
    }
    if (messageId !== undefined) run.ids.push(messageId);
    if (inFlight >= MAX_IN_FLIGHT && !paused) {
      paused = true;
      frames.pauseSocket(); // TCP pushes back until half the messages in hand are stored
      resume.push(() => {
        paused = false;
        frames.resumeSocket();
      });
    }
  }

  function marker(payload: Buffer, messageId: number | undefined, frames: PublishFrames): void {
    if (messageId !== undefined) acknowledge(frames as unknown as typeof client.stream, messageId);
    // A marker of an earlier leave that did not finish is acknowledged and ignored.
    if (marked && payload.toString() === marked.token) marked.back();
  }

  const internals = client as unknown as {
    _sendPacket: SendPacket;
    streamBuilder: (client: MqttClient) => Duplex;
  };
  const build = internals.streamBuilder;
  internals.streamBuilder = (self) => new PublishFrames(build(self), direct);
  const send = internals._sendPacket.bind(client);
  internals._sendPacket = function deferPuback(packet, cb, ...rest) {
    const held = packet.cmd === 'puback' ? pending.get(packet.messageId as number) : undefined;
    if (!held) return send(packet, cb, ...rest);
    const messageId = packet.messageId as number;
    pending.delete(messageId);
    const stream = client.stream;
    cb?.(); // mqtt.js may take the next message now; the PUBACK itself waits for Redis
    if (held.state === 'stored') acknowledge(stream, messageId);
    else if (held.state === 'failed') stream.destroy();
    else held.stream = stream; // acknowledged (or the stream dropped) when the work settles
  };

  let subscribed: () => void = () => {};
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  client.on('connect', (connack) => {
    log.info({ sessionPresent: connack.sessionPresent }, 'connected to MQTT broker');
    if (departing) return;
    client.subscribe(topic, { qos: 1 }, (error, granted) => {
      if (error || !granted || granted.some((grant) => grant.qos > 2)) {
        log.error({ err: error, granted, topic }, 'subscription refused');
      } else {
        refresh ??= setInterval(join, MEMBERSHIP_REFRESH_MS);
        refresh.unref();
        void join().then(subscribed);
      }
    });
  });
  client.on('reconnect', () => log.warn('reconnecting to MQTT broker'));
  client.on('error', (error) => log.error({ err: error }, 'MQTT client error'));
  client.on('close', () => pending.clear());

  /** Waits until every message taken is settled, then writes the PUBACKs still due. */
  async function finish(): Promise<void> {
    stopping = true;
    // Each message is acknowledged before it settles, so all PUBACKs are queued once none is in hand.
    if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
    writeAcks();
  }

  /**
   * Leaves the shared subscription for good, for a replica that is being removed: Mosquitto deals
   * an offline member's persistent session its share as if it were there (README, "Replicas"), so
   * a replica that only disconnected would strand that share until the session expired.
   *
   * Unsubscribing stops new messages at once, but what the broker already queued for our session is
   * still delivered (measured on 2.0.11: 1,000 queued messages, all of them came after UNSUBACK).
   * A broker delivers one session's messages in order, so a marker we publish to our own topic after
   * the UNSUBACK arrives after the last of them: then every message meant for us is in hand, and
   * once they are settled the session can end (DISCONNECT with session expiry 0). A first marker,
   * sent while still subscribed, proves the broker lets us use that topic before we give anything
   * up. Resolves false, with the session kept (subscribed again if we got that far and the
   * connection is up) and nothing lost, if a step is refused or the whole takes longer than
   * MQTT_LEAVE_TIMEOUT_MS; a replica started with the same MQTT_CLIENT_ID takes what waits there.
   */
  async function leave(): Promise<boolean> {
    if (!client.connected) return false;
    /** Publishes a marker to our own topic and resolves when it has come back. */
    const roundTrip = async () => {
      const token = randomUUID();
      const back = new Promise<void>((resolve) => {
        marked = { token, back: resolve };
      });
      await client.publishAsync(ownTopic, token, { qos: 1 });
      await back;
    };
    let unsubscribed = false;
    let others = 0;
    const steps = async () => {
      // Inside the time bound like every step: a Redis that does not answer keeps the session too.
      others = (await members.others()).length;
      if (others === 0) {
        throw new Error(
          `no other replica holds a share of ${config.MQTT_SHARE_GROUP}: the broker would drop what is published`,
        );
      }
      const granted = await client.subscribeAsync(ownTopic, { qos: 1 });
      if (granted.some((grant) => grant.qos > 2)) throw new Error(`subscription to ${ownTopic} refused`);
      await roundTrip();
      departing = true;
      await client.unsubscribeAsync(topic);
      unsubscribed = true;
      log.info({ topic }, 'left the shared subscription; draining what the broker queued for us');
      await roundTrip();
    };
    const failure = await settleWithin(steps(), config.MQTT_LEAVE_TIMEOUT_MS);
    marked = undefined;
    departing = false;
    if (failure !== undefined) {
      // Back to a plain stop: the kept session takes its share again, as after MQTT_ON_STOP=keep.
      if (unsubscribed && client.connected)
        await settleWithin(client.subscribeAsync(topic, { qos: 1 }), WRAP_UP_STEP_MS);
      log.warn(
        { err: failure, timeoutMs: config.MQTT_LEAVE_TIMEOUT_MS },
        'leave did not finish; the session is kept with what is still queued in it',
      );
      return false;
    }
    await finish();
    await client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    const unrecorded = await settleWithin(members.left(), WRAP_UP_STEP_MS);
    if (unrecorded !== undefined) log.warn({ err: unrecorded }, 'share group membership not removed');
    log.info({ others }, 'MQTT client stopped; left the shared subscription and ended the session');
    return true;
  }

  // Start-up does not wait for the broker (it may come up later); `ready` tells when it is there.
  client.connect();

  return {
    client,
    ready,
    async stop() {
      clearInterval(refresh);
      if (config.MQTT_ON_STOP === 'leave' && (await leave())) return;
      // Messages already taken are finished and acknowledged; the rest stay queued in our session.
      await finish();
      await client.endAsync();
      log.info('MQTT client stopped');
    },
  };
}
