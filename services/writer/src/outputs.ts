import { hostname } from 'node:os';
import {
  type Anomaly,
  anomalies,
  type Consumer,
  createConsumer,
  type Delivery,
  type FaultShadowVerdict,
  faultShadowVerdicts,
  type GroupOf,
  type MessageOf,
  type Prediction,
  predictions,
  type StreamDef,
} from '@sensormesh/bus';
import { isAppError } from '@sensormesh/errors';
import type { ReadinessCheck } from '@sensormesh/http';
import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import {
  type AnomalyRow,
  type FaultShadowRow,
  insertAnomalies,
  insertFaultShadowVerdicts,
  insertPredictions,
  type PredictionRow,
  type Store,
} from '@sensormesh/store';
import type Redis from 'ioredis';
import { backoffDelay, sleep } from './backoff.ts';
import type { WriterConfig } from './env.ts';
import { QUIET_MS } from './writer.ts';

/** The predictor's outputs as rows; ids come from the producer, or are derived the same way. */
export function predictionRow(message: Delivery<Prediction>): PredictionRow {
  const p = message.data;
  return {
    id: p.id ?? `${p.modelVersion}:${p.sensorId}:${p.metric}:${p.ts}`,
    sensorId: p.sensorId,
    metric: p.metric,
    ts: p.ts,
    horizons: p.horizons.map((h) => h.minutes),
    p10: p.horizons.map((h) => h.p10),
    p50: p.horizons.map((h) => h.p50),
    p90: p.horizons.map((h) => h.p90),
    model: p.model,
    modelVersion: p.modelVersion,
    role: p.role ?? 'active',
    streamId: message.id,
    createdAt: p.createdAt,
  };
}

/** An anomaly message as the `anomalies` table's row (migration 006). */
export function anomalyRow(message: Delivery<Anomaly>): AnomalyRow {
  const a = message.data;
  return {
    id: a.id ?? `${a.modelVersion}:${a.sensorId}:${a.metric}:${a.ts}:${a.kind}`,
    sensorId: a.sensorId,
    metric: a.metric,
    ts: a.ts,
    kind: a.kind,
    score: a.score,
    threshold: a.threshold ?? 0,
    value: a.value ?? null,
    expected: a.expected ?? null,
    windowStart: a.windowStart ?? a.ts,
    modelId: 'faults',
    modelVersion: a.modelVersion,
    streamId: message.id,
    detectedAt: a.detectedAt,
  };
}

/** A fault-shadow verdict as the `fault_shadow_verdicts` table's row (migration 012). */
export function faultShadowRow(message: Delivery<FaultShadowVerdict>): FaultShadowRow {
  const v = message.data;
  return {
    id: v.id,
    sensorId: v.sensorId,
    metric: v.metric,
    ts: v.ts,
    shadowVersion: v.shadowVersion,
    shadowKind: v.shadow.kind ?? '',
    shadowScore: v.shadow.score,
    activeVersion: v.activeVersion ?? '',
    activeKind: v.active?.kind ?? '',
    activeScore: v.active?.score ?? null,
    value: v.value ?? null,
    expected: v.expected ?? null,
    streamId: message.id,
    detectedAt: v.detectedAt,
  };
}

/** A running writer of the predictor's outputs. */
export interface OutputWriter {
  ready(): boolean;
  readonly check: ReadinessCheck;
  stop(): Promise<void>;
}

/**
 * Stores `predictions`, `anomalies` and `fault-shadow-verdicts` (the predictor's outputs) in
 * ClickHouse as the `writer` group on each stream. Rows carry the producer's deterministic id into ReplacingMergeTree tables,
 * so redelivery replaces instead of adding. As with readings, a store outage is waited out inside
 * the handler (nothing is dead-lettered for it); a row the store refuses fails its message alone.
 */
export async function startOutputWriter(ctx: {
  config: WriterConfig;
  store: Store;
  redis: Redis;
  logger: Logger;
  registry: Registry;
}): Promise<OutputWriter> {
  const name = ctx.config.WRITER_CONSUMER ?? `writer-${hostname()}`;
  const log = ctx.logger.child({ module: 'output-writer', consumer: name });
  const policy = { minMs: ctx.config.WRITER_RETRY_MIN_MS, maxMs: ctx.config.WRITER_RETRY_MAX_MS };
  const stopping = new AbortController();
  let failing = false;

  /** Inserts until durable; on stop during an outage, throws so the bus leaves the batch pending. */
  async function durably(what: string, insert: () => Promise<void>, count: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await insert();
        if (failing) log.info({ what, count }, 'store answers again; outputs stored');
        failing = false;
        return;
      } catch (error) {
        if (isAppError(error) && error.code === 'VALIDATION_FAILED') throw error;
        failing = true;
        if (stopping.signal.aborted) throw error;
        const retryInMs = backoffDelay(attempt, policy);
        log.warn({ err: error, what, count, attempt: attempt + 1, retryInMs }, 'insert failed; retrying');
        await sleep(retryInMs, stopping.signal);
      }
    }
  }

  /** One output stream stored as the `writer` group: its messages to rows, the rows inserted durably. */
  function storing<D extends StreamDef, R>(
    stream: D,
    what: string,
    toRow: (message: Delivery<MessageOf<D>>) => R,
    insert: (rows: R[]) => Promise<unknown>,
  ): Consumer {
    return createConsumer(ctx.redis, {
      stream,
      // Every output stream declares the writer group (packages/bus/src/streams.ts).
      group: 'writer' as GroupOf<D>,
      consumer: name,
      batchSize: 5_000,
      maxWaitMs: ctx.config.WRITER_MAX_WAIT_MS,
      // An hour's forecasts arrive as a burst: stored once it has passed, not a full wait later.
      idleMs: QUIET_MS,
      minIntervalMs: ctx.config.WRITER_MIN_INTERVAL_MS,
      logger: ctx.logger,
      registry: ctx.registry,
      async handler(messages) {
        const rows = messages.map(toRow);
        await durably(what, async () => void (await insert(rows)), rows.length);
      },
    });
  }

  const consumers: Consumer[] = [
    storing(predictions, 'predictions', predictionRow, insertPredictions(ctx.store)),
    storing(anomalies, 'anomalies', anomalyRow, insertAnomalies(ctx.store)),
    storing(
      faultShadowVerdicts,
      'fault-shadow verdicts',
      faultShadowRow,
      insertFaultShadowVerdicts(ctx.store),
    ),
  ];
  for (const consumer of consumers) await consumer.start();
  let running = true;
  const ready = () => running && !failing;
  return {
    ready,
    check: async () => ready(),
    async stop() {
      stopping.abort();
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      running = false;
    },
  };
}
