import { hostname } from 'node:os';
import { withLock } from '@sensormesh/auth';
import { createConsumer, type Delivery, type OrderMessage, orders as ordersStream } from '@sensormesh/bus';
import { isAppError } from '@sensormesh/errors';
import { findSensorById, listOrdersInStatus, type OrderRow } from '@sensormesh/store';
import type { GatewayContext } from '../../context.ts';
import { DEVICE_KEYS_TTL_S, deviceKeysKey, ordersService, SYSTEM_ACTOR } from './service.ts';

/** Tuning of the order processor; durations in ms. */
export interface OrderProcessorOptions {
  /** Consumer name in the `order-processor` group (default `order-processor-<host>`). */
  consumer?: string;
  /** How often approved orders whose message may have been lost are re-queued (default 60 s). */
  sweepIntervalMs?: number;
  /** How long an order may sit approved or provisioning before the sweep re-queues it (default 60 s). */
  staleAfterMs?: number;
}

const PARALLEL_CREATES = 8;
const PROVISION_LOCK_MS = 15 * 60_000;

/** The sensor id of unit `n` (1-based) of an order: deterministic, so redelivery finds what exists. */
export const orderSensorId = (orderId: string, n: number) => `${orderId}-${n}`;

/** The sensor kind a model id suggests (SM-AQ… air quality, SM-IND… industrial). */
function kindOf(model: string): string {
  if (/AQ/i.test(model)) return 'air-quality';
  if (/IND/i.test(model)) return 'industrial';
  return 'sensor';
}

/** One planned sensor per unit ordered, numbered across the order's items. */
function plan(order: OrderRow) {
  let n = 0;
  return order.items.flatMap((item) =>
    Array.from({ length: item.quantity }, () => {
      n += 1;
      return {
        id: orderSensorId(order.id, n),
        name: `${item.model} #${n} · ${item.site}`.slice(0, 200),
        kind: kindOf(item.model),
        manufacturer: 'Sensormesh',
        model: item.model,
        site: item.site,
        tags: [`order:${order.id}`],
      };
    }),
  );
}

/** Provisioning of one order, safe to repeat: the part the consumer runs for every message. */
export function orderProvisioner(ctx: GatewayContext) {
  const { store, redis, sensors } = ctx;
  const orders = ordersService(ctx);
  const log = ctx.logger.child({ module: 'order-processor' });

  /** Creates the sensor unless a previous delivery did; a key lost in a crash is re-issued. */
  async function ensureSensor(order: OrderRow, spec: ReturnType<typeof plan>[number]): Promise<void> {
    const keys = deviceKeysKey(order.id);
    let rawKey: string | undefined;
    if (!(await findSensorById(store)(spec.id))) {
      try {
        rawKey = (await sensors.create(spec, order.ownerId, { status: 'pending' })).deviceKey.key;
      } catch (error) {
        if (!(isAppError(error) && error.code === 'CONFLICT')) throw error;
      }
    }
    if (rawKey === undefined && !(await redis.hexists(keys, spec.id))) {
      // The sensor exists but its key never reached the owner's hand-over hash: issue a fresh one.
      rawKey = (await sensors.rotateDeviceKey(spec.id, SYSTEM_ACTOR)).key;
    }
    if (rawKey !== undefined) {
      await redis.multi().hset(keys, spec.id, rawKey).expire(keys, DEVICE_KEYS_TTL_S).exec();
    }
  }

  /** Moves an approved order through provisioning to active; anything else is left as it is. */
  async function provision(orderId: string, requestedBy = SYSTEM_ACTOR): Promise<void> {
    const order = await orders.find(orderId);
    if (!order || (order.status !== 'approved' && order.status !== 'provisioning')) {
      log.info({ orderId, status: order?.status ?? 'missing' }, 'nothing to provision');
      return;
    }
    try {
      await withLock(redis, `lock:order-provision:${orderId}`, () => provisionLocked(orderId, requestedBy), {
        ttlMs: PROVISION_LOCK_MS,
        attempts: 1,
      });
    } catch (error) {
      // Another worker holds this order: its own delivery stays pending until it finishes, so ack ours.
      if (isAppError(error) && error.code === 'CONFLICT' && error.message.includes('busy')) {
        log.info({ orderId }, 'order is being provisioned elsewhere');
        return;
      }
      throw error;
    }
  }

  async function provisionLocked(orderId: string, requestedBy: string): Promise<void> {
    let order = await orders.find(orderId);
    if (order?.status === 'approved') {
      const reason = `provisioning ${order.totalQuantity} sensors (approved by ${requestedBy})`;
      order = await orders.transition(orderId, ['approved'], 'provisioning', SYSTEM_ACTOR, reason);
    }
    if (order?.status !== 'provisioning') return;
    const specs = plan(order);
    const owned = order;
    for (let start = 0; start < specs.length; start += PARALLEL_CREATES) {
      await Promise.all(
        specs.slice(start, start + PARALLEL_CREATES).map((spec) => ensureSensor(owned, spec)),
      );
    }
    const sensorIds = specs.map((spec) => spec.id);
    await orders.transition(
      orderId,
      ['provisioning'],
      'active',
      SYSTEM_ACTOR,
      `${sensorIds.length} sensors provisioned`,
      () => ({
        sensorIds,
      }),
    );
    log.info({ orderId, sensors: sensorIds.length }, 'order provisioned');
  }

  /** Re-queues orders left approved or provisioning (a lost publish, a crash): provisioning is idempotent. */
  async function sweep(staleAfterMs: number): Promise<number> {
    const stale = (await listOrdersInStatus(store)(['approved', 'provisioning'])).filter(
      (order) => order.updatedAt <= Date.now() - staleAfterMs,
    );
    for (const order of stale) await orders.requestProvisioning(order.id, SYSTEM_ACTOR);
    if (stale.length > 0) log.warn({ orders: stale.length }, 're-queued stale orders');
    return stale.length;
  }

  return { provision, sweep };
}

/** Starts the order processor: a member of the `order-processor` group on the `orders` stream. */
export async function startOrderProcessor(
  ctx: GatewayContext,
  options: OrderProcessorOptions = {},
): Promise<{ stop(): Promise<void> }> {
  const provisioner = orderProvisioner(ctx);
  const log = ctx.logger.child({ module: 'order-processor' });
  const consumer = createConsumer(ctx.redis, {
    stream: ordersStream,
    group: 'order-processor',
    consumer: options.consumer ?? `order-processor-${hostname()}`,
    batchSize: 10,
    // Provisioning a large order takes a while; do not let another member claim it meanwhile.
    visibilityTimeoutMs: 10 * 60_000,
    logger: ctx.logger,
    registry: ctx.registry,
    async handler(messages: Delivery<OrderMessage>[]) {
      const failed: Array<{ id: string; error: unknown }> = [];
      for (const message of messages) {
        try {
          await provisioner.provision(message.data.orderId, message.data.requestedBy);
        } catch (error) {
          failed.push({ id: message.id, error });
        }
      }
      return { failed };
    },
  });
  await consumer.start();

  const staleAfterMs = options.staleAfterMs ?? 60_000;
  let sweeping: Promise<unknown> = Promise.resolve();
  const runSweep = () => {
    sweeping = provisioner
      .sweep(staleAfterMs)
      .catch((error: unknown) => log.error({ err: error }, 'order sweep failed'));
  };
  const timer = setInterval(runSweep, options.sweepIntervalMs ?? 60_000);
  runSweep();

  return {
    async stop() {
      clearInterval(timer);
      await sweeping; // never leave a sweep running against a store that is about to close
      await consumer.stop();
    },
  };
}
