import { randomBytes } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { hostname } from 'node:os';
import {
  createConsumer,
  createPublisher,
  type Delivery,
  type ExportMessage,
  exports as exportsStream,
} from '@sensormesh/bus';
import { describeError } from '@sensormesh/errors';
import { type ExportJobRow, findExportJob, listExpiredExportJobs, saveExportJob } from '@sensormesh/store';
import type { GatewayContext } from '../../context.ts';
import { exportFiles } from './files.ts';
import { FORMATS, type RowCounter } from './formats.ts';
import { cancelRequested, publishProgress } from './jobs.ts';
import type { ExportPlan } from './plan.ts';
import { writeExportFile } from './runner.ts';

/** Tuning of the export worker; durations in ms. */
export interface ExportWorkerOptions {
  /** Consumer name prefix in the `export-worker` group (default `export-<host>`); `-<n>` is appended. */
  consumer?: string;
  /** Jobs run at once (default EXPORT_WORKER_CONCURRENCY). */
  concurrency?: number;
  /** A job whose worker stopped beating this long is claimed by another (default 60 s). */
  visibilityTimeoutMs?: number;
  /** How often a running job proves its worker alive and looks for a cancel (default 2 s). */
  heartbeatMs?: number;
  /** How often progress is published (default 1 s); the store gets every fifth. */
  progressIntervalMs?: number;
  /** How often expired files are deleted (default 10 min). */
  cleanupIntervalMs?: number;
  /** Test seam: awaited after each chunk is written, so a test can hold a job mid-way. */
  afterChunk?: (jobId: string, rows: number) => Promise<void> | void;
}

/** A running export worker. */
export interface ExportWorker {
  /** Deletes expired files now (also run on a timer). */
  cleanup(): Promise<number>;
  /** Interrupts running jobs (they stay pending and run again elsewhere or after a restart), then stops. */
  stop(): Promise<void>;
}

