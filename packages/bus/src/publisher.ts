import { type Logger, silentLogger } from '@sensormesh/log';
import { Counter, metric, type Registry } from '@sensormesh/metrics';
import type Redis from 'ioredis';
import { type MessageOf, type StreamDef, validationIssues } from './catalogue.ts';
import { MESSAGE_FIELD } from './codec.ts';
import { BusPublishError, BusValidationError, type ValidationIssue } from './errors.ts';

/** Options of a publisher. */
export interface PublisherOptions {
  registry?: Registry;
  logger?: Logger;
}

/** Validates messages against the catalogue and appends them to their streams. */
export interface Publisher {
  /** Appends one message; resolves with its entry id. */
  publish<D extends StreamDef>(stream: D, message: MessageOf<D>): Promise<string>;
  /** Appends messages in order, all or none validated; resolves with their entry ids in order. */
  publishBatch<D extends StreamDef>(stream: D, messages: readonly MessageOf<D>[]): Promise<string[]>;
}

/** Pipelines larger than this are split: one reply array per 1,000 commands keeps memory flat. */
const CHUNK = 1_000;

/** Creates a publisher on `redis`; it never retries on its own, so a rejection means "maybe not sent". */
export function createPublisher(
  redis: Redis,
  { registry, logger = silentLogger() }: PublisherOptions = {},
): Publisher {
  const published = registry
    ? metric(
        registry,
        'bus_messages_published_total',
        (registers) =>
          new Counter({
            name: 'bus_messages_published_total',
            help: 'Messages appended to a stream',
            labelNames: ['stream'],
            registers,
          }),
      )
    : undefined;
  const log = logger.child({ component: 'bus-publisher' });

  function encodeAll(def: StreamDef, messages: readonly unknown[]): string[] {
    const encoded = new Array<string>(messages.length);
    const issues: ValidationIssue[] = [];
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i];
      // The compiled Check is the hot path; Errors() only runs for the rare invalid message.
      if (def.check.Check(message)) encoded[i] = JSON.stringify(message);
      else issues.push(...validationIssues(def, message, i));
    }
    if (issues.length > 0) throw new BusValidationError(def.name, issues);
    return encoded;
  }

  async function publish<D extends StreamDef>(stream: D, message: MessageOf<D>): Promise<string> {
    const [json = ''] = encodeAll(stream, [message]);
    const id = await redis.xadd(stream.name, '*', MESSAGE_FIELD, json);
    if (id === null) throw new BusPublishError(stream.name, [], new Error('XADD returned no id'));
    published?.inc({ stream: stream.name });
    return id;
  }

  async function publishBatch<D extends StreamDef>(
    stream: D,
    messages: readonly MessageOf<D>[],
  ): Promise<string[]> {
    if (messages.length === 0) return [];
    const encoded = encodeAll(stream, messages);
    // Every chunk is written before the first reply is awaited: one connection keeps them in order.
    const pending: Promise<[error: Error | null, result: unknown][] | null>[] = [];
    for (let start = 0; start < encoded.length; start += CHUNK) {
      const pipeline = redis.pipeline();
      const end = Math.min(start + CHUNK, encoded.length);
      for (let i = start; i < end; i++) pipeline.xadd(stream.name, '*', MESSAGE_FIELD, encoded[i] as string);
      pending.push(pipeline.exec());
    }
    const ids: (string | null)[] = [];
    let written = 0;
    let failure: unknown;
    for (const replies of await Promise.allSettled(pending)) {
      if (replies.status === 'rejected') failure ??= replies.reason;
      else
        for (const [error, id] of replies.value ?? []) {
          if (error) failure ??= error;
          else written++;
          ids.push(error ? null : (id as string));
        }
    }
    published?.inc({ stream: stream.name }, written);
    if (failure !== undefined) {
      log.error({ stream: stream.name, err: failure, written, total: messages.length }, 'publish failed');
      throw new BusPublishError(stream.name, ids, failure);
    }
    return ids as string[];
  }

  return { publish, publishBatch };
}
