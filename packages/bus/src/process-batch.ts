import { describeError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import type Redis from 'ioredis';
import { type StreamDef, validationIssues } from './catalogue.ts';
import { MESSAGE_FIELD, messageField, rawPayload } from './codec.ts';
import type { ConsumerMetrics } from './consumer-metrics.ts';
import type { RawEntry } from './replies.ts';
import type { DeadLetter } from './streams.ts';

/** One message handed to a handler; `attempts` is its delivery count, 1 on the first read. */
export interface Delivery<T> {
  id: string;
  data: T;
  attempts: number;
}

/** What a handler may report instead of throwing: the messages that failed, the rest succeeded. */
export interface HandlerResult {
  failed: Array<{ id: string; error: unknown }>;
}

/** Applies a batch; resolve only once its effect is durable, since resolving leads to XACK. */
export type Handler<T> = (messages: Delivery<T>[]) => Promise<void> | Promise<HandlerResult | undefined>;

/** Everything a batch needs from its consumer. */
export interface BatchContext {
  redis: Redis;
  def: StreamDef;
  group: string;
  deadLetters: StreamDef;
  handler: Handler<unknown>;
  log: Logger;
  metrics: ConsumerMetrics;
  /** The last handler error per entry id, so a later claim can dead-letter with the real reason. */
  lastErrors: Map<string, string>;
}

/** An entry in hand with the delivery count it was read or claimed with. */
export interface InHand extends RawEntry {
  attempts: number;
}

/** A failed message left pending for a retry. */
export interface Failure {
  id: string;
  attempts: number;
}

/** What a batch left behind: failures to retry, and its XACK, sent but maybe not yet answered. */
export interface BatchOutcome {
  failures: Failure[];
  /** Resolves (never rejects) once Redis answered the XACK: undefined, or the error it failed with. */
  acked: Promise<Error | undefined>;
}

const MAX_REMEMBERED_ERRORS = 10_000;

/** Calls the handler, bisecting a batch that throws so one poison message fails alone. */
async function runIsolated(
  handler: Handler<unknown>,
  batch: Delivery<unknown>[],
): Promise<Map<string, unknown>> {
  const failures = new Map<string, unknown>();
  async function attempt(part: Delivery<unknown>[]): Promise<void> {
    let result: HandlerResult | undefined;
    try {
      // A handler typed Promise<void> resolves undefined; anything else is a HandlerResult.
      result = (await handler(part)) as HandlerResult | undefined;
    } catch (error) {
      const [only] = part;
      if (part.length === 1 && only) {
        failures.set(only.id, error);
        return;
      }
      const middle = Math.ceil(part.length / 2);
      await attempt(part.slice(0, middle));
      await attempt(part.slice(middle));
      return;
    }
    if (result?.failed?.length) {
      const ids = new Set(part.map((delivery) => delivery.id));
      for (const { id, error } of result.failed) if (ids.has(id)) failures.set(id, error);
    }
  }
  await attempt(batch);
  return failures;
}

/**
 * Decodes, validates and handles a batch, then acks what succeeded and dead-letters what must not
 * be retried, in one MULTI so a crash cannot lose or duplicate a dead letter. A plain XACK is not
 * awaited: the caller's next read rides behind it on the same connection, saving a round trip.
 */
export async function processBatch(ctx: BatchContext, entries: readonly InHand[]): Promise<BatchOutcome> {
  const { def, group, log, metrics, lastErrors } = ctx;
  const started = performance.now();
  const deliveries: Delivery<unknown>[] = [];
  const payloads: string[] = []; // raw JSON by delivery index, for a dead letter
  const dead: DeadLetter[] = [];
  const ack: string[] = [];
  const now = Date.now();
  const letter = (entry: InHand, payload: string, reason: string, details?: unknown): DeadLetter => ({
    source: def.name,
    group,
    entryId: entry.id,
    reason,
    ...(details === undefined ? {} : { details }),
    payload,
    attempts: entry.attempts,
    at: now,
  });

  for (const entry of entries) {
    const raw = messageField(entry.fields);
    if (entry.fields === null) {
      // Trimmed while pending: nothing to process, acking just clears the pending entry.
      log.warn({ messageId: entry.id }, 'pending entry no longer exists (trimmed); acking it');
      ack.push(entry.id);
      continue;
    }
    if (raw === undefined) {
      dead.push(letter(entry, rawPayload(entry.fields), `entry has no "${MESSAGE_FIELD}" field`));
      continue;
    }
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch (error) {
      dead.push(letter(entry, raw, 'invalid JSON', describeError(error)));
      continue;
    }
    if (!def.check.Check(data)) {
      dead.push(letter(entry, raw, 'schema validation failed', validationIssues(def, data)));
      continue;
    }
    if (entry.attempts > def.retry.maxAttempts) {
      // Claimed after its last allowed delivery died or timed out: retrying could crash-loop.
      const last = lastErrors.get(entry.id) ?? 'consumer died or timed out while handling it';
      dead.push(letter(entry, raw, `gave up after ${entry.attempts - 1} attempts: ${last}`));
      continue;
    }
    deliveries.push({ id: entry.id, data, attempts: entry.attempts });
    payloads.push(raw);
  }
  metrics.consumed.inc(entries.length);

  const failures: Failure[] = [];
  if (deliveries.length > 0) {
    const failed = await runIsolated(ctx.handler, deliveries);
    for (let i = 0; i < deliveries.length; i++) {
      const delivery = deliveries[i] as Delivery<unknown>;
      if (failed.size === 0 || !failed.has(delivery.id)) {
        ack.push(delivery.id);
        continue;
      }
      const error = failed.get(delivery.id);
      const reason = describeError(error);
      metrics.failed.inc();
      if (delivery.attempts >= def.retry.maxAttempts) {
        const entry = { id: delivery.id, fields: null, attempts: delivery.attempts };
        dead.push(letter(entry, payloads[i] ?? '', reason));
      } else {
        log.warn(
          { messageId: delivery.id, attempts: delivery.attempts, reason },
          'message failed; will retry',
        );
        if (lastErrors.size >= MAX_REMEMBERED_ERRORS) lastErrors.clear();
        lastErrors.set(delivery.id, reason);
        failures.push({ id: delivery.id, attempts: delivery.attempts });
      }
    }
  }

  if (lastErrors.size > 0) for (const id of ack) lastErrors.delete(id);
  const observe = () => metrics.batchSeconds.observe((performance.now() - started) / 1_000);
  if (dead.length > 0) {
    await commitWithDeadLetters(ctx, ack, dead);
    observe();
    return { failures, acked: Promise.resolve(undefined) };
  }
  if (ack.length === 0) return { failures, acked: Promise.resolve(undefined) };
  const acked = ctx.redis.xack(def.name, group, ...ack).then(
    (count) => {
      metrics.acked.inc(count);
      observe();
      return undefined;
    },
    (error: unknown) => new Error(`XACK of ${ack.length} entries on ${def.name} failed`, { cause: error }),
  );
  return { failures, acked };
}

async function commitWithDeadLetters(
  { redis, def, group, deadLetters, log, metrics, lastErrors }: BatchContext,
  ack: string[],
  dead: DeadLetter[],
): Promise<void> {
  const transaction = redis.multi();
  for (const letter of dead) transaction.xadd(deadLetters.name, '*', MESSAGE_FIELD, JSON.stringify(letter));
  const ids = [...ack, ...dead.map((letter) => letter.entryId as string)];
  transaction.xack(def.name, group, ...ids);
  const replies = await transaction.exec();
  const failure = replies?.find(([error]) => error)?.[0];
  if (!replies || failure)
    throw new Error(`dead-lettering on ${def.name} failed`, { cause: failure ?? 'transaction aborted' });
  metrics.acked.inc(Number(replies[replies.length - 1]?.[1] ?? 0));
  metrics.deadLettered.inc(dead.length);
  for (const letter of dead) {
    lastErrors.delete(letter.entryId as string);
    log.error(
      {
        messageId: letter.entryId,
        attempts: letter.attempts,
        reason: letter.reason,
        details: letter.details,
      },
      'message dead-lettered',
    );
  }
}
