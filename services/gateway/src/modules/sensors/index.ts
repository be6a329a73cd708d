import { AppError } from '@sensormesh/errors';
import { errorResponses } from '@sensormesh/http';
import type { IssuedKey } from '@sensormesh/registry';
import {
  CreatedSensor,
  IssuedDeviceKey,
  PublicSensor,
  SensorCreateBody,
  SensorId,
  SensorPage,
  SensorPatch,
  SensorView,
} from '@sensormesh/registry';
import type { SensorRow } from '@sensormesh/store';
import { Elysia, t } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { userIdOf } from '../access/model.ts';
import { PublicSensorQuery, SensorQuery } from './query.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** The public's view of a sensor: location and metrics, nothing about keys or who made it. */
export function publicSensor(sensor: SensorRow): PublicSensor {
  return {
    id: sensor.id,
    name: sensor.name,
    kind: sensor.kind,
    manufacturer: sensor.manufacturer,
    model: sensor.model,
    latitude: sensor.latitude,
    longitude: sensor.longitude,
    site: sensor.site,
    tags: sensor.tags,
    metrics: sensor.metrics,
    updatedAt: iso(sensor.updatedAt),
  };
}

/** The admins' view of a sensor. */
export function sensorView(sensor: SensorRow): SensorView {
  return {
    ...publicSensor(sensor),
    status: sensor.status,
    createdAt: iso(sensor.createdAt),
    createdBy: sensor.createdBy,
  };
}

const keyView = (key: IssuedKey): IssuedDeviceKey => ({ ...key, createdAt: iso(key.createdAt) });
const IdParams = t.Object({ id: SensorId });
const actorOf = (principal: Parameters<typeof userIdOf>[0]) => userIdOf(principal) ?? 'unknown';

/** GET /sensors (public list), GET /sensors/:id (read:sensors) and admin CRUD under /admin/sensors. */
export function sensorsModule(ctx: GatewayContext) {
  const { sensors } = ctx;
  const admin = new Elysia({
    name: 'sensormesh.gateway.sensors.admin',
    prefix: '/admin/sensors',
    detail: { tags: ['admin', 'sensors'] },
  })
    .use(ctx.access)
    .post(
      '/',
      async ({ body, principal, set }) => {
        const { status, ...input } = body;
        const created = await sensors.create(input, actorOf(principal), { status: status ?? 'active' });
        set.status = 201;
        return { sensor: sensorView(created.sensor), deviceKey: keyView(created.deviceKey) };
      },
      {
        access: 'admin',
        body: SensorCreateBody,
        response: { 201: CreatedSensor, ...errorResponses(400, 401, 403, 409, 422) },
        detail: {
          summary: 'Register a sensor',
          description: 'Issues the sensor’s device key; the raw key is in this response only.',
        },
      },
    )
    .get(
      '/',
      async ({ query }) => {
        const page = await sensors.list(query);
        return {
          items: page.items.map(sensorView),
          total: page.total,
          limit: query.limit,
          offset: query.offset,
        };
      },
      {
        access: 'admin',
        query: SensorQuery,
        response: { 200: SensorPage(SensorView), ...errorResponses(401, 403, 422) },
        detail: { summary: 'List sensors (any status), filtered by status, kind, site or tag' },
      },
    )
    .get('/:id', async ({ params }) => sensorView(await sensors.get(params.id)), {
      access: 'admin',
      params: IdParams,
      response: { 200: SensorView, ...errorResponses(401, 403, 404, 422) },
      detail: { summary: 'One sensor, any status' },
    })
    .patch(
      '/:id',
      async ({ params, body, principal }) =>
        sensorView(await sensors.update(params.id, body, actorOf(principal))),
      {
        access: 'admin',
        params: IdParams,
        body: SensorPatch,
        response: { 200: SensorView, ...errorResponses(400, 401, 403, 404, 409, 422) },
        detail: { summary: 'Change a sensor, or move it between pending and active' },
      },
    )
    .delete(
      '/:id',
      async ({ params, principal }) => sensorView(await sensors.retire(params.id, actorOf(principal))),
      {
        access: 'admin',
        params: IdParams,
        response: { 200: SensorView, ...errorResponses(401, 403, 404, 422) },
        detail: {
          summary: 'Retire a sensor',
          description:
            'The record stays; the sensor leaves the public list and its device key stops working.',
        },
      },
    )
    .post(
      '/:id/device-key',
      async ({ params, principal, set }) => {
        set.status = 201;
        return keyView(await sensors.rotateDeviceKey(params.id, actorOf(principal)));
      },
      {
        access: 'admin',
        params: IdParams,
        response: { 201: IssuedDeviceKey, ...errorResponses(401, 403, 404, 409, 422) },
        detail: {
          summary: 'Rotate a sensor’s device key',
          description:
            'The old key fails from this response on, on every replica; the new one is shown once.',
        },
      },
    );

  return new Elysia({ name: 'sensormesh.gateway.sensors' })
    .use(ctx.access)
    .get(
      '/sensors',
      async ({ query }) => {
        const page = await sensors.list({ ...query, status: 'active' });
        return {
          items: page.items.map(publicSensor),
          total: page.total,
          limit: query.limit,
          offset: query.offset,
        };
      },
      {
        access: 'public',
        query: PublicSensorQuery,
        response: { 200: SensorPage(PublicSensor), ...errorResponses(422) },
        detail: { summary: 'Active sensors with their location and metrics', tags: ['sensors'] },
      },
    )
    .get(
      '/sensors/:id',
      async ({ params, principal }) => {
        const sensor = await sensors.get(params.id);
        // Only admins see sensors that are not (or no longer) active.
        if (sensor.status !== 'active' && !(principal.kind === 'user' && principal.role === 'admin')) {
          throw new AppError('NOT_FOUND', 'no such sensor', { details: { id: params.id } });
        }
        return publicSensor(sensor);
      },
      {
        access: { role: 'professional', scope: 'read:sensors' },
        params: IdParams,
        response: { 200: PublicSensor, ...errorResponses(401, 403, 404, 422) },
        detail: { summary: 'One active sensor (API keys need read:sensors)', tags: ['sensors'] },
      },
    )
    .use(admin);
}
