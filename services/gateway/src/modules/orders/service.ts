import { withLock } from '@sensormesh/auth';
import { createPublisher, orders as ordersStream } from '@sensormesh/bus';
import { AppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import type { Registry } from '@sensormesh/metrics';
import {
  findOrderById,
  listOrderEvents,
  listOrders,
  type OrderEventRow,
  type OrderRow,
  type OrderStatus,
  recordOrderEvents,
  type Store,
  saveOrder,
} from '@sensormesh/store';
import type Redis from 'ioredis';
import type { GatewayConfig } from '../../env.ts';
import { parseInstant } from '../../instant.ts';
import type { Role } from '../access/model.ts';
import type { CreateOrderBody, DeviceKeys, OrderQuery } from './model.ts';
import { orderRules } from './rules.ts';

/** What the order service needs. */
export interface OrdersServiceDeps {
  store: Store;
  redis: Redis;
  logger: Logger;
  registry: Registry;
  config: GatewayConfig;
}

/** The caller, as far as orders care. */
export interface OrderActor {
  userId: string;
  role: Role;
}

/** Actor id of automatic steps (auto-approval, provisioning). */
export const SYSTEM_ACTOR = 'system';

/** The Redis hash where an order's raw device keys (sensor id → key) wait for their one claim. */
export const deviceKeysKey = (orderId: string) => `order:${orderId}:device-keys`;
/** Unclaimed keys go after a week: raw secrets should not linger (rotation issues new ones). */
export const DEVICE_KEYS_TTL_S = 7 * 86_400;

/** Orders: creation with the configured rules, the status workflow under a per-order lock, one-time keys. */
export function ordersService(deps: OrdersServiceDeps) {
  const { store, redis } = deps;
  const log = deps.logger.child({ module: 'orders' });
  const rules = orderRules(deps.config);
  const publisher = createPublisher(redis, { registry: deps.registry, logger: deps.logger });
  const find = findOrderById(store);

  /**
   * Moves an order from one of `from` to `to` under its lock, recording who and why: the event is
   * written before the order, so no transition that took effect is missing from the trail.
   */
  async function transition(
    orderId: string,
    from: readonly OrderStatus[],
    to: OrderStatus,
    actorId: string,
    reason: string,
    change: (order: OrderRow) => Partial<OrderRow> = () => ({}),
  ): Promise<OrderRow> {
    return withLock(redis, `lock:order:${orderId}`, async () => {
      const order = await find(orderId);
      if (!order) throw new AppError('NOT_FOUND', 'no such order');
      if (!from.includes(order.status)) {
        throw new AppError('CONFLICT', `cannot move an order from ${order.status} to ${to}`, {
          details: { status: order.status },
        });
      }
      const at = Date.now();
      await recordOrderEvents(store)([
        { orderId, fromStatus: order.status, toStatus: to, actorId, reason, at },
      ]);
      const updated: OrderRow = { ...order, ...change(order), status: to, updatedAt: at };
      await saveOrder(store)(updated);
      log.info({ orderId, from: order.status, to, actorId }, 'order status changed');
      return updated;
    });
  }

  /** Asks the processor to provision; a failed publish is retried by the processor's sweep. */
  async function requestProvisioning(orderId: string, requestedBy: string): Promise<void> {
    try {
      await publisher.publish(ordersStream, { orderId, action: 'provision', requestedBy, at: Date.now() });
    } catch (error) {
      log.error({ err: error, orderId }, 'could not publish provisioning; the processor sweep will retry');
    }
  }

  /** Loads an order the caller may see: its owner or an admin; anyone else gets 404, not 403. */
  async function visible(orderId: string, actor: OrderActor): Promise<OrderRow> {
    const order = await find(orderId);
    if (!order || (order.ownerId !== actor.userId && actor.role !== 'admin')) {
      throw new AppError('NOT_FOUND', 'no such order');
    }
    return order;
  }

  /** Places an order; at or below the approval threshold it is approved at once. */
  async function create(input: CreateOrderBody, actor: OrderActor): Promise<OrderRow> {
    const totalQuantity = rules.check(input, actor.role);
    const now = Date.now();
    const autoApprove = totalQuantity <= rules.approvalThreshold;
    const order: OrderRow = {
      id: crypto.randomUUID(),
      ownerId: actor.userId,
      status: autoApprove ? 'approved' : 'pending',
      items: input.items,
      totalQuantity,
      notes: input.notes ?? '',
      sensorIds: [],
      keysClaimedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    const events: OrderEventRow[] = [
      {
        orderId: order.id,
        fromStatus: '',
        toStatus: 'pending',
        actorId: actor.userId,
        reason: 'ordered',
        at: now,
      },
    ];
    if (autoApprove) {
      const reason = `auto-approved: ${totalQuantity} sensors, at or below the threshold of ${rules.approvalThreshold}`;
      events.push({
        orderId: order.id,
        fromStatus: 'pending',
        toStatus: 'approved',
        actorId: SYSTEM_ACTOR,
        reason,
        at: now,
      });
    }
    await recordOrderEvents(store)(events);
    await saveOrder(store)(order);
    log.info(
      { orderId: order.id, ownerId: actor.userId, totalQuantity, status: order.status },
      'order placed',
    );
    if (autoApprove) await requestProvisioning(order.id, SYSTEM_ACTOR);
    return order;
  }

  /** Orders the caller may see: their own, or for admins everyone's (optionally one owner's). */
  async function list(query: OrderQuery, actor: OrderActor) {
    const from = query.from === undefined ? undefined : parseInstant(query.from, 'from');
    const to = query.to === undefined ? undefined : parseInstant(query.to, 'to');
    if (query.ownerId !== undefined && actor.role !== 'admin' && query.ownerId !== actor.userId) {
      throw new AppError('FORBIDDEN', 'only admins may list other owners’ orders');
    }
    const ownerId = actor.role === 'admin' ? query.ownerId : actor.userId;
    return listOrders(store)({
      ...(ownerId === undefined ? {} : { ownerId }),
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      limit: query.limit,
      offset: query.offset,
    });
  }

  /** One order with its transitions. */
  async function get(orderId: string, actor: OrderActor) {
    const order = await visible(orderId, actor);
    return { order, events: await listOrderEvents(store)(orderId) };
  }

  /** The owner withdraws an order; only while it is pending. */
  async function cancel(orderId: string, actor: OrderActor): Promise<OrderRow> {
    const order = await visible(orderId, actor);
    if (order.ownerId !== actor.userId) throw new AppError('FORBIDDEN', 'only the owner may cancel an order');
    return transition(orderId, ['pending'], 'cancelled', actor.userId, 'cancelled by the owner');
  }

  /** An admin approves a pending order; provisioning follows through the bus. */
  async function approve(orderId: string, adminId: string, note = ''): Promise<OrderRow> {
    const order = await transition(orderId, ['pending'], 'approved', adminId, note || 'approved');
    await requestProvisioning(orderId, adminId);
    return order;
  }

  /** An admin turns a pending order down, saying why. */
  function reject(orderId: string, adminId: string, reason: string): Promise<OrderRow> {
    return transition(orderId, ['pending'], 'rejected', adminId, reason);
  }

  /**
   * Hands the owner the raw device keys of an active order, once: the claim is recorded on the
   * order (under its lock) before the keys leave, so a second call, here or on any replica, gets 410.
   */
  async function claimDeviceKeys(orderId: string, actor: OrderActor): Promise<DeviceKeys> {
    const order = await visible(orderId, actor);
    if (order.ownerId !== actor.userId) {
      throw new AppError('FORBIDDEN', 'only the owner may retrieve an order’s device keys');
    }
    return withLock(redis, `lock:order:${orderId}`, async () => {
      const current = (await find(orderId)) ?? order;
      if (current.keysClaimedAt !== null) {
        throw new AppError(
          'GONE',
          'the device keys were already retrieved; rotate a sensor’s key to get a new one',
          {
            details: { claimedAt: new Date(current.keysClaimedAt).toISOString() },
          },
        );
      }
      if (current.status !== 'active') {
        throw new AppError(
          'CONFLICT',
          `device keys are ready once the order is active; it is ${current.status}`,
          {
            details: { status: current.status },
          },
        );
      }
      const stored = await redis.hgetall(deviceKeysKey(orderId));
      if (Object.keys(stored).length === 0) {
        throw new AppError('GONE', 'the device keys expired; rotate the sensors’ keys to get new ones');
      }
      const now = Date.now();
      await saveOrder(store)({ ...current, keysClaimedAt: now, updatedAt: now });
      await redis.del(deviceKeysKey(orderId));
      log.info({ orderId, ownerId: actor.userId, keys: Object.keys(stored).length }, 'device keys retrieved');
      const keys = current.sensorIds
        .filter((sensorId) => stored[sensorId] !== undefined)
        .map((sensorId) => ({ sensorId, deviceKey: stored[sensorId] as string }));
      return { orderId, keys };
    });
  }

  return {
    create,
    list,
    get,
    cancel,
    approve,
    reject,
    transition,
    claimDeviceKeys,
    requestProvisioning,
    find,
  };
}

/** The order service. */
export type OrdersService = ReturnType<typeof ordersService>;
