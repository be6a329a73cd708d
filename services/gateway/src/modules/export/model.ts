import { ExportJobStatus } from '@sensormesh/store';
import { type Static, t } from 'elysia';

/** Formats an export can be written in. */
export const EXPORT_FORMATS = ['csv', 'ndjson', 'json', 'xlsx', 'parquet'] as const;
export const ExportFormat = t.Union(
  [t.Literal('csv'), t.Literal('ndjson'), t.Literal('json'), t.Literal('xlsx'), t.Literal('parquet')],
  { description: 'csv (RFC 4180 with a header), ndjson, json (an array), xlsx, parquet' },
);
export type ExportFormat = Static<typeof ExportFormat>;

const Instant = t.Union([
  t.String({ minLength: 1, maxLength: 40, examples: ['2025-01-01T00:00:00Z'] }),
  t.Integer({ minimum: 0, examples: [1_735_689_600_000] }),
]);
const Name = t.String({ minLength: 1, maxLength: 128 });

/** Job ids are generated here: `exp_` and 32 hex digits; nothing else ever names a file. */
export const JOB_ID_PATTERN = '^exp_[0-9a-f]{32}$';
export const JobId = t.String({ pattern: JOB_ID_PATTERN, description: 'export job id' });

/** POST /data/export. `from` is inclusive, `to` exclusive; times are ISO-8601 or epoch ms. */
export const ExportRequest = t.Object(
  {
    format: ExportFormat,
    from: Instant,
    to: Instant,
    sensorIds: t.Optional(t.Array(Name, { minItems: 1, maxItems: 1_000, uniqueItems: true })),
    metrics: t.Optional(
      t.Array(t.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), {
        minItems: 1,
        maxItems: 64,
        uniqueItems: true,
      }),
    ),
    tags: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 50 })),
    layout: t.Optional(
      t.Union([t.Literal('long'), t.Literal('wide')], {
        description:
          'long: a row per reading (default); wide: a row per sensor and time, a column per metric',
      }),
    ),
    columns: t.Optional(
      t.Array(t.String({ minLength: 1, maxLength: 32 }), {
        minItems: 1,
        maxItems: 16,
        description:
          'long: sensor_id, metric, ts, value, received_at, source, ts_iso, received_at_iso (default the first four); wide: sensor_id, ts, ts_iso (default sensor_id, ts) before the metric columns',
      }),
    ),
    timeZone: t.Optional(
      t.String({ minLength: 1, maxLength: 64, description: 'IANA zone of the *_iso columns (default UTC)' }),
    ),
    delivery: t.Optional(
      t.Union([t.Literal('auto'), t.Literal('job')], {
        description: 'auto (default): small exports stream back, large ones become jobs; job: always a job',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ExportRequest = Static<typeof ExportRequest>;

/** An export job as its owner sees it. */
export const ExportJobView = t.Object({
  id: t.String(),
  status: ExportJobStatus,
  format: ExportFormat,
  estimatedRows: t.Integer(),
  rows: t.Integer({ description: 'rows written so far' }),
  bytes: t.Integer(),
  progress: t.Number({ minimum: 0, maximum: 1 }),
  error: t.Optional(t.String()),
  cancelRequested: t.Boolean(),
  createdAt: t.String({ format: 'date-time' }),
  startedAt: t.Optional(t.String({ format: 'date-time' })),
  finishedAt: t.Optional(t.String({ format: 'date-time' })),
  expiresAt: t.Optional(t.String({ format: 'date-time', description: 'when the file is deleted' })),
  download: t.Optional(
    t.Object({
      url: t.String({ description: 'signed for the caller only; needs the caller’s credentials too' }),
      expiresAt: t.String({ format: 'date-time' }),
    }),
  ),
});
export type ExportJobView = Static<typeof ExportJobView>;

export const ExportJobPage = t.Object({
  items: t.Array(ExportJobView),
  total: t.Integer(),
  limit: t.Integer(),
  offset: t.Integer(),
});

export const JobListQuery = t.Object(
  {
    status: t.Optional(ExportJobStatus),
    limit: t.Integer({ minimum: 1, maximum: 200, default: 50 }),
    offset: t.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const JobParams = t.Object({ id: JobId });

export const DownloadQuery = t.Object(
  {
    expires: t.Integer({ minimum: 0, description: 'epoch ms' }),
    signature: t.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  },
  { additionalProperties: false },
);
