import { randomBytes } from 'node:crypto';
import { createPublisher, exports as exportsStream } from '@sensormesh/bus';
import { AppError } from '@sensormesh/errors';
import {
  type ExportJobRow,
  type ExportJobStatus,
  findExportJob,
  listExportJobs,
  saveExportJob,
} from '@sensormesh/store';
import type { GatewayContext } from '../../context.ts';
import { exportFiles } from './files.ts';
import { FORMATS, type RowCounter } from './formats.ts';
import { cancelRequested, jobView, newJobId, publishProgress, requestCancel } from './jobs.ts';
import { downloadLinks, linkKey } from './links.ts';
import type { ExportJobView, ExportRequest } from './model.ts';
import { type ExportPlan, exportPlanner } from './plan.ts';
import { exportBytes } from './runner.ts';

const API_PREFIX = '/api/v1/data/export';
const stamp = (ms: number) => new Date(ms).toISOString().replace(/[:.]/g, '-');

/** The export module's logic: plan, stream small exports, queue and manage jobs, serve downloads. */
export function exportService(ctx: GatewayContext) {
  const { store, redis, config } = ctx;
  const log = ctx.logger.child({ module: 'export' });
  const plan = exportPlanner(store, config);
  const files = exportFiles(config.EXPORT_DIR);
  const links = downloadLinks(linkKey(config));
  const publisher = createPublisher(redis, { registry: ctx.registry, logger: ctx.logger });
  let streaming = 0;

  const notify = (job: ExportJobRow) =>
    publishProgress(publisher, job).catch((error: unknown) =>
      log.warn({ err: error, jobId: job.id }, 'export progress not published'),
    );

  /** A Response whose body is the export, pulled from the engine as the client reads. */
  async function streamResponse(exportPlan: ExportPlan, requestId?: string): Promise<Response> {
    if (streaming >= config.EXPORT_MAX_CONCURRENT_STREAMS) {
      throw new AppError('RATE_LIMITED', 'too many exports are streaming; retry shortly or ask for a job', {
        headers: { 'retry-after': '5' },
        details: { hint: 'delivery: "job"' },
      });
    }
    await files.ensure();
    streaming++;
    let released = false;
    const release = () => {
      if (!released) streaming--;
      released = true;
    };
    const counter: RowCounter = { rows: 0, bytes: 0 };
    const scratch = () => files.pathOf(files.partName(newJobId(), randomBytes(4).toString('hex')));
    const iterator = exportBytes(store, exportPlan, counter, { scratch })[Symbol.asyncIterator]();
    let first: IteratorResult<Uint8Array>;
    try {
      // Engine errors (a bad zone, the store down) surface here, while an error status can still be sent.
      first = await iterator.next();
    } catch (error) {
      release();
      throw error;
    }
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        if (first.done) {
          controller.close();
          release();
        } else controller.enqueue(first.value);
      },
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) {
            controller.close();
            release();
            log.info({ requestId, rows: counter.rows, bytes: counter.bytes }, 'export streamed');
          } else controller.enqueue(next.value);
        } catch (error) {
          release();
          log.error({ requestId, err: error, rows: counter.rows }, 'export stream failed mid-way');
          controller.error(error);
        }
      },
      async cancel() {
        release();
        await iterator.return?.();
      },
    });
    const { query } = exportPlan;
    const spec = FORMATS[exportPlan.format];
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': spec.contentType,
        'content-disposition': `attachment; filename="sensormesh-${stamp(query.from)}-${stamp(query.to)}.${spec.extension}"`,
        'cache-control': 'no-store',
        'x-export-estimated-rows': String(exportPlan.estimatedRows),
      },
    });
  }

  async function createJob(exportPlan: ExportPlan, userId: string): Promise<ExportJobRow> {
    const now = Date.now();
    const job: ExportJobRow = {
      id: newJobId(),
      userId,
      status: 'queued',
      format: exportPlan.format,
      request: JSON.stringify(exportPlan),
      estimatedRows: exportPlan.estimatedRows,
      rows: 0,
      bytes: 0,
      fileName: '',
      error: '',
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
    };
    await saveExportJob(store)(job);
    try {
      await publisher.publish(exportsStream, { jobId: job.id, userId, at: now });
    } catch (error) {
      const failed = {
        ...job,
        status: 'failed' as const,
        error: 'could not be queued',
        updatedAt: Date.now(),
      };
      await saveExportJob(store)(failed);
      throw new AppError('UNAVAILABLE', 'the export could not be queued; try again', { cause: error });
    }
    await notify(job);
    return job;
  }

  /** The caller's job; someone else's is a 404, so ids reveal nothing. */
  async function ownJob(id: string, userId: string): Promise<ExportJobRow> {
    const job = await findExportJob(store)(id);
    if (!job || job.userId !== userId)
      throw new AppError('NOT_FOUND', 'no such export job', { details: { id } });
    return job;
  }

  async function view(job: ExportJobRow): Promise<ExportJobView> {
    const cancelAsked = await cancelRequested(redis, job.id);
    if (job.status !== 'done' || !job.fileName) return jobView(job, cancelAsked);
    const expiresAt = Math.min(
      Date.now() + config.EXPORT_LINK_TTL_S * 1_000,
      job.expiresAt ?? Number.MAX_SAFE_INTEGER,
    );
    const signature = links.sign({ jobId: job.id, userId: job.userId, expiresAt });
    const url = `${API_PREFIX}/jobs/${job.id}/download?expires=${expiresAt}&signature=${signature}`;
    return jobView(job, cancelAsked, { url, expiresAt });
  }

  async function setStatus(
    job: ExportJobRow,
    status: ExportJobStatus,
    error = job.error,
  ): Promise<ExportJobRow> {
    const next = { ...job, status, error, updatedAt: Date.now() };
    await saveExportJob(store)(next);
    await notify(next);
    return next;
  }

  /**
   * Cancels a queued or running job. A queued job is marked at once; a running one is stopped by
   * its worker, which sees the request within a heartbeat and writes `cancelled` itself.
   */
  async function cancel(id: string, userId: string): Promise<ExportJobView> {
    let job = await ownJob(id, userId);
    if (job.status !== 'queued' && job.status !== 'running') {
      throw new AppError('CONFLICT', `the job is ${job.status}`, { details: { status: job.status } });
    }
    await requestCancel(redis, id);
    if (job.status === 'queued') job = await setStatus(job, 'cancelled');
    return view(job);
  }

  return {
    files,
    links,

    /** Plans a request, then streams it back (small) or queues it as a job (large, or asked for). */
    async start(
      body: ExportRequest,
      userId: string,
      requestId?: string,
    ): Promise<{ response: Response } | { job: ExportJobView }> {
      const exportPlan = await plan(body);
      const small = exportPlan.estimatedRows <= config.EXPORT_STREAM_MAX_ROWS;
      if (small && (body.delivery ?? 'auto') === 'auto')
        return { response: await streamResponse(exportPlan, requestId) };
      const job = await createJob(exportPlan, userId);
      log.info(
        { requestId, jobId: job.id, estimatedRows: job.estimatedRows, format: job.format },
        'export queued',
      );
      return { job: await view(job) };
    },

    async get(id: string, userId: string): Promise<ExportJobView> {
      return view(await ownJob(id, userId));
    },

    async list(userId: string, query: { status?: ExportJobStatus; limit: number; offset: number }) {
      const page = await listExportJobs(store)({ userId, ...query });
      return { items: await Promise.all(page.items.map(view)), total: page.total, ...query };
    },

    cancel,

    /** Cancels an active job, or deletes a finished job's file; the record stays. */
    async remove(id: string, userId: string): Promise<ExportJobView> {
      const job = await ownJob(id, userId);
      if (job.status === 'queued' || job.status === 'running') return cancel(id, userId);
      if (job.status !== 'done') return view(job);
      if (job.fileName) await files.remove(job.fileName);
      return view(await setStatus(job, 'deleted'));
    },

    /** Serves a finished job's file to the one user the link was signed for, until it expires. */
    async download(id: string, userId: string, expiresAt: number, signature: string): Promise<Response> {
      if (!links.verify({ jobId: id, userId, expiresAt }, signature)) {
        throw new AppError('FORBIDDEN', 'this download link is not valid for you');
      }
      if (expiresAt <= Date.now()) {
        throw new AppError('GONE', 'this download link has expired; get the job again for a fresh one');
      }
      const job = await ownJob(id, userId);
      if (job.status !== 'done' || !job.fileName) {
        throw new AppError('GONE', `the export is ${job.status}`, { details: { status: job.status } });
      }
      const file = Bun.file(files.pathOf(job.fileName));
      if (!(await file.exists())) throw new AppError('GONE', 'the export file is gone');
      const spec = FORMATS[job.format as ExportRequest['format']];
      return new Response(file, {
        headers: {
          'content-type': spec.contentType,
          'content-disposition': `attachment; filename="sensormesh-export-${job.id}.${spec.extension}"`,
          'cache-control': 'no-store',
        },
      });
    },
  };
}
export type ExportService = ReturnType<typeof exportService>;
