import { describeError } from '@sensormesh/errors';
import { type Logger, silentLogger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import type Redis from 'ioredis';
import type { GroupOf, MessageOf, StreamDef } from './catalogue.ts';
import { consumerMetrics } from './consumer-metrics.ts';
import { type BatchContext, type Handler, type InHand, processBatch } from './process-batch.ts';
import { parseAutoClaim, parseEntries, parsePendingRows, parseReadGroup } from './replies.ts';
import { dlq } from './streams.ts';

/** Options of a consumer; durations in ms. */
export interface ConsumerOptions<D extends StreamDef> {
  stream: D;
  group: GroupOf<D>;
  /** This consumer's name within the group; keep it stable across restarts to resume its pending entries. */
  consumer: string;
  handler: Handler<MessageOf<D>>;
  /** Most entries per handler call (default 100). */
  batchSize?: number;
  /**
   * After a full batch (a backlog), read the next one while the handler runs (default false), so
   * Redis and the reply's decoding overlap a handler that waits on I/O (the writer's insert).
   */
  readAhead?: boolean;
  /** After a read that did not fill the batch, keep reading this long to fill it (default 0). */
  maxWaitMs?: number;
  /**
   * With maxWaitMs: a read that finds nothing new for this long ends the wait early (default 0, off),
   * so a burst is handled once it has passed rather than maxWaitMs after it began…
   */
  idleMs?: number;
  /**
   * …but only once this long has passed since the previous batch was handed over (default 0), so
   * bursty sources cannot make a handler (an insert) run more often than this.
   */
  minIntervalMs?: number;
  /** Longest blocking read (default 1000); bounds how late stop() and claims can be. */
  blockMs?: number;
  /** Entries pending longer than this on any consumer are claimed (default 60000). */
  visibilityTimeoutMs?: number;
  /** How often to look for idle entries to claim (default visibilityTimeoutMs / 2, at most 30000). */
  claimIntervalMs?: number;
  logger?: Logger;
  registry?: Registry;
  /** Where dead letters go (default the catalogue's dlq). */
  deadLetters?: StreamDef;
}

/** A running member of a consumer group. */
export interface Consumer {
  /** Creates the group if needed and starts the loop; resolves once it runs. */
  start(): Promise<void>;
  /** Finishes the batch in hand (handler and acks), then closes the consumer's connection. */
  stop(): Promise<void>;
}

const MAX_CLAIM_PAGES = 10;
const MAX_ERROR_DELAY_MS = 5_000;

/** Creates a consumer; it reads on its own connection (`redis.duplicate()`), so `redis` never blocks. */
export function createConsumer<D extends StreamDef>(redis: Redis, options: ConsumerOptions<D>): Consumer {
  const { stream: def, group, consumer: name } = options;
  if (!def.groups.includes(group)) throw new Error(`stream ${def.name} declares no group ${group}`);
  const batchSize = options.batchSize ?? 100;
  const readAhead = options.readAhead ?? false;
  const maxWaitMs = Math.max(0, options.maxWaitMs ?? 0);
  const idleMs = Math.max(0, options.idleMs ?? 0);
  const minIntervalMs = Math.max(0, options.minIntervalMs ?? 0);
  const blockMs = Math.max(1, options.blockMs ?? 1_000);
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? 60_000;
  const claimIntervalMs = options.claimIntervalMs ?? Math.min(Math.max(visibilityTimeoutMs / 2, 100), 30_000);
  const key = def.name;
  const log = (options.logger ?? silentLogger()).child({ stream: key, group, consumer: name });
  const metrics = consumerMetrics(options.registry, key, group);
  const lastErrors = new Map<string, string>();

  let conn: Redis | undefined;
  let clientId: number | undefined;
  let running: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let stopping = false;
  let reading = false;
  let handedOverAt = 0;
  let wake: () => void = () => {};
  let retryAt = 0;
  let unacked: Promise<Error | undefined> | undefined;

  function context(connection: Redis): BatchContext {
    const handler = options.handler as Handler<unknown>;
    const deadLetters = options.deadLetters ?? dlq;
    return { redis: connection, def, group, deadLetters, handler, log, metrics, lastErrors };
  }

  async function ensureGroup(connection: Redis): Promise<void> {
    try {
      await connection.xgroup('CREATE', key, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!describeError(error).includes('BUSYGROUP')) throw error;
    }
  }

  /** Waits for the previous batch's XACK; it was sent before any later command, so it is answered. */
  async function settle(): Promise<void> {
    const acked = unacked;
    unacked = undefined;
    const error = acked && (await acked);
    if (error) throw error;
  }

  async function handle(ctx: BatchContext, entries: InHand[]): Promise<void> {
    log.debug({ first: entries[0]?.id, last: entries.at(-1)?.id, count: entries.length }, 'batch');
    await settle();
    const { failures, acked } = await processBatch(ctx, entries);
    unacked = acked;
    const now = Date.now();
    for (const failure of failures) retryAt = Math.min(retryAt, now + def.retry.backoffMs * failure.attempts);
  }

  /** Own pending entries whose backoff elapsed are claimed to self, which bumps their delivery count. */
  async function retryOwn(ctx: BatchContext, connection: Redis): Promise<void> {
    const now = Date.now();
    let next = now + claimIntervalMs; // also picks up what a previous run under this name left pending
    const due: { id: string; attempts: number; idle: number }[] = [];
    let start = '-';
    for (let page = 0; page < MAX_CLAIM_PAGES && due.length < batchSize; page++) {
      const rows = parsePendingRows(await connection.xpending(key, group, start, '+', batchSize, name));
      for (const row of rows) {
        const wait = def.retry.backoffMs * row.deliveries - row.idleMs;
        if (wait <= 0) due.push({ id: row.id, attempts: row.deliveries + 1, idle: row.idleMs });
        else next = Math.min(next, now + wait);
      }
      const last = rows.at(-1);
      if (rows.length < batchSize || !last) break;
      start = `(${last.id}`;
    }
    retryAt = due.length >= batchSize ? now : next;
    if (due.length === 0) return;
    // The min-idle guard skips an entry another consumer claimed meanwhile (its idle time reset).
    const minIdle = Math.min(...due.map((entry) => entry.idle));
    const claimed = parseEntries(
      await connection.call('XCLAIM', key, group, name, minIdle, ...due.map((entry) => entry.id)),
    );
    if (claimed.length === 0) return;
    metrics.claimed.inc(claimed.length);
    const attempts = new Map(due.map((entry) => [entry.id, entry.attempts]));
    log.info({ ids: claimed.map((entry) => entry.id) }, 'retrying failed messages');
    await handle(
      ctx,
      claimed.map((entry) => ({ ...entry, attempts: attempts.get(entry.id) ?? 2 })),
    );
  }

  /** Entries idle past the visibility timeout on any consumer (a dead one, say) are taken over. */
  async function claimIdle(ctx: BatchContext, connection: Redis): Promise<void> {
    let cursor = '0-0';
    for (let page = 0; page < MAX_CLAIM_PAGES && !stopping; page++) {
      const reply = await connection.xautoclaim(
        key,
        group,
        name,
        visibilityTimeoutMs,
        cursor,
        'COUNT',
        batchSize,
      );
      const { next, entries, deleted } = parseAutoClaim(reply);
      if (deleted.length > 0)
        log.warn({ ids: deleted }, 'idle pending entries were trimmed before being processed');
      if (entries.length > 0) {
        metrics.claimed.inc(entries.length);
        const pipeline = connection.pipeline();
        for (const entry of entries) pipeline.xpending(key, group, entry.id, entry.id, 1);
        const counts = new Map<string, number>();
        for (const [, rows] of (await pipeline.exec()) ?? [])
          for (const row of parsePendingRows(rows)) counts.set(row.id, row.deliveries);
        log.info({ ids: entries.map((entry) => entry.id) }, 'claimed idle entries');
        await handle(
          ctx,
          entries.map((entry) => ({ ...entry, attempts: counts.get(entry.id) ?? 1 })),
        );
      }
      if (next === '0-0') break;
      cursor = next;
    }
  }

  async function readNew(connection: Redis, block: number, count = batchSize): Promise<InHand[]> {
    reading = true;
    try {
      const reply = await connection.xreadgroup(
        'GROUP',
        group,
        name,
        'COUNT',
        count,
        'BLOCK',
        block,
        'STREAMS',
        key,
        '>',
      );
      return parseReadGroup(reply).map((entry) => ({ id: entry.id, fields: entry.fields, attempts: 1 }));
    } finally {
      reading = false;
    }
  }

  /** Reads without blocking: a blocked read would hold up the XACK sent behind it. */
  async function readWaiting(connection: Redis): Promise<InHand[]> {
    const reply = await connection.xreadgroup('GROUP', group, name, 'COUNT', batchSize, 'STREAMS', key, '>');
    return parseReadGroup(reply).map((entry) => ({ id: entry.id, fields: entry.fields, attempts: 1 }));
  }

  /**
   * Reads new entries, then with maxWaitMs keeps reading until the batch is full or the time is up:
   * fewer, larger handler calls (inserts) under light load. With idleMs, a quiet stream ends the
   * wait once minIntervalMs has passed since the previous batch. What was read is pending on this
   * consumer meanwhile, so a crash here loses nothing; stop() ends the wait and the batch is handled.
   */
  async function readBatch(connection: Redis, block: number, first?: InHand[]): Promise<InHand[]> {
    const entries = first ?? (await readNew(connection, block));
    const deadline = Date.now() + maxWaitMs;
    while (entries.length > 0 && entries.length < batchSize && !stopping) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const more = await readNew(
        connection,
        idleMs > 0 ? Math.min(left, idleMs) : left,
        batchSize - entries.length,
      );
      if (more.length === 0 && idleMs > 0 && Date.now() - handedOverAt >= minIntervalMs) break;
      // A loop, not push(...more): a spread of tens of thousands of arguments can overflow the stack.
      for (const entry of more) entries.push(entry);
    }
    if (entries.length > 0) handedOverAt = Date.now();
    return entries;
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async function loop(connection: Redis): Promise<void> {
    const ctx = context(connection);
    let nextClaimAt = 0;
    let errorDelay = 0;
    let ahead: Promise<InHand[]> | undefined;
    while (!stopping) {
      try {
        let early: InHand[] = [];
        if (ahead) {
          const read = ahead;
          ahead = undefined;
          early = await read;
        }
        let entries: InHand[];
        if (early.length > 0) entries = await readBatch(connection, blockMs, early);
        else {
          if (Date.now() >= nextClaimAt) {
            await claimIdle(ctx, connection);
            nextClaimAt = Date.now() + claimIntervalMs;
          }
          if (!stopping && Date.now() >= retryAt) await retryOwn(ctx, connection);
          if (stopping) break;
          const block = Math.min(blockMs, Math.max(1, Math.min(nextClaimAt, retryAt) - Date.now()));
          entries = await readBatch(connection, block);
        }
        await settle();
        if (entries.length === 0) continue;
        // Only between claims and retries: those run with nothing read ahead in hand.
        if (readAhead && entries.length >= batchSize && Date.now() < Math.min(nextClaimAt, retryAt)) {
          ahead = readWaiting(connection);
          ahead.catch(() => undefined); // awaited (and its failure handled) on the next turn
        }
        await handle(ctx, entries);
        errorDelay = 0;
      } catch (error) {
        if (stopping) break;
        errorDelay = Math.min(Math.max(100, errorDelay * 2), MAX_ERROR_DELAY_MS);
        log.error({ err: error, retryInMs: errorDelay }, 'consumer loop failed; retrying');
        await pause(errorDelay);
      }
    }
    // What was read ahead is in hand too: finish it rather than leave it pending until a claim.
    if (ahead) {
      try {
        const entries = await ahead;
        await settle();
        if (entries.length > 0) await handle(ctx, entries);
      } catch (error) {
        log.error({ err: error }, 'batch read ahead not finished; it stays pending for a claim');
      }
    }
    await settle().catch((error: unknown) => log.error({ err: error }, 'last acknowledgement failed'));
  }

  async function start(): Promise<void> {
    if (running) throw new Error(`consumer ${name} on ${key}/${group} already started`);
    const connection = redis.duplicate();
    connection.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
    connection.on('ready', () => {
      connection.client('ID').then(
        (id) => (clientId = id),
        () => (clientId = undefined),
      );
    });
    try {
      clientId = await connection.client('ID');
      await ensureGroup(connection);
    } catch (error) {
      connection.disconnect();
      throw new Error(`consumer ${name} could not join ${key}/${group}`, { cause: error });
    }
    conn = connection;
    stopping = false;
    running = loop(connection);
    log.info({ batchSize, maxWaitMs, visibilityTimeoutMs }, 'consumer started');
  }

  async function shutdown(connection: Redis, loopDone: Promise<void>): Promise<void> {
    stopping = true;
    wake();
    // A blocked read then returns empty at once, delivering nothing; not awaited, since the read
    // ends within blockMs anyway and `redis` may be busy or down.
    if (reading && clientId !== undefined) redis.client('UNBLOCK', clientId).catch(() => 0);
    await loopDone;
    await connection.quit().catch(() => connection.disconnect());
    running = undefined;
    conn = undefined;
    log.info('consumer stopped');
  }

  function stop(): Promise<void> {
    if (!running || !conn) return stopped ?? Promise.resolve();
    stopped ??= shutdown(conn, running).finally(() => {
      stopped = undefined;
    });
    return stopped;
  }

  return { start, stop };
}
