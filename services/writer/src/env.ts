import { defineEnv, env } from '@sensormesh/config';

/** The writer's settings; the mesh and a standalone writer parse them once at start-up. */
export const WriterEnv = defineEnv({
  WRITER_BATCH_SIZE: env.int({
    minimum: 1,
    maximum: 200_000,
    // ClickHouse wants few large inserts: alone, the writer drains 26.8k readings/s at 5,000 per
    // insert and 52.5k/s at 20,000 (4 metrics each, 18.16); clickhouse-server spends 14.3 µs of
    // CPU per reading at 20,000 (insert, views, lookups, merges), 10.0 at 50,000 and 7.5 at 100,000.
    // Through the ingest bench at ~65k msg/s, 100,000 (inserts ~1.5 s apart) rather than 50,000
    // cut ClickHouse's CPU from 5.9–6.4 to 4.9–5.1 µs a message. Batches this large form only under
    // load; WRITER_MAX_WAIT_MS and WRITER_MIN_INTERVAL_MS bound the latency otherwise.
    default: 100_000,
    description: 'most readings per insert',
  }),
  WRITER_MAX_WAIT_MS: env.int({
    minimum: 0,
    maximum: 60_000,
    // At most about one insert a second, as ClickHouse advises: each insert makes a part per table
    // and per view to merge. clickhouse-server's CPU per reading was 32 µs at 4,000 per insert, 17 at 16,000
    // and 8 at 50,000; with a steady 30k msg/s through the bench, 12.4 µs at 200 ms, 7.5 at 1 s.
    // Dashboards read the stream or Redis, which trail by this much plus one insert.
    default: 2_000,
    description: 'how long a batch that is not full waits for more readings before it is inserted',
  }),
  WRITER_MIN_INTERVAL_MS: env.int({
    minimum: 0,
    maximum: 60_000,
    // A burst is inserted once the stream has been quiet for 50 ms rather than WRITER_MAX_WAIT_MS
    // after it began, but never sooner than this after the previous insert: bursty senders (a fleet
    // reporting on the minute) cannot drive ClickHouse past about one insert a second.
    default: 1_000,
    description: 'a batch whose stream went quiet is inserted at once if the last insert began this long ago',
  }),
  WRITER_CONSUMER: env.optional(
    env.string({ description: 'name in the writer group (default writer-<hostname>); one per replica' }),
  ),
  WRITER_VISIBILITY_TIMEOUT_MS: env.int({
    minimum: 10_000,
    maximum: 3_600_000,
    default: 300_000,
    description: 'entries idle this long on a dead writer are taken over; far above an insert',
  }),
  WRITER_RETRY_MIN_MS: env.int({ minimum: 1, maximum: 60_000, default: 100 }),
  WRITER_RETRY_MAX_MS: env.int({
    minimum: 1,
    maximum: 600_000,
    default: 5_000,
    description: 'cap of the backoff between inserts while the store is failing',
  }),
});

/** Parsed writer settings. */
export type WriterConfig = typeof WriterEnv.static;
