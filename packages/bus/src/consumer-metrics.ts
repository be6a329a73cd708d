import { Counter, createRegistry, Histogram, metric, type Registry } from '@sensormesh/metrics';

/** The counters one consumer updates, already bound to its stream and group labels. */
export interface ConsumerMetrics {
  consumed: { inc(value?: number): void };
  acked: { inc(value?: number): void };
  failed: { inc(value?: number): void };
  deadLettered: { inc(value?: number): void };
  claimed: { inc(value?: number): void };
  batchSeconds: { observe(value: number): void };
}

const LABELS = ['stream', 'group'] as const;

function counter(registry: Registry, name: string, help: string): Counter<(typeof LABELS)[number]> {
  return metric(registry, name, (registers) => new Counter({ name, help, labelNames: LABELS, registers }));
}

/** Binds the bus consumer metrics of `registry` (a private one when absent) to one stream and group. */
export function consumerMetrics(
  registry: Registry | undefined,
  stream: string,
  group: string,
): ConsumerMetrics {
  const target = registry ?? createRegistry();
  const labels = { stream, group };
  const batch = metric(
    target,
    'bus_batch_duration_seconds',
    (registers) =>
      new Histogram({
        name: 'bus_batch_duration_seconds',
        help: 'Time to process one batch: decode, handler, dead letters and acks',
        labelNames: LABELS,
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
        registers,
      }),
  );
  return {
    consumed: counter(target, 'bus_messages_consumed_total', 'Entries delivered to a consumer').labels(
      labels,
    ),
    acked: counter(target, 'bus_messages_acked_total', 'Entries acknowledged after their effect').labels(
      labels,
    ),
    failed: counter(target, 'bus_messages_failed_total', 'Handler failures, per message and attempt').labels(
      labels,
    ),
    deadLettered: counter(target, 'bus_messages_dead_lettered_total', 'Entries moved to the dlq').labels(
      labels,
    ),
    claimed: counter(
      target,
      'bus_messages_claimed_total',
      'Entries claimed from idle or failed deliveries',
    ).labels(labels),
    batchSeconds: batch.labels(labels),
  };
}
