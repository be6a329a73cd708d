import { type Static, Type as t } from '@sinclair/typebox';
import { defineStream } from './catalogue.ts';

const HOUR_MS = 3_600_000;

/**
 * Metric name → value. Written as `additionalProperties` rather than `t.Record`: the compiled check
 * is 2.3× faster (Record tests a catch-all key regex per metric), which is the consumer's hot path.
 */
export const MetricValues = t.Unsafe<Record<string, number>>(
  t.Object({}, { additionalProperties: t.Number(), description: 'metric name → value' }),
);

/** One sensor reading as it travels the bus: several metrics measured at one instant. */
export const Reading = t.Object({
  sensorId: t.String({ minLength: 1, maxLength: 128 }),
  ts: t.Integer({ minimum: 0, description: 'when it was measured, epoch ms (UTC)' }),
  metrics: MetricValues,
  receivedAt: t.Integer({ minimum: 0, description: 'when we accepted it, epoch ms' }),
  source: t.String({ description: 'ingest path, e.g. mqtt, http, adapter:<vendor>' }),
  messageId: t.Optional(t.String()),
});
/** One sensor reading as it travels the bus. */
export type Reading = Static<typeof Reading>;

/** A message that could not be processed, with why and its original payload. */
export const DeadLetter = t.Object({
  source: t.String({ description: 'stream name, or the ingest path for rejected input' }),
  group: t.Optional(t.String()),
  entryId: t.Optional(t.String()),
  reason: t.String(),
  details: t.Optional(t.Unknown()),
  payload: t.String({ description: 'the raw original, byte for byte' }),
  attempts: t.Optional(t.Integer({ minimum: 0 })),
  at: t.Integer({ minimum: 0 }),
});
/** A message that could not be processed. */
export type DeadLetter = Static<typeof DeadLetter>;

/** Validated readings from every ingest path. */
export const readings = defineStream({
  name: 'readings',
  schema: Reading,
  // Gateways fan out with plain XREAD per replica (every replica sees every entry), not as a group.
  groups: ['writer', 'predictor', 'alerter'],
  retry: { maxAttempts: 5, backoffMs: 1_000 },
  trim: { maxAgeMs: 24 * HOUR_MS, maxLen: 5_000_000 },
});

/** Dead letters from every stream and ingest path; read by operators, not by a consumer group. */
export const dlq = defineStream({
  name: 'dlq',
  schema: DeadLetter,
  groups: [],
  retry: { maxAttempts: 1, backoffMs: 0 },
  trim: { maxAgeMs: 7 * 24 * HOUR_MS },
});

/** Work for the order processor: provision the sensors of an approved order. */
export const OrderMessage = t.Object({
  orderId: t.String({ minLength: 1, maxLength: 128 }),
  action: t.Literal('provision'),
  requestedBy: t.String({ description: 'who approved: a user id, or "system" for auto-approval' }),
  at: t.Integer({ minimum: 0, description: 'when it was requested, epoch ms' }),
});
/** Work for the order processor. */
export type OrderMessage = Static<typeof OrderMessage>;

/** Approved orders waiting to be provisioned; handlers are idempotent, so redelivery is harmless. */
export const orders = defineStream({
  name: 'orders',
  schema: OrderMessage,
  groups: ['order-processor'],
  // Provisioning fails mostly when the store is briefly unreachable: retry for about a minute.
  retry: { maxAttempts: 8, backoffMs: 2_000 },
  trim: { maxAgeMs: 7 * 24 * HOUR_MS, maxLen: 100_000 },
});

/** Every stream of the platform, by name. */
export const streams = { readings, dlq, orders } as const;
