import type { Anomaly, AnomalyKind, Prediction, Reading } from '@sensormesh/bus';
import {
  type AnomalyRow,
  anomalyEntries,
  type EntryPage,
  type EntryRangeQuery,
  type PredictionRow,
  predictionEntries,
  readingEntries,
  type Store,
} from '@sensormesh/store';

/** What a replay asks an archive for: entries strictly between two ids, narrowed where SQL can. */
export interface ArchiveQuery {
  afterMs: number;
  afterSeq: number;
  beforeMs: number;
  beforeSeq: number;
  limit: number;
  /** The subscription's sensors, when few enough for SQL; the replay checks them again anyway. */
  sensorIds?: string[];
  /** The subscription's metrics filter; an archive may ignore it (the replay applies it anyway). */
  metrics?: string[];
}

/** A page of archived events in stream order, each as the live channel carries it. */
export interface ArchivePage {
  events: Array<{ cursor: string; event: unknown }>;
  /** The page's last entry (continue after it); null when the page was empty. */
  last: { ms: number; seq: number } | null;
  /** The page was full: more entries may follow. */
  more: boolean;
}

/** Reads the entries a channel's stream trimmed back from ClickHouse. */
export type Archive = (store: Store) => (query: ArchiveQuery) => Promise<ArchivePage>;

const bounds = ({ afterMs, afterSeq, beforeMs, beforeSeq, limit, sensorIds }: ArchiveQuery) => ({
  afterMs,
  afterSeq,
  beforeMs,
  beforeSeq,
  limit,
  ...(sensorIds ? { sensorIds } : {}),
});

/**
 * A stored forecast as the predictor published it, keys in its order, so the frame's JSON is the
 * stream's byte for byte. `id` and `role` are optional on the bus but always stored (the writer
 * derives an absent id and reads an absent role as "active"): the predictor always sends both.
 */
export function predictionEvent(row: PredictionRow): Prediction {
  return {
    id: row.id,
    sensorId: row.sensorId,
    metric: row.metric,
    ts: row.ts,
    horizons: row.horizons.map((minutes, i) => ({
      minutes,
      p10: row.p10[i] as number,
      p50: row.p50[i] as number,
      p90: row.p90[i] as number,
    })),
    model: row.model,
    modelVersion: row.modelVersion,
    role: row.role,
    createdAt: row.createdAt,
  };
}

/**
 * A stored anomaly as the predictor published it, keys in its order. `value` and `expected` are
 * left out when they were (stored as NaN); `id`, `threshold` and `windowStart` are optional on the
 * bus but always stored (the writer fills an absent one with the derived id, 0 and `ts`): the
 * predictor always sends all three. `modelId` is the table's, not the event's.
 */
export function anomalyEvent(row: AnomalyRow): Anomaly {
  return {
    id: row.id,
    sensorId: row.sensorId,
    metric: row.metric,
    ts: row.ts,
    kind: row.kind as AnomalyKind,
    score: row.score,
    ...(row.value === null ? {} : { value: row.value }),
    ...(row.expected === null ? {} : { expected: row.expected }),
    modelVersion: row.modelVersion,
    threshold: row.threshold,
    windowStart: row.windowStart,
    detectedAt: row.detectedAt,
  };
}

/** Readings by their stored entry id (migration 008); a metrics filter is applied per reading later. */
export const readingsArchive: Archive = (store) => {
  const read = readingEntries(store);
  return async function readingsArchive(query) {
    const page = await read(bounds(query));
    return {
      events: page.readings.map((stored) => ({
        cursor: `${stored.entryMs}-${stored.entrySeq}`,
        event: {
          sensorId: stored.sensorId,
          ts: stored.ts,
          metrics: stored.metrics,
          receivedAt: stored.receivedAt,
          source: stored.source,
        } as Reading,
      })),
      last: page.last,
      more: page.more,
    };
  };
};

/** Archives whose events name one metric, so a metrics filter narrows the SQL as well. */
function outputArchive<R extends { streamId: string }>(
  entries: (store: Store) => (query: EntryRangeQuery) => Promise<EntryPage<R>>,
  toEvent: (row: R) => unknown,
): Archive {
  return (store) => {
    const read = entries(store);
    return async function outputArchive(query) {
      const page = await read({ ...bounds(query), ...(query.metrics ? { metrics: query.metrics } : {}) });
      return {
        events: page.rows.map((row) => ({ cursor: row.streamId, event: toEvent(row) })),
        last: page.last,
        more: page.more,
      };
    };
  };
}

/** Forecasts by their stored `stream_id` (migration 010). */
export const predictionsArchive: Archive = outputArchive(predictionEntries, predictionEvent);

/** Anomalies by their stored `stream_id` (migration 010). */
export const anomaliesArchive: Archive = outputArchive(anomalyEntries, anomalyEvent);
