import { AppError } from '@sensormesh/errors';
import { errorResponses } from '@sensormesh/http';
import type { OrderEventRow, OrderRow } from '@sensormesh/store';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import type { Principal } from '../access/model.ts';
import {
  ApproveBody,
  CreateOrderBody,
  DeviceKeys,
  OrderPage,
  OrderParams,
  OrderQuery,
  type OrderView,
  OrderView as OrderViewSchema,
  RejectBody,
} from './model.ts';
import { type OrderActor, ordersService } from './service.ts';

/** The API's view of an order (and its transitions, when asked for one order). */
export function orderView(order: OrderRow, events?: readonly OrderEventRow[]): OrderView {
  return {
    id: order.id,
    ownerId: order.ownerId,
    status: order.status,
    items: order.items,
    totalQuantity: order.totalQuantity,
    notes: order.notes,
    sensorIds: order.sensorIds,
    deviceKeys: order.keysClaimedAt !== null ? 'claimed' : order.status === 'active' ? 'available' : 'none',
    createdAt: new Date(order.createdAt).toISOString(),
    updatedAt: new Date(order.updatedAt).toISOString(),
    ...(events
      ? {
          events: events.map((event) => ({
            from: event.fromStatus === '' ? null : event.fromStatus,
            to: event.toStatus,
            actorId: event.actorId,
            reason: event.reason,
            at: new Date(event.at).toISOString(),
          })),
        }
      : {}),
  };
}

function actorOf(principal: Principal): OrderActor {
  if (principal.kind === 'public') throw new AppError('UNAUTHORIZED', 'this route needs credentials');
  return { userId: principal.userId, role: principal.role };
}

// Owners' routes also take API keys carrying manage:orders, for integrations that reorder.
const OWNER = { role: 'professional', scope: 'manage:orders' } as const;

/** /orders (owners; admins see all) and /admin/orders (approve, reject). */
export function ordersModule(ctx: GatewayContext) {
  const orders = ordersService(ctx);
  return new Elysia({ name: 'sensormesh.gateway.orders', detail: { tags: ['orders'] } })
    .use(ctx.access)
    .post(
      '/orders',
      async ({ body, principal, set }) => {
        set.status = 201;
        return orderView(await orders.create(body, actorOf(principal)));
      },
      {
        access: OWNER,
        body: CreateOrderBody,
        response: { 201: OrderViewSchema, ...errorResponses(400, 401, 403, 422) },
        detail: {
          summary: 'Order sensors for a site',
          description:
            'Models must be in ORDER_ALLOWED_MODELS and the total within the role’s limit. Orders of at most ORDER_APPROVAL_THRESHOLD sensors are approved at once (status approved); larger ones wait for an admin (pending).',
        },
      },
    )
    .get(
      '/orders',
      async ({ query, principal }) => {
        const page = await orders.list(query, actorOf(principal));
        return {
          items: page.items.map((order) => orderView(order)),
          total: page.total,
          limit: query.limit,
          offset: query.offset,
        };
      },
      {
        access: OWNER,
        query: OrderQuery,
        response: { 200: OrderPage, ...errorResponses(401, 403, 422) },
        detail: {
          summary: 'List orders, newest first',
          description:
            'Owners see their own orders, admins everyone’s. `from` (inclusive) and `to` (exclusive) filter on the creation time.',
        },
      },
    )
    .get(
      '/orders/:id',
      async ({ params, principal }) => {
        const { order, events } = await orders.get(params.id, actorOf(principal));
        return orderView(order, events);
      },
      {
        access: OWNER,
        params: OrderParams,
        response: { 200: OrderViewSchema, ...errorResponses(401, 403, 404, 422) },
        detail: { summary: 'One order with every status transition (who, when, why)' },
      },
    )
    .post(
      '/orders/:id/cancel',
      async ({ params, principal }) => orderView(await orders.cancel(params.id, actorOf(principal))),
      {
        access: OWNER,
        params: OrderParams,
        response: { 200: OrderViewSchema, ...errorResponses(401, 403, 404, 409, 422) },
        detail: { summary: 'Cancel a pending order (owner only; 409 once it left pending)' },
      },
    )
    .post(
      '/orders/:id/device-keys',
      ({ params, principal }) => orders.claimDeviceKeys(params.id, actorOf(principal)),
      {
        access: OWNER,
        params: OrderParams,
        response: { 200: DeviceKeys, ...errorResponses(401, 403, 404, 409, 410, 422) },
        detail: {
          summary: 'Retrieve the provisioned sensors’ device keys, once',
          description:
            'The owner gets the raw keys of an active order exactly once; later calls answer 410. Unclaimed keys are dropped after 7 days (rotate a sensor’s key then).',
        },
      },
    )
    .post(
      '/admin/orders/:id/approve',
      async ({ params, body, principal }) =>
        orderView(await orders.approve(params.id, actorOf(principal).userId, body?.note)),
      {
        access: 'admin',
        params: OrderParams,
        body: ApproveBody,
        response: { 200: OrderViewSchema, ...errorResponses(401, 403, 404, 409, 422) },
        detail: {
          tags: ['admin'],
          summary: 'Approve a pending order; its sensors are provisioned asynchronously',
        },
      },
    )
    .post(
      '/admin/orders/:id/reject',
      async ({ params, body, principal }) =>
        orderView(await orders.reject(params.id, actorOf(principal).userId, body.reason)),
      {
        access: 'admin',
        params: OrderParams,
        body: RejectBody,
        response: { 200: OrderViewSchema, ...errorResponses(401, 403, 404, 409, 422) },
        detail: { tags: ['admin'], summary: 'Reject a pending order, saying why' },
      },
    );
}
