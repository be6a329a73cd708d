import { Gauge, metric, type Registry } from '@sensormesh/metrics';
import type { MonitoringSnapshot } from './model.ts';

type Reader = (snapshot: MonitoringSnapshot, gauge: Gauge) => void;

/** Each gauge: its name, help, labels, and how it reads the snapshot. */
const GAUGES: Array<[name: string, help: string, labels: string[], read: Reader]> = [
  [
    'sensormesh_stream_length',
    'Entries in a bus stream',
    ['stream'],
    (s, g) => {
      for (const stream of s.streams) g.set({ stream: stream.stream }, stream.length);
    },
  ],
  [
    'sensormesh_stream_entries_added',
    'Entries ever added to a stream (rate() gives the ingest rate)',
    ['stream'],
    (s, g) => {
      for (const stream of s.streams)
        if (stream.entriesAdded !== null) g.set({ stream: stream.stream }, stream.entriesAdded);
    },
  ],
  [
    'sensormesh_ingest_rate_per_second',
    'Entries added per second over the last minute',
    ['stream'],
    (s, g) => {
      for (const stream of s.streams) g.set({ stream: stream.stream }, stream.ingest.perSecond);
    },
  ],
  [
    'sensormesh_group_lag',
    'Entries not yet delivered to a consumer group',
    ['stream', 'group'],
    (s, g) => {
      for (const stream of s.streams)
        for (const group of stream.groups)
          if (group.lag !== null) g.set({ stream: stream.stream, group: group.group }, group.lag);
    },
  ],
  [
    'sensormesh_group_pending',
    'Entries delivered to a group and not yet acknowledged',
    ['stream', 'group'],
    (s, g) => {
      for (const stream of s.streams)
        for (const group of stream.groups)
          g.set({ stream: stream.stream, group: group.group }, group.pending);
    },
  ],
  [
    'sensormesh_group_consumers',
    'Consumers registered in a group',
    ['stream', 'group'],
    (s, g) => {
      for (const stream of s.streams)
        for (const group of stream.groups)
          g.set({ stream: stream.stream, group: group.group }, group.consumers);
    },
  ],
  ['sensormesh_dead_letters_total', 'Entries in the dlq stream', [], (s, g) => g.set(s.deadLetters.total)],
  [
    'sensormesh_dead_letters_recent',
    'Newest dead letters (up to 1,000) by source',
    ['source'],
    (s, g) => {
      for (const [source, count] of Object.entries(s.deadLetters.recentBySource)) g.set({ source }, count);
    },
  ],
  [
    'sensormesh_table_rows',
    'Rows in a ClickHouse table’s active parts',
    ['table'],
    (s, g) => {
      for (const table of s.tables) g.set({ table: table.table }, table.rows);
    },
  ],
  [
    'sensormesh_table_bytes',
    'Bytes on disk of a ClickHouse table’s active parts',
    ['table'],
    (s, g) => {
      for (const table of s.tables) g.set({ table: table.table }, table.bytes);
    },
  ],
  [
    'sensormesh_table_parts',
    'Active parts of a ClickHouse table',
    ['table'],
    (s, g) => {
      for (const table of s.tables) g.set({ table: table.table }, table.parts);
    },
  ],
  [
    'sensormesh_dependency_up',
    '1 when a dependency answers, else 0',
    ['dependency'],
    (s, g) => {
      g.set({ dependency: 'redis' }, s.readiness.redis.ok ? 1 : 0);
      g.set({ dependency: 'store' }, s.readiness.store.ok ? 1 : 0);
    },
  ],
];

/**
 * Registers the monitoring figures as gauges that read a snapshot when scraped (prom-client
 * `collect`), so /metrics and GET /admin/monitoring always agree. Registering twice is a no-op.
 */
export function registerMonitoringMetrics(
  registry: Registry,
  snapshot: () => Promise<MonitoringSnapshot>,
): void {
  for (const [name, help, labelNames, read] of GAUGES) {
    metric(
      registry,
      name,
      (registers) =>
        new Gauge({
          name,
          help,
          labelNames,
          registers,
          async collect() {
            const current = await snapshot();
            this.reset(); // drop series of groups or tables that are gone
            read(current, this);
          },
        }),
    );
  }
}
