import { AppError } from '@sensormesh/errors';
import { errorResponses } from '@sensormesh/http';
import { Elysia } from 'elysia';
import type { OpenAPIV3 } from 'openapi-types';
import type { IngestContext } from '../../context.ts';
import { readJsonBody } from './body.ts';
import { authenticateDevice, requireCredentials } from './device-auth.ts';
import { IngestBody, IngestResponse } from './model.ts';
import { acceptItems, sensorInfo, summarize } from './service.ts';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The items of a body (one reading or an array), or 422 / 413 for the wrong shape or too many. */
function itemsOf(body: unknown, maxBatch: number): unknown[] {
  if (!Array.isArray(body) && !isObject(body)) {
    throw new AppError(
      'VALIDATION_FAILED',
      'the body is one reading {sensorId, ts, metrics} or an array of them',
    );
  }
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) throw new AppError('VALIDATION_FAILED', 'the batch is empty');
  if (items.length > maxBatch) {
    throw new AppError('PAYLOAD_TOO_LARGE', `a batch holds at most ${maxBatch} readings`, {
      details: { maxBatch, received: items.length },
    });
  }
  return items;
}

/** 403 when an item names a sensor other than the authenticated one: a key covers one sensor. */
function requireOneSensor(items: readonly unknown[], sensorId: string): void {
  const index = items.findIndex(
    (item) => isObject(item) && typeof item.sensorId === 'string' && item.sensorId !== sensorId,
  );
  if (index === -1) return;
  throw new AppError(
    'FORBIDDEN',
    `item ${index} names another sensor; a device key covers its own sensor only`,
    {
      details: { index, sensorId: (items[index] as { sensorId: string }).sensorId },
    },
  );
}

/** `POST /ingest`: readings from a device authenticated by its device key. */
export function httpIngestModule(ctx: IngestContext) {
  const { INGEST_MAX_BATCH: maxBatch, INGEST_MAX_PAYLOAD_BYTES: maxBytes } = ctx.config;
  return new Elysia({ name: 'sensormesh.ingest.http' }).post(
    '/ingest',
    async function ingestReadings({ request, set }) {
      const credentials = requireCredentials(request.headers);
      const items = itemsOf(await readJsonBody(request, maxBytes), maxBatch);
      const named = items.find((item) => isObject(item) && typeof item.sensorId === 'string') as
        | { sensorId: string }
        | undefined;
      const sensorId = await authenticateDevice(ctx, credentials, named?.sensorId);
      requireOneSensor(items, sensorId);
      const results = await acceptItems(ctx, await sensorInfo(ctx, sensorId), items, 'http');
      set.status = 202;
      return summarize(results);
    },
    {
      // Parsed by hand: a bad field refuses that field with a reason, not the request with a schema error.
      parse: 'none',
      response: { 202: IngestResponse, ...errorResponses(400, 401, 403, 413, 415, 422, 503) },
      detail: {
        summary: 'Push readings with a device key',
        description:
          'Device key as Authorization: Bearer smd_…, X-Device-Key or Basic sensorId:key. One reading or a ' +
          'batch (INGEST_MAX_BATCH) for the sensor the key belongs to. Each bad field ' +
          '(unknown metric, non-number, out of range, vendor sentinel) is refused with its reason and the rest ' +
          'kept; a bad or out-of-window timestamp refuses its item. Answers 202 once every accepted item is in ' +
          'the readings stream.',
        tags: ['ingest'],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: IngestBody as unknown as OpenAPIV3.SchemaObject } },
        },
      },
    },
  );
}
