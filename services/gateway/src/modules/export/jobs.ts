import { randomBytes } from 'node:crypto';
import { type ExportProgress, exportProgress, type Publisher } from '@sensormesh/bus';
import type { ExportJobRow } from '@sensormesh/store';
import type Redis from 'ioredis';
import type { ExportJobView } from './model.ts';

/** A new job id: 128 random bits, so ids cannot be guessed (they also name the files). */
export const newJobId = () => `exp_${randomBytes(16).toString('hex')}`;

/** Redis key whose presence asks the worker running a job to stop (set by cancel). */
export const cancelKey = (jobId: string) => `export:cancel:${jobId}`;
const CANCEL_TTL_S = 7 * 86_400;

/** Marks a job as cancel-requested; every worker checks this before and while it runs the job. */
export async function requestCancel(redis: Redis, jobId: string): Promise<void> {
  await redis.set(cancelKey(jobId), '1', 'EX', CANCEL_TTL_S);
}

/** True when cancellation of the job was asked for. */
export async function cancelRequested(redis: Redis, jobId: string): Promise<boolean> {
  return (await redis.exists(cancelKey(jobId))) === 1;
}

/** rows / estimatedRows, capped below 1 until the job is done (the estimate can be low). */
export function progressOf(job: Pick<ExportJobRow, 'status' | 'rows' | 'estimatedRows'>): number {
  if (job.status === 'done') return 1;
  if (job.estimatedRows <= 0) return 0;
  return Math.min(0.99, job.rows / job.estimatedRows);
}

/** The job's state as an `export-progress` event (the WebSocket `exports` channel shows it to its owner). */
export function progressEvent(job: ExportJobRow): ExportProgress {
  return {
    jobId: job.id,
    userId: job.userId,
    status: job.status,
    rows: job.rows,
    estimatedRows: job.estimatedRows,
    progress: progressOf(job),
    bytes: job.bytes,
    ...(job.error ? { error: job.error } : {}),
    at: job.updatedAt,
  };
}

/** Publishes the job's state; progress is advisory, so a failed publish is the caller's to log. */
export function publishProgress(publisher: Publisher, job: ExportJobRow): Promise<string> {
  return publisher.publish(exportProgress, progressEvent(job));
}

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

/** The owner's view of a job; `download` is filled in by the caller for finished jobs. */
export function jobView(
  job: ExportJobRow,
  cancelAsked: boolean,
  download?: { url: string; expiresAt: number },
): ExportJobView {
  const view: ExportJobView = {
    id: job.id,
    status: job.status,
    format: job.format as ExportJobView['format'],
    estimatedRows: job.estimatedRows,
    rows: job.rows,
    bytes: job.bytes,
    progress: progressOf(job),
    cancelRequested: cancelAsked,
    createdAt: new Date(job.createdAt).toISOString(),
  };
  if (job.error) view.error = job.error;
  const started = iso(job.startedAt);
  if (started) view.startedAt = started;
  const finished = iso(job.finishedAt);
  if (finished) view.finishedAt = finished;
  const expires = iso(job.expiresAt);
  if (expires) view.expiresAt = expires;
  if (download) view.download = { url: download.url, expiresAt: new Date(download.expiresAt).toISOString() };
  return view;
}
