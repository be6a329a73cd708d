import { AppError } from '@sensormesh/errors';
import type { IngestContext } from '../../context.ts';
import type { FieldRejection, IngestResponse } from '../http/model.ts';
import { acceptItems, sensorInfo, summarize } from '../http/service.ts';
import type { ParseResult } from './adapter.ts';

/**
 * The common path for pushed vendor payloads: the parsed readings (all for the authenticated
 * sensor) are validated and streamed like `POST /ingest` items, and each vendor-level problem is
 * reported with the reading it belongs to (the first when it belongs to none).
 */
export async function submitPushed(
  ctx: IngestContext,
  sensorId: string,
  parsed: ParseResult,
  source: string,
): Promise<IngestResponse> {
  if (parsed.readings.length > ctx.config.INGEST_MAX_BATCH) {
    throw new AppError('PAYLOAD_TOO_LARGE', `a push holds at most ${ctx.config.INGEST_MAX_BATCH} readings`, {
      details: { maxBatch: ctx.config.INGEST_MAX_BATCH, received: parsed.readings.length },
    });
  }
  const now = Date.now();
  const items =
    parsed.readings.length > 0
      ? parsed.readings.map(({ ts, metrics }) => ({ sensorId, ts, metrics }))
      : [{ sensorId, ts: now, metrics: {} }];
  const extra = new Map<number, FieldRejection[]>();
  for (const { reading = 0, field, code, message } of parsed.problems) {
    extra.set(reading, [...(extra.get(reading) ?? []), { field, code, message }]);
  }
  return summarize(await acceptItems(ctx, await sensorInfo(ctx, sensorId), items, source, extra));
}

/** The one active sensor enrolled for an airRohr node by its `sensor-community:<node>` tag, else 401. */
export async function enrolledSensor(ctx: IngestContext, node: string | undefined): Promise<string> {
  if (node === undefined) {
    throw new AppError('UNAUTHORIZED', 'send X-Sensor: esp8266-<chipid>, or Basic auth with the device key');
  }
  const { items } = await ctx.sensors.list({
    tag: `sensor-community:${node}`,
    status: 'active',
    limit: 2,
    offset: 0,
  });
  const [sensor, another] = items;
  if (!sensor) throw new AppError('UNAUTHORIZED', `node ${node} is not enrolled`);
  if (another) {
    throw new AppError('CONFLICT', `several sensors are enrolled for node ${node}`, {
      details: { sensors: items.map((item) => item.id) },
    });
  }
  return sensor.id;
}

/** Fixed one-minute windows per node: unauthenticated pushes cannot flood the stream for a node. */
export async function limitNode(ctx: IngestContext, node: string): Promise<void> {
  const window = Math.floor(Date.now() / 60_000);
  const key = `ingest:sensor-community:pushes:${node}:${window}`;
  const [[, count]] = (await ctx.redis.multi().incr(key).expire(key, 120).exec()) as [[unknown, number]];
  if (count > ctx.config.SENSOR_COMMUNITY_PUSHES_PER_MIN) {
    const retryAfter = String(Math.ceil(((window + 1) * 60_000 - Date.now()) / 1_000));
    throw new AppError('RATE_LIMITED', `node ${node} pushes too often`, {
      headers: { 'retry-after': retryAfter },
    });
  }
}
