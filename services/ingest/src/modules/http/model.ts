import { type Static, t } from 'elysia';

/** One refused field of a reading, named by its JSON path (`ts`, `metrics.pm25`). */
export const FieldRejection = t.Object({
  field: t.String({ examples: ['metrics.pm25'] }),
  code: t.String({ examples: ['out_of_range'] }),
  message: t.String({ examples: ['pm25 = 5000 µg/m³ is outside 0..1500'] }),
});
export type FieldRejection = Static<typeof FieldRejection>;

/** What became of one item of the request. */
export const ItemResult = t.Object({
  index: t.Integer({
    minimum: 0,
    description: 'position of the item in the request (0 for a single reading)',
  }),
  status: t.Union([t.Literal('accepted'), t.Literal('partial'), t.Literal('rejected')], {
    description: 'partial: some fields were refused, the rest is in the stream',
  }),
  id: t.Optional(t.String({ description: 'the `readings` stream entry id', examples: ['1732280000000-0'] })),
  rejected: t.Array(FieldRejection),
});
export type ItemResult = Static<typeof ItemResult>;

/** The 202 answer: one result per item, sent only once every accepted item is in the stream. */
export const IngestResponse = t.Object(
  {
    accepted: t.Integer({ minimum: 0, description: 'items whose reading (or part of it) is in the stream' }),
    rejected: t.Integer({ minimum: 0, description: 'items refused entirely' }),
    results: t.Array(ItemResult),
  },
  {
    examples: [
      {
        accepted: 1,
        rejected: 0,
        results: [
          {
            index: 0,
            status: 'partial',
            id: '1732280000000-0',
            rejected: [
              { field: 'metrics.rh', code: 'out_of_range', message: 'rh = 300 % is outside 0..100' },
            ],
          },
        ],
      },
    ],
  },
);
export type IngestResponse = Static<typeof IngestResponse>;

const ReadingItem = t.Object(
  {
    sensorId: t.Optional(t.String({ description: 'defaults to the authenticated sensor' })),
    ts: t.Union([t.Integer(), t.String()], { description: 'epoch ms or ISO-8601 with a zone' }),
    metrics: t.Record(t.String(), t.Number(), { examples: [{ pm25: 12.4, rh: 61 }] }),
    messageId: t.Optional(t.String({ maxLength: 128 })),
  },
  { examples: [{ sensorId: 'aq-dongsi-01', ts: '2026-11-22T12:00:00Z', metrics: { pm25: 12.4, rh: 61 } }] },
);

/**
 * The documented body. The route parses it itself (parse: 'none'), because a bad field must refuse
 * that field only, with a per-item reason, not the whole request with a schema error.
 */
export const IngestBody = t.Union([ReadingItem, t.Array(ReadingItem)], {
  description: 'one reading or a batch of them (limit INGEST_MAX_BATCH)',
});
