import type { Channel } from './channels.ts';
import { frames } from './messages.ts';
import type { ChannelName } from './model.ts';

/**
 * Subscriptions that receive byte-identical frames: same channel, subscription id, metrics filter
 * and audience. They share one Bun topic per sensor (or one for the whole channel), so an event is
 * serialized once per class and fanned out natively, however many sockets listen. Clients of one
 * app use the same subscription ids, so in practice a class holds thousands of sockets.
 */
export interface TopicClass {
  readonly channel: Channel;
  readonly key: string;
  readonly metrics: ReadonlySet<string> | null;
  readonly audience: string;
  readonly framePrefix: string;
  /** Subscriptions on the whole-channel topic. */
  firehose: number;
  /** Subscriptions per sensor topic. */
  readonly sensors: Map<string, number>;
}

interface AudienceIndex {
  firehose: Set<TopicClass>;
  bySensor: Map<string, Set<TopicClass>>;
}

/** Where the index sends a frame: `subscribers` sockets listen on `topic`. */
export type FrameSink = (topic: string, frame: string, subscribers: number) => void;

/** The whole-channel topic of a class. */
export const firehoseTopic = (topicClass: TopicClass) => `${topicClass.key}*`;
/** A sensor's topic in a class. */
export const sensorTopic = (topicClass: TopicClass, sensorId: string) => `${topicClass.key}/${sensorId}`;

/** Topic classes with reference counts, indexed by channel, audience and sensor for the fan-out. */
export class TopicIndex {
  private readonly classes = new Map<string, TopicClass>();
  private readonly channels = new Map<ChannelName, Map<string, AudienceIndex>>();

  /** The class of a subscription (created on first use). */
  classFor(
    channel: Channel,
    subscriptionId: string,
    metrics: readonly string[] | undefined,
    audience: string,
  ): TopicClass {
    const metricKey = metrics ? [...new Set(metrics)].sort() : null;
    const key = `${channel.name}:${JSON.stringify([subscriptionId, metricKey, audience])}`;
    let topicClass = this.classes.get(key);
    if (!topicClass) {
      topicClass = {
        channel,
        key,
        metrics: metricKey ? new Set(metricKey) : null,
        audience,
        framePrefix: frames.eventPrefix(subscriptionId, channel.name),
        firehose: 0,
        sensors: new Map(),
      };
      this.classes.set(key, topicClass);
    }
    return topicClass;
  }

  private audienceIndex(topicClass: TopicClass): AudienceIndex {
    let byAudience = this.channels.get(topicClass.channel.name);
    if (!byAudience) {
      byAudience = new Map();
      this.channels.set(topicClass.channel.name, byAudience);
    }
    let index = byAudience.get(topicClass.audience);
    if (!index) {
      index = { firehose: new Set(), bySensor: new Map() };
      byAudience.set(topicClass.audience, index);
    }
    return index;
  }

  /** Counts one more subscription on the whole channel (sensors null) or on these sensors. */
  add(topicClass: TopicClass, sensors: Iterable<string> | null): void {
    const index = this.audienceIndex(topicClass);
    if (sensors === null) {
      if (topicClass.firehose++ === 0) index.firehose.add(topicClass);
      return;
    }
    for (const sensor of sensors) {
      const count = topicClass.sensors.get(sensor) ?? 0;
      topicClass.sensors.set(sensor, count + 1);
      if (count > 0) continue;
      let set = index.bySensor.get(sensor);
      if (!set) {
        set = new Set();
        index.bySensor.set(sensor, set);
      }
      set.add(topicClass);
    }
  }

  /** Undoes `add`; a class nobody uses any more is forgotten. */
  remove(topicClass: TopicClass, sensors: Iterable<string> | null): void {
    const index = this.audienceIndex(topicClass);
    if (sensors === null) {
      if (--topicClass.firehose === 0) index.firehose.delete(topicClass);
    } else {
      for (const sensor of sensors) {
        const count = (topicClass.sensors.get(sensor) ?? 0) - 1;
        if (count > 0) {
          topicClass.sensors.set(sensor, count);
          continue;
        }
        topicClass.sensors.delete(sensor);
        const set = index.bySensor.get(sensor);
        set?.delete(topicClass);
        if (set?.size === 0) index.bySensor.delete(sensor);
      }
    }
    if (topicClass.firehose === 0 && topicClass.sensors.size === 0) this.classes.delete(topicClass.key);
  }

  /** True when some live subscription listens on the channel. */
  listening(channel: ChannelName): boolean {
    const byAudience = this.channels.get(channel);
    if (!byAudience) return false;
    for (const index of byAudience.values())
      if (index.firehose.size > 0 || index.bySensor.size > 0) return true;
    return false;
  }

  /**
   * Sends one event to every class that wants it, one frame per class; `raw` is the event's JSON as
   * the stream holds it, reused as is when no metrics filter changes it. Returns the deliveries.
   */
  publish(channel: Channel, cursor: string, event: unknown, raw: string, sink: FrameSink): number {
    const byAudience = this.channels.get(channel.name);
    if (!byAudience) return 0;
    const sensor = channel.sensorOf(event);
    let deliveries = 0;
    const emit = (topicClass: TopicClass, topic: string, subscribers: number) => {
      let data = raw;
      if (topicClass.metrics) {
        const projected = channel.project(event, topicClass.metrics);
        if (projected === undefined) return;
        if (projected !== event) data = JSON.stringify(projected);
      }
      sink(topic, frames.event(topicClass.framePrefix, cursor, data), subscribers);
      deliveries += subscribers;
    };
    for (const audience of channel.audiencesOf(event)) {
      const index = byAudience.get(audience);
      if (!index) continue;
      for (const topicClass of index.firehose)
        emit(topicClass, firehoseTopic(topicClass), topicClass.firehose);
      if (sensor === undefined) continue;
      const classes = index.bySensor.get(sensor);
      if (!classes) continue;
      for (const topicClass of classes)
        emit(topicClass, sensorTopic(topicClass, sensor), topicClass.sensors.get(sensor) ?? 0);
    }
    return deliveries;
  }
}
