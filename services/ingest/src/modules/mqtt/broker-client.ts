import type { Duplex } from 'node:stream';
import mqtt, { type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { IngestContext } from '../../context.ts';
import { type Publish, PublishFrames } from './publish-frames.ts';
import { mqttIngest } from './service.ts';

/** Messages being ingested at once before we stop reading from the broker (TCP pushes back). */
const MAX_IN_FLIGHT = 20_000;
/** The broker keeps our session (subscription and unacknowledged messages) this long while we are away. */
const SESSION_EXPIRY_S = 7 * 24 * 3_600;

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
    client.subscribe(topic, { qos: 1 }, (error, granted) => {
      if (error || !granted || granted.some((grant) => grant.qos > 2)) {
        log.error({ err: error, granted, topic }, 'subscription refused');
      } else subscribed();
    });
  });
  client.on('reconnect', () => log.warn('reconnecting to MQTT broker'));
  client.on('error', (error) => log.error({ err: error }, 'MQTT client error'));
  client.on('close', () => pending.clear());

  // Start-up does not wait for the broker (it may come up later); `ready` tells when it is there.
  client.connect();

  return {
    client,
    ready,
    async stop() {
      stopping = true;
      // Messages already taken are finished and acknowledged; the rest stay queued in our session.
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      writeAcks(); // each message acknowledged before it settled, so all are queued by now
      await client.endAsync();
      log.info('MQTT client stopped');
    },
  };
}
