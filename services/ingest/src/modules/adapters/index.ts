import { AppError } from '@sensormesh/errors';
import { errorResponses } from '@sensormesh/http';
import { Elysia } from 'elysia';
import type { IngestContext } from '../../context.ts';
import { readJsonBody } from '../http/body.ts';
import { authenticateDevice, deviceCredentials, requireCredentials } from '../http/device-auth.ts';
import { IngestResponse } from '../http/model.ts';
import { parseAirQo } from './airqo.ts';
import { enrolledSensor, limitNode, submitPushed } from './push.ts';
import { NODE_ID, parseSensorCommunity } from './sensor-community.ts';
import { isObject } from './vendor-values.ts';

/** The airRohr node: the X-Sensor header, else the custom API body's esp8266id. */
function nodeOf(headers: Headers, body: unknown): string | undefined {
  const header = headers.get('x-sensor')?.trim();
  if (header && NODE_ID.test(header)) return header;
  const chipId = isObject(body) ? body.esp8266id : undefined;
  const node = typeof chipId === 'string' || typeof chipId === 'number' ? `esp8266-${chipId}` : undefined;
  return node && NODE_ID.test(node) ? node : undefined;
}

/** Vendor push endpoints: Sensor.Community (airRohr firmware) and AirQo. */
export function vendorPushModule(ctx: IngestContext) {
  const maxBytes = ctx.config.INGEST_MAX_PAYLOAD_BYTES;
  const response = { 202: IngestResponse, ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429, 503) };
  return new Elysia({ name: 'sensormesh.ingest.vendor-push' })
    .post(
      '/ingest/sensor-community',
      async function sensorCommunityPush({ request, set }) {
        const credentials = deviceCredentials(request.headers);
        const body = await readJsonBody(request, maxBytes);
        const node = nodeOf(request.headers, body);
        let sensorId: string;
        if (credentials) sensorId = await authenticateDevice(ctx, credentials, undefined);
        else {
          sensorId = await enrolledSensor(ctx, ctx.config.SENSOR_COMMUNITY_OPEN_PUSH ? node : undefined);
          await limitNode(ctx, node as string);
        }
        const pin = request.headers.get('x-pin')?.trim();
        const parsed = parseSensorCommunity(body, {
          receivedAt: Date.now(),
          node: node ?? sensorId,
          ...(pin ? { pin } : {}),
          sensorFor: () => sensorId,
        });
        set.status = 202;
        return submitPushed(ctx, sensorId, parsed, 'adapter:sensor-community');
      },
      {
        parse: 'none',
        response,
        detail: {
          summary: 'airRohr (Sensor.Community) push',
          description:
            'What airRohr firmware sends: the native push (X-Sensor, X-PIN, one sensor type per POST) or the ' +
            '"custom API" body (esp8266id, prefixed value types). Basic auth (sensor id : device key) when ' +
            'configured; otherwise only nodes enrolled with a sensor-community:<node> tag, rate-limited. ' +
            'Stamped with the receive time; pressure Pa → hPa; diagnostics ignored.',
          tags: ['ingest'],
        },
      },
    )
    .post(
      '/ingest/airqo',
      async function airQoPush({ request, set }) {
        const credentials = requireCredentials(request.headers);
        const body = await readJsonBody(request, maxBytes);
        const sensorId = await authenticateDevice(ctx, credentials, undefined);
        // The device key decides the sensor; vendor device ids in the body are not trusted for routing.
        const parsed = parseAirQo(body, { receivedAt: Date.now(), sensorFor: () => sensorId });
        const devices = new Set(
          parsed.readings.flatMap((reading) => (reading.vendorId ? [reading.vendorId] : [])),
        );
        if (devices.size > 1) {
          throw new AppError('VALIDATION_FAILED', 'a push carries one AirQo device', {
            details: { devices: [...devices] },
          });
        }
        set.status = 202;
        return submitPushed(ctx, sensorId, parsed, 'adapter:airqo');
      },
      {
        parse: 'none',
        response,
        detail: {
          summary: 'AirQo push',
          description:
            'A ThingSpeak channel feed (field1..field8), a measurements API answer (v1 or v2) or the ETL ' +
            'events array, for the sensor the device key belongs to. Raw (uncalibrated) values are kept.',
          tags: ['ingest'],
        },
      },
    );
}
