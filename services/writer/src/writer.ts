import { hostname } from 'node:os';
import {
  createConsumer,
  type Delivery,
  type HandlerResult,
  type Reading,
  readings,
  type StreamDef,
} from '@sensormesh/bus';
import { AppError, isAppError } from '@sensormesh/errors';
import type { ReadinessCheck } from '@sensormesh/http';
import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import { insertReadings, type ReadingRow, type Store } from '@sensormesh/store';
import type Redis from 'ioredis';
import { backoffDelay, sleep } from './backoff.ts';
import type { WriterConfig } from './env.ts';
import { insertLock } from './insert-lock.ts';
import { latestValues } from './latest-values.ts';
import { writerMetrics } from './metrics.ts';
import { type HeldEntry, pendingClaims } from './pending-claims.ts';
import { type RowProblem, readingRows, rowProblems } from './rows.ts';
import { sentThrough } from './sent-through.ts';

/** What the writer needs from the process that runs it. */
export interface WriterContext {
  config: WriterConfig;
  store: Store;
  /** Commands (latest values, claims); the consumer reads on its own duplicate connection. */
  redis: Redis;
  logger: Logger;
  registry: Registry;
}

/** Overrides for tests. */
export interface WriterOptions {
  /** The stream to consume (default the catalogue's `readings`), e.g. one with a shorter retry policy. */
  stream?: StreamDef<typeof Reading>;
}

/** A running writer. */
export interface Writer {
  /** Its name in the `writer` group. */
  readonly consumer: string;
  /** False before start, while stopping, and while inserts fail (a batch waits for the store). */
  ready(): boolean;
  /** `ready()` as a /ready check. */
  readonly check: ReadinessCheck;
  /** Finishes or hands back the batch in hand, then leaves the group's read loop. */
  stop(): Promise<void>;
}

const GROUP = 'writer';
/** A read that finds nothing new for this long means the stream went quiet: the batch need not wait. */
export const QUIET_MS = 50;
/** Message ids per log line: a batch is a short range of the stream, so the first ones place it. */
const LOGGED_IDS = 100;

/** A row the store refuses fails its message; everything else from the store is waited out. */
const isPermanent = (error: unknown) => isAppError(error) && error.code === 'VALIDATION_FAILED';

function refusal(reading: Reading, problems: RowProblem[]): AppError {
  // The bus keeps only the message of a handler error as the dead letter's reason: make it say all.
  const what = problems.map(
    (problem) => `metric ${JSON.stringify(problem.metric)} ${problem.path}: ${problem.message}`,
  );
  return new AppError(
    'VALIDATION_FAILED',
    `reading of ${reading.sensorId} at ${reading.ts} has rows the store refuses: ${what.join('; ')}`,
    { details: problems },
  );
}

/**
 * Starts the writer: a member of the `writer` group on `readings` that stores each batch with
 * `insertReadings` (exactly once per sensor, metric and ts), acks only after that insert, and then
 * records the latest values in Redis. While the store fails, the batch is retried in place with
 * backoff (never dead-lettered) and the stream buffers behind it.
 */
