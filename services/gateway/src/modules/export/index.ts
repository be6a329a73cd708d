import { errorResponses, requestIdOf } from '@sensormesh/http';
import { Elysia, t } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { type Principal, userIdOf } from '../access/model.ts';
import {
  DownloadQuery,
  ExportJobPage,
  ExportJobView,
  ExportRequest,
  JobListQuery,
  JobParams,
} from './model.ts';
import { exportService } from './service.ts';

export { type ExportWorker, type ExportWorkerOptions, startExportWorker } from './worker.ts';

const ACCESS = { role: 'professional', scope: 'export' } as const;
// A Response body, documented as binary; Elysia passes a returned Response through unvalidated.
const FILE = t.Unsafe<Response>(
  t.String({ format: 'binary', description: 'the file, in the requested format' }),
);
const FILE_TYPES = [
  'text/csv',
  'application/x-ndjson',
  'application/json',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.apache.parquet',
];
type BinaryContent = Record<string, { schema: { type: 'string'; format: 'binary' } }>;
const fileResponse = (description: string) => ({
  description,
  content: Object.fromEntries(
    FILE_TYPES.map((type) => [type, { schema: { type: 'string', format: 'binary' } }]),
  ) as BinaryContent,
});

// The access macro guarantees a user behind every principal that reaches these routes.
const ownerOf = (principal: Principal) => userIdOf(principal) ?? '';

/**
 * POST /data/export (professional, or API keys with `export`): small exports stream straight back,
 * large ones become jobs under /data/export/jobs with progress, cancel and a signed download.
 */
export function exportModule(ctx: GatewayContext) {
  const service = exportService(ctx);
  return new Elysia({
    name: 'sensormesh.gateway.export',
    prefix: '/data/export',
    detail: { tags: ['export'] },
  })
    .use(ctx.access)
    .post(
      '/',
      async ({ body, principal, request, set }) => {
        const started = await service.start(body, ownerOf(principal), requestIdOf(request));
        if ('response' in started) return started.response;
        set.status = 202;
        set.headers.location = `/api/v1/data/export/jobs/${started.job.id}`;
        return started.job;
      },
      {
        access: ACCESS,
        body: ExportRequest,
        response: { 200: FILE, 202: ExportJobView, ...errorResponses(401, 403, 422, 429, 503) },
        detail: {
          summary: 'Export readings (CSV, NDJSON, JSON, XLSX, Parquet)',
          description:
            'Up to EXPORT_STREAM_MAX_ROWS rows the file streams back (200); larger exports, or `delivery: "job"`, answer 202 with a job to follow. Parquet needs chDB or a ClickHouse server of 19.1 or later.',
          responses: { 200: fileResponse('the export file, streamed') },
        },
      },
    )
    .get('/jobs', ({ principal, query }) => service.list(ownerOf(principal), query), {
      access: ACCESS,
      query: JobListQuery,
      response: { 200: ExportJobPage, ...errorResponses(401, 403, 422) },
      detail: { summary: 'Your export jobs, newest first' },
    })
    .get('/jobs/:id', ({ params, principal }) => service.get(params.id, ownerOf(principal)), {
      access: ACCESS,
      params: JobParams,
      response: { 200: ExportJobView, ...errorResponses(401, 403, 404, 422) },
      detail: {
        summary: 'One of your export jobs, with a fresh signed download link once done',
      },
    })
    .post('/jobs/:id/cancel', ({ params, principal }) => service.cancel(params.id, ownerOf(principal)), {
      access: ACCESS,
      params: JobParams,
      response: { 200: ExportJobView, ...errorResponses(401, 403, 404, 409, 422) },
      detail: { summary: 'Cancel a queued or running export job' },
    })
    .delete('/jobs/:id', ({ params, principal }) => service.remove(params.id, ownerOf(principal)), {
      access: ACCESS,
      params: JobParams,
      response: { 200: ExportJobView, ...errorResponses(401, 403, 404, 409, 422) },
      detail: { summary: 'Cancel an active export job, or delete a finished one’s file' },
    })
    .get(
      '/jobs/:id/download',
      ({ params, principal, query }) =>
        service.download(params.id, ownerOf(principal), query.expires, query.signature),
      {
        access: ACCESS,
        params: JobParams,
        query: DownloadQuery,
        response: { 200: FILE, ...errorResponses(401, 403, 404, 410, 422) },
        detail: {
          summary: 'Download a finished export (signed link, for its owner only)',
          description:
            'The link is signed for the job, its owner and an expiry; the caller must also be that owner.',
          responses: { 200: fileResponse('the export file') },
        },
      },
    );
}
