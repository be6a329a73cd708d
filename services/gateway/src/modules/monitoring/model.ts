import { type Static, t } from 'elysia';

const Count = t.Integer({ minimum: 0 });

/** One consumer group of a stream. */
export const GroupStats = t.Object({
  group: t.String(),
  declared: t.Boolean({ description: 'named in the bus catalogue' }),
  exists: t.Boolean({ description: 'created in Redis (a consumer started once)' }),
  consumers: Count,
  pending: t.Integer({ minimum: 0, description: 'delivered, not yet acknowledged' }),
  lag: t.Union([t.Integer({ minimum: 0 }), t.Null()], {
    description: 'entries not yet delivered to the group; null when Redis cannot tell',
  }),
  lastDeliveredId: t.Union([t.String(), t.Null()]),
});

/** One stream of the bus catalogue. */
export const StreamStats = t.Object({
  stream: t.String(),
  length: Count,
  entriesAdded: t.Union([t.Integer({ minimum: 0 }), t.Null()], { description: 'ever added (XINFO)' }),
  lastEntryAt: t.Union([t.String({ format: 'date-time' }), t.Null()]),
  ingest: t.Object({
    lastMinute: Count,
    perSecond: t.Number({ minimum: 0 }),
    exact: t.Boolean({ description: 'false when extrapolated from the newest 500 entries' }),
  }),
  groups: t.Array(GroupStats),
});
export type StreamStats = Static<typeof StreamStats>;

const Check = t.Object({ ok: t.Boolean(), latencyMs: t.Number({ minimum: 0 }) });

/** Everything GET /admin/monitoring reports. */
export const MonitoringSnapshot = t.Object(
  {
    at: t.String({ format: 'date-time' }),
    ready: t.Boolean(),
    readiness: t.Object({ redis: Check, store: Check }),
    streams: t.Array(StreamStats),
    deadLetters: t.Object({
      total: t.Integer({ minimum: 0, description: 'entries in the dlq stream' }),
      sampled: t.Integer({ minimum: 0, description: 'newest dead letters split by source below' }),
      recentBySource: t.Record(t.String(), t.Integer({ minimum: 0 })),
    }),
    tables: t.Array(
      t.Object({
        table: t.String(),
        engine: t.String(),
        rows: t.Integer({
          minimum: 0,
          description: 'rows in active parts, versions not yet merged included',
        }),
        bytes: t.Integer({ minimum: 0, description: 'compressed bytes on disk' }),
        parts: t.Integer({ minimum: 0 }),
      }),
    ),
  },
  {
    examples: [
      {
        at: '2025-01-10T08:00:00.000Z',
        ready: true,
        readiness: { redis: { ok: true, latencyMs: 0.4 }, store: { ok: true, latencyMs: 2.1 } },
        streams: [
          {
            stream: 'readings',
            length: 120_000,
            entriesAdded: 5_400_000,
            lastEntryAt: '2025-01-10T07:59:59.950Z',
            ingest: { lastMinute: 60_000, perSecond: 1_000, exact: false },
            groups: [
              {
                group: 'writer',
                declared: true,
                exists: true,
                consumers: 2,
                pending: 40,
                lag: 120,
                lastDeliveredId: '1736495999830-0',
              },
            ],
          },
        ],
        deadLetters: { total: 3, sampled: 3, recentBySource: { mqtt: 2, readings: 1 } },
        tables: [
          { table: 'readings_raw', engine: 'MergeTree', rows: 5_400_000, bytes: 48_000_000, parts: 7 },
        ],
      },
    ],
  },
);
export type MonitoringSnapshot = Static<typeof MonitoringSnapshot>;
