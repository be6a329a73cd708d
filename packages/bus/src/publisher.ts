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

/** Entries per append script call: one reply array per 1,000 entries keeps memory flat. */
const CHUNK = 1_000;

/**
 * Appends ARGV to KEYS[1], one entry each, and answers {ids} or, at the first refusal, {ids so far,
 * error}. One command per chunk instead of one XADD each: ioredis spends ~3 µs of client CPU per
 * command (object, encoding, reply), the script ~0.5 µs per entry for ~0.4 µs more in Redis.
 */
const APPEND = `local ids = {}
for i = 1, #ARGV do
  local id = redis.pcall('XADD', KEYS[1], '*', '${MESSAGE_FIELD}', ARGV[i])
  if type(id) == 'table' and id.err then return {ids, id.err} end
  ids[i] = id
end
return {ids}`;
type AppendReply = [ids: string[], error?: string];

/**
 * Runs the append script. EVAL, not EVALSHA: Redis caches the compiled script by its hash anyway,
 * and a NOSCRIPT retry after a restart could let a later chunk overtake an earlier one.
 */
const append = (redis: Redis, stream: string, encoded: string[]) =>
  redis.eval(APPEND, 1, stream, ...encoded) as Promise<AppendReply>;

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
    // Every chunk is sent before the first reply is awaited: one connection keeps them in order.
    const pending: Promise<AppendReply>[] = [];
    for (let start = 0; start < encoded.length; start += CHUNK)
      pending.push(append(redis, stream.name, encoded.slice(start, start + CHUNK)));
    const ids: (string | null)[] = [];
    let written = 0;
    let failure: unknown;
    for (const [index, reply] of (await Promise.allSettled(pending)).entries()) {
      const size = Math.min(CHUNK, encoded.length - index * CHUNK);
      if (reply.status === 'rejected') {
        // Refused before it ran, or the connection failed: which entries exist is unknown.
        failure ??= reply.reason;
        for (let i = 0; i < size; i++) ids.push(null);
        continue;
      }
      const [chunkIds, error] = reply.value;
      if (error !== undefined) failure ??= new Error(error);
      written += chunkIds.length;
      for (let i = 0; i < size; i++) ids.push(chunkIds[i] ?? null);
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