// The entry is ours only while XPENDING names us; then XCLAIM … JUSTID resets its idle time without
// counting a delivery, so no other member claims a job that is still running.
const HEARTBEAT = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1`;

const GROUP = 'export-worker';
type StopReason = 'cancelled' | 'lost' | 'shutdown';

/** Starts the members of the `export-worker` group and the cleanup of expired files. */
export async function startExportWorker(
  ctx: GatewayContext,
  options: ExportWorkerOptions = {},
): Promise<ExportWorker> {
  const { store, redis, config } = ctx;
  const log = ctx.logger.child({ module: 'export-worker' });
  const files = exportFiles(config.EXPORT_DIR);
  const publisher = createPublisher(redis, { registry: ctx.registry, logger: ctx.logger });
  const heartbeatMs = options.heartbeatMs ?? 2_000;
  const progressMs = options.progressIntervalMs ?? 1_000;
  const running = new Set<(why: StopReason) => void>();
  await files.ensure();

  async function write(job: ExportJobRow, persist = true): Promise<void> {
    if (persist) await saveExportJob(store)(job);
    await publishProgress(publisher, job).catch((error: unknown) =>
      log.warn({ err: error, jobId: job.id }, 'export progress not published'),
    );
  }

  const settle = (job: ExportJobRow, status: ExportJobRow['status'], extra: Partial<ExportJobRow> = {}) =>
    write({ ...job, ...extra, status, updatedAt: Date.now(), finishedAt: Date.now() });

  /** Runs one job; resolves when the entry may be acked, rejects to leave it pending. */
  async function run(message: Delivery<ExportMessage>, consumer: string): Promise<void> {
    const jobId = message.data.jobId;
    const job = await findExportJob(store)(jobId);
    if (!job || (job.status !== 'queued' && job.status !== 'running')) {
      log.info({ jobId, status: job?.status ?? 'missing' }, 'nothing to run');
      return;
    }
    if (await cancelRequested(redis, jobId)) return settle(job, 'cancelled');
    const plan = JSON.parse(job.request) as ExportPlan;
    let current: ExportJobRow = {
      ...job,
      status: 'running',
      attempts: message.attempts,
      rows: 0,
      bytes: 0,
      error: '',
      startedAt: Date.now(),
      updatedAt: Date.now(),
    };
    await write(current);
    const controller = new AbortController();
    let reason: StopReason | undefined;
    const stop = (why: StopReason) => {
      reason ??= why;
      controller.abort(new Error(`export ${why}`));
    };
    running.add(stop);
    const beat = setInterval(() => {
      void (async () => {
        const owned = await redis.eval(HEARTBEAT, 1, exportsStream.name, GROUP, consumer, message.id);
        if (owned !== 1) stop('lost');
        else if (await cancelRequested(redis, jobId)) stop('cancelled');
      })().catch((error: unknown) => log.warn({ err: error, jobId }, 'export heartbeat failed'));
    }, heartbeatMs);
    let published = Date.now();
    let beats = 0;
    const part = files.partName(jobId, randomBytes(4).toString('hex'));
    try {
      const counter = await writeExportFile({
        store,
        plan,
        path: files.pathOf(part),
        signal: controller.signal,
        async onChunk(progress: RowCounter) {
          if (Date.now() - published >= progressMs) {
            published = Date.now();
            current = { ...current, rows: progress.rows, bytes: progress.bytes, updatedAt: published };
            await write(current, ++beats % 5 === 0);
          }
          await options.afterChunk?.(jobId, progress.rows);
        },
      });
      clearInterval(beat);
      if (await cancelRequested(redis, jobId)) {
        await files.remove(part);
        return settle(current, 'cancelled');
      }
      const fileName = files.fileName(jobId, FORMATS[plan.format].extension);
      await rename(files.pathOf(part), files.pathOf(fileName));
      // Over HTTP the server does not count Parquet rows; the count query did.
      const rows = counter.rows === 0 && plan.format === 'parquet' ? plan.estimatedRows : counter.rows;
      await settle(current, 'done', {
        rows,
        bytes: counter.bytes,
        fileName,
        expiresAt: Date.now() + config.EXPORT_RETENTION_S * 1_000,
      });
      log.info({ jobId, rows, bytes: counter.bytes, attempt: message.attempts }, 'export done');
    } catch (error) {
      clearInterval(beat);
      if (reason === 'cancelled') return settle(current, 'cancelled');
      if (reason) {
        log.warn({ jobId, reason }, 'export interrupted; it stays pending and runs again');
        throw error;
      }
      const failure = describeError(error).slice(0, 500);
      const final = message.attempts >= exportsStream.retry.maxAttempts;
      log.error({ err: error, jobId, attempt: message.attempts, final }, 'export attempt failed');
      if (final) await settle(current, 'failed', { error: failure });
      else await write({ ...current, status: 'queued', error: `attempt ${message.attempts}: ${failure}` });
      throw error;
    } finally {
      running.delete(stop);
    }
  }

  const base = options.consumer ?? `export-${hostname()}`;
  const consumers = Array.from(
    { length: options.concurrency ?? config.EXPORT_WORKER_CONCURRENCY },
    (_, n) => {
      const name = `${base}-${n + 1}`;
      return createConsumer(redis, {
        stream: exportsStream,
        group: GROUP,
        consumer: name,
        batchSize: 1,
        visibilityTimeoutMs: options.visibilityTimeoutMs ?? 60_000,
        logger: ctx.logger,
        registry: ctx.registry,
        async handler(messages: Delivery<ExportMessage>[]) {
          const failed: Array<{ id: string; error: unknown }> = [];
          for (const message of messages) {
            await run(message, name).catch((error: unknown) => failed.push({ id: message.id, error }));
          }
          return { failed };
        },
      });
    },
  );
  await Promise.all(consumers.map((consumer) => consumer.start()));

  async function cleanup(): Promise<number> {
    const expired = await listExpiredExportJobs(store)(Date.now());
    for (const job of expired) {
      if (job.fileName) await files.remove(job.fileName);
      await write({ ...job, status: 'expired', updatedAt: Date.now() });
    }
    const retentionMs = config.EXPORT_RETENTION_S * 1_000;
    const swept = await files.sweep({ part: 3_600_000, file: retentionMs + 3_600_000 });
    if (expired.length + swept.length > 0)
      log.info({ expired: expired.length, swept }, 'export files cleaned up');
    return expired.length + swept.length;
  }
  let cleaning: Promise<unknown> = Promise.resolve();
  const runCleanup = () => {
    cleaning = cleanup().catch((error: unknown) => log.error({ err: error }, 'export cleanup failed'));
  };
  const timer = setInterval(runCleanup, options.cleanupIntervalMs ?? 600_000);
  runCleanup();

  return {
    cleanup,
    async stop() {
      clearInterval(timer);
      for (const stop of running) stop('shutdown');
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      await cleaning;
    },
  };
}