export async function startWriter(ctx: WriterContext, options: WriterOptions = {}): Promise<Writer> {
  const { config } = ctx;
  const stream = options.stream ?? readings;
  const name = config.WRITER_CONSUMER ?? `writer-${hostname()}`;
  const log = ctx.logger.child({ module: 'writer', consumer: name });
  const metrics = writerMetrics(ctx.registry);
  const stopping = new AbortController();
  // Marks in Redis let an in-order reading skip the store's lookup for an earlier copy of it; the
  // lock keeps another writer's look-up-then-insert from running between this one's.
  const insert = insertReadings(ctx.store, {
    sentThrough: sentThrough(ctx.redis),
    exclusive: insertLock(ctx.redis, {
      signal: stopping.signal,
      onWait: () => metrics.lockWaits.inc(),
    }),
  });
  const latest = latestValues(ctx.redis);
  const claims = pendingClaims(ctx.redis, stream.name, GROUP, name);
  const policy = { minMs: config.WRITER_RETRY_MIN_MS, maxMs: config.WRITER_RETRY_MAX_MS };
  const keepEveryMs = Math.max(10, Math.floor(config.WRITER_VISIBILITY_TIMEOUT_MS / 3));
  let running = false;
  let failing = false;

  function setFailing(value: boolean): void {
    failing = value;
    metrics.storeFailing.set(value ? 1 : 0);
  }

  /** Inserts until the rows are durable; false when the writer began stopping while the store failed. */
  async function insertDurably(rows: ReadingRow[], ids: string[]): Promise<boolean> {
    const batch = { messages: ids.length, firstId: ids[0], lastId: ids.at(-1) };
    // A long outage must not look like a dead writer to the other replicas.
    const heartbeat = setInterval(() => {
      claims
        .keep(ids, Math.floor(keepEveryMs / 2))
        .catch((error: unknown) =>
          log.warn({ err: error, ...batch }, 'could not renew the claim on a batch'),
        );
    }, keepEveryMs);
    try {
      for (let attempt = 0; ; attempt++) {
        const started = performance.now();
        try {
          const report = await insert(rows);
          metrics.insertSeconds.observe((performance.now() - started) / 1_000);
          metrics.inserted.inc(report.inserted);
          metrics.duplicates.inc(report.duplicates);
          if (failing) log.info({ ...batch, attempts: attempt + 1 }, 'store answers again; batch stored');
          setFailing(false);
          return true;
        } catch (error) {
          if (isPermanent(error)) throw error; // the bus bisects the batch down to the bad message
          setFailing(true);
          // Tried once more after stop() began: the batch in hand is finished when the store allows.
          if (stopping.signal.aborted) return false;
          const retryInMs = backoffDelay(attempt, policy);
          metrics.retries.inc();
          log.warn(
            { err: error, ...batch, messageIds: ids.slice(0, LOGGED_IDS), attempt: attempt + 1, retryInMs },
            'insert failed; retrying, the batch stays pending',
          );
          await sleep(retryInMs, stopping.signal);
        }
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Hands a batch back unacked, its delivery uncounted, so the next writer starts it afresh. */
  async function handBack(held: HeldEntry[]): Promise<HandlerResult['failed']> {
    const ids = held.map((entry) => entry.id);
    await claims
      .release(held)
      .catch((error: unknown) => log.warn({ err: error }, 'could not reset delivery counts'));
    log.warn(
      { messages: ids.length, messageIds: ids.slice(0, LOGGED_IDS) },
      'stopping while the store fails; the batch stays pending for the next writer',
    );
    const error = new AppError('UNAVAILABLE', 'writer stopped before the store came back');
    return ids.map((id) => ({ id, error }));
  }

  async function handle(messages: Delivery<Reading>[]): Promise<HandlerResult> {
    const failed: HandlerResult['failed'] = [];
    const rows: ReadingRow[] = [];
    const held: HeldEntry[] = [];
    for (const message of messages) {
      const own = readingRows(message.data, message.id);
      const problems = rowProblems(own);
      if (problems.length > 0) {
        // Whole or not at all: the dead letter then holds the complete reading for a replay.
        metrics.rejected.inc();
        failed.push({ id: message.id, error: refusal(message.data, problems) });
        continue;
      }
      for (const row of own) rows.push(row);
      held.push({ id: message.id, attempts: message.attempts });
    }
    if (held.length === 0) return { failed };
    if (
      !(await insertDurably(
        rows,
        held.map((entry) => entry.id),
      ))
    ) {
      return { failed: [...failed, ...(await handBack(held))] };
    }
    try {
      await latest.update(rows);
    } catch (error) {
      // A cache of the store: the rows are durable, so the batch is acked; the next reading repairs it.
      metrics.latestFailures.inc();
      log.warn({ err: error, messages: held.length, firstId: held[0]?.id }, 'latest values not updated');
    }
    return { failed };
  }

  const consumer = createConsumer(ctx.redis, {
    stream,
    group: GROUP,
    consumer: name,
    batchSize: config.WRITER_BATCH_SIZE,
    maxWaitMs: config.WRITER_MAX_WAIT_MS,
    idleMs: QUIET_MS,
    minIntervalMs: config.WRITER_MIN_INTERVAL_MS,
    // Under a backlog the next batch is read (and its reply decoded) while ClickHouse inserts this one.
    readAhead: true,
    visibilityTimeoutMs: config.WRITER_VISIBILITY_TIMEOUT_MS,
    logger: ctx.logger,
    registry: ctx.registry,
    handler: handle,
  });
  await consumer.start();
  running = true;
  const ready = () => running && !failing && !stopping.signal.aborted;
  log.info(
    {
      stream: stream.name,
      batchSize: config.WRITER_BATCH_SIZE,
      maxWaitMs: config.WRITER_MAX_WAIT_MS,
      minIntervalMs: config.WRITER_MIN_INTERVAL_MS,
    },
    'writer started',
  );

  return {
    consumer: name,
    ready,
    check: async () => ready(),
    async stop() {
      stopping.abort();
      await consumer.stop();
      running = false;
    },
  };
}
