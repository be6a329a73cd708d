import { Counter, Gauge, Histogram, metric, type Registry } from '@sensormesh/metrics';

/** The writer's Prometheus metrics; shared by every writer in the process. */
export function writerMetrics(registry: Registry) {
  const counter = (name: string, help: string) =>
    metric(registry, name, (registers) => new Counter({ name, help, registers }));
  return {
    inserted: counter('writer_rows_inserted_total', 'Reading rows written to the store'),
    duplicates: counter(
      'writer_rows_duplicate_total',
      'Reading rows skipped because they were already stored (redelivery)',
    ),
    rejected: counter(
      'writer_messages_rejected_total',
      'Readings with rows the store refuses; the bus retries, then dead-letters them',
    ),
    retries: counter('writer_insert_retries_total', 'Inserts retried after a store failure'),
    lockWaits: counter(
      'writer_insert_lock_waits_total',
      'Times a batch found the insert lock held by another writer and waited',
    ),
    latestFailures: counter(
      'writer_latest_update_failures_total',
      'Batches whose latest values could not be written to Redis',
    ),
    storeFailing: metric(
      registry,
      'writer_store_failing',
      (registers) =>
        new Gauge({ name: 'writer_store_failing', help: '1 while inserts into the store fail', registers }),
    ),
    insertSeconds: metric(
      registry,
      'writer_insert_duration_seconds',
      (registers) =>
        new Histogram({
          name: 'writer_insert_duration_seconds',
          help: 'Time of one successful insert of a batch',
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers,
        }),
    ),
  };
}

/** What `writerMetrics` returns. */
export type WriterMetrics = ReturnType<typeof writerMetrics>;
