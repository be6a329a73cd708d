import type { DeadLetter } from '@sensormesh/bus';
import type { FieldRejection, SensorInfo, ValidationLimits, ValidationResult } from '@sensormesh/readings';
import { validateReading } from '@sensormesh/readings';
import type { IngestContext } from '../../context.ts';

/** Raw payload bytes kept in a dead letter: enough to diagnose, bounded so a flood stays small. */
export const DLQ_PAYLOAD_BYTES = 4_096;
const DAY_MS = 86_400_000;
const SOURCE = 'mqtt';
const TOPIC = /^sensors\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})\/readings$/;

/** A refusal of a whole message or of one field of one reading in it. */
export interface MessageRejection extends Omit<FieldRejection, 'code'> {
  code: FieldRejection['code'] | MessageRejectionCode;
  /** Position in a batch payload; absent for a single reading or a whole-message refusal. */
  index?: number;
}

/** Why a whole MQTT message was refused before any reading in it was judged. */
export type MessageRejectionCode =
  | 'bad_topic'
  | 'topic_not_allowed'
  | 'unknown_sensor'
  | 'payload_too_large'
  | 'malformed_json'
  | 'batch_too_large';

/** The sensor id in `sensors/{id}/readings`, or undefined for any other topic. */
export function sensorIdFromTopic(topic: string): string | undefined {
  return TOPIC.exec(topic)?.[1];
}

/** The topic a sensor publishes its readings on. */
export const readingsTopic = (sensorId: string) => `sensors/${sensorId}/readings`;

/** Names every refusal in one line, e.g. `metrics.pm25 out_of_range (…); [2].ts future_timestamp (…)`. */
function describe(rejections: readonly MessageRejection[]): string {
  const shown = rejections.slice(0, 10).map((r) => {
    const where = `${r.index === undefined ? '' : `[${r.index}]`}${r.field ? (r.index === undefined ? r.field : `.${r.field}`) : ''}`;
    return `${where ? `${where} ` : ''}${r.code} (${r.message})`;
  });
  const more = rejections.length > 10 ? `; and ${rejections.length - 10} more` : '';
  return `${shown.join('; ')}${more}`;
}

/**
 * Judges MQTT messages and hands them to the pipeline. Shared by the embedded broker and the
 * external-broker client: both ack a QoS 1 message only when the promise `ingest` returns resolves,
 * that is once every accepted reading and the message's dead letter (if any) are in Redis.
 */
export function mqttIngest(ctx: IngestContext) {
  const { pipeline, directory, config } = ctx;
  const maxAgeMs = config.INGEST_RETENTION_DAYS * DAY_MS;

  function deadLetter(
    topic: string,
    payload: Buffer,
    rejections: readonly MessageRejection[],
    accepted: number,
  ): Promise<string> {
    const [first, ...rest] = rejections;
    const letter: DeadLetter = {
      source: SOURCE,
      reason: describe(rejections),
      details: { topic, bytes: payload.length, accepted, rejected: rejections },
      payload: payload.toString('utf8', 0, Math.min(payload.length, DLQ_PAYLOAD_BYTES)),
      at: Date.now(),
    };
    // One dead letter per message, but the counter rises once per refused field.
    if (rest.length > 0)
      pipeline.countRejections(
        SOURCE,
        rest.map((r) => r.code),
      );
    return pipeline.deadLetter(letter, first?.code ?? 'bad_shape');
  }

  function refuse(topic: string, payload: Buffer, code: MessageRejectionCode, message: string) {
    return deadLetter(topic, payload, [{ field: '', code, message }], 0);
  }

  // One limits object per millisecond rather than per message (validateReading only reads it).
  let limits: ValidationLimits = { now: 0, maxAgeMs, maxAheadMs: config.INGEST_MAX_AHEAD_MS };
  function limitsNow(): ValidationLimits {
    const now = Date.now();
    if (limits.now !== now) limits = { now, maxAgeMs, maxAheadMs: config.INGEST_MAX_AHEAD_MS };
    return limits;
  }

  function judge(topic: string, payload: Buffer, sensor: SensorInfo): Promise<unknown> {
    if (payload.length > config.INGEST_MAX_PAYLOAD_BYTES) {
      return refuse(
        topic,
        payload,
        'payload_too_large',
        `payload of ${payload.length} bytes exceeds the limit of ${config.INGEST_MAX_PAYLOAD_BYTES}`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      return refuse(topic, payload, 'malformed_json', `payload is not JSON: ${(error as Error).message}`);
    }
    const batch = Array.isArray(body);
    const limits = limitsNow();
    let single: ValidationResult | undefined;
    if (!batch) {
      // The hot path, one good reading: no arrays, no Promise.all, its batch's shared promise.
      single = validateReading(body, sensor, limits, SOURCE);
      if (single.reading && single.rejected.length === 0) return pipeline.acceptShared(single.reading);
    }
    const items: unknown[] = batch ? (body as unknown[]) : [body];
    if (batch && items.length > config.INGEST_MAX_BATCH) {
      return refuse(
        topic,
        payload,
        'batch_too_large',
        `a batch holds at most ${config.INGEST_MAX_BATCH} readings, got ${items.length}`,
      );
    }
    const writes: Promise<unknown>[] = [];
    const rejections: MessageRejection[] = [];
    for (let index = 0; index < items.length; index++) {
      const result = single ?? validateReading(items[index], sensor, limits, SOURCE);
      if (result.reading) writes.push(pipeline.acceptShared(result.reading));
      for (const rejection of result.rejected) rejections.push(batch ? { ...rejection, index } : rejection);
    }
    if (items.length === 0) {
      rejections.push({ field: '', code: 'no_metrics', message: 'an empty batch holds no reading' });
    }
    if (rejections.length > 0) writes.push(deadLetter(topic, payload, rejections, writes.length));
    return Promise.all(writes);
  }

  function admit(topic: string, payload: Buffer, claimed: string, sensor: SensorInfo | undefined) {
    if (!sensor) return refuse(topic, payload, 'unknown_sensor', `no active or pending sensor "${claimed}"`);
    return judge(topic, payload, sensor);
  }

  /**
   * Ingests one message published on `topic` by `sensorId` (the authenticated device, or for an
   * external broker the id in the topic). Resolves once everything it produced is in Redis;
   * rejects only when Redis refused a write, and then nothing may be acknowledged. Not an async
   * function: a cached sensor is judged in the same turn, without an extra promise per message.
   */
  function ingest(topic: string, payload: Buffer, sensorId: string | undefined): Promise<unknown> {
    try {
      const claimed = sensorIdFromTopic(topic);
      if (claimed === undefined) {
        return refuse(topic, payload, 'bad_topic', 'readings go to sensors/{sensorId}/readings');
      }
      if (sensorId !== undefined && claimed !== sensorId) {
        return refuse(
          topic,
          payload,
          'topic_not_allowed',
          `device ${sensorId} may only publish to ${readingsTopic(sensorId)}`,
        );
      }
      const sensor = directory.get(claimed);
      if (sensor instanceof Promise) return sensor.then((info) => admit(topic, payload, claimed, info));
      return admit(topic, payload, claimed, sensor);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  return { ingest };
}

/** The MQTT message handler. */
export type MqttIngest = ReturnType<typeof mqttIngest>;
