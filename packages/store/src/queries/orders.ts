import { type Static, Type as t } from '@sinclair/typebox';
import { inList, join, type Sql, sql } from '../sql.ts';
import type { Store } from '../store.ts';
import { nextVersion } from './versions.ts';

/** Where an order is in its workflow. */
export const OrderStatus = t.Union([
  t.Literal('pending'),
  t.Literal('approved'),
  t.Literal('rejected'),
  t.Literal('cancelled'),
  t.Literal('provisioning'),
  t.Literal('active'),
]);
export type OrderStatus = Static<typeof OrderStatus>;

/** One line of an order as stored. */
export const OrderItemRow = t.Object({
  model: t.String(),
  quantity: t.Integer(),
  site: t.String(),
  notes: t.Optional(t.String()),
});
export type OrderItemRow = Static<typeof OrderItemRow>;

/** A stored order (its latest version). */
export const OrderRow = t.Object({
  id: t.String(),
  ownerId: t.String(),
  status: OrderStatus,
  items: t.Array(OrderItemRow),
  totalQuantity: t.Integer(),
  notes: t.String(),
  sensorIds: t.Array(t.String()),
  /** When the owner retrieved the provisioned device keys (epoch ms), null before. */
  keysClaimedAt: t.Union([t.Integer(), t.Null()]),
  createdAt: t.Integer(),
  updatedAt: t.Integer(),
});
export type OrderRow = Static<typeof OrderRow>;

/** One recorded status transition; `fromStatus` is '' for the creation. */
export const OrderEventRow = t.Object({
  orderId: t.String(),
  fromStatus: t.Union([OrderStatus, t.Literal('')]),
  toStatus: OrderStatus,
  actorId: t.String(),
  reason: t.String(),
  at: t.Integer(),
});
export type OrderEventRow = Static<typeof OrderEventRow>;

interface OrderRecord {
  id: string;
  owner_id: string;
  status: OrderStatus;
  items: string;
  total_quantity: number;
  notes: string;
  sensor_ids: string[];
  keys_claimed_at: number;
  created_at: number;
  updated_at: number;
}

const toOrder = (row: OrderRecord): OrderRow => ({
  id: row.id,
  ownerId: row.owner_id,
  status: row.status,
  items: JSON.parse(row.items) as OrderItemRow[],
  totalQuantity: Number(row.total_quantity),
  notes: row.notes,
  sensorIds: row.sensor_ids,
  keysClaimedAt: Number(row.keys_claimed_at) > 0 ? Number(row.keys_claimed_at) : null,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

/** Writes an order (a new one, or a new version of an existing one). */
export function saveOrder(store: Store) {
  return async function saveOrder(order: OrderRow): Promise<void> {
    // A bound INSERT … VALUES rather than a TSV insert: TSV rows carry no arrays (sensor_ids).
    await store.command(sql`INSERT INTO orders
      (id, owner_id, status, items, total_quantity, notes, sensor_ids, keys_claimed_at, created_at, updated_at, version)
      VALUES (${order.id}, ${order.ownerId}, ${order.status}, ${JSON.stringify(order.items)},
        ${order.totalQuantity}, ${order.notes}, ${order.sensorIds}, ${order.keysClaimedAt ?? 0},
        ${order.createdAt}, ${order.updatedAt}, ${nextVersion()})`);
  };
}

// Filters run outside the FINAL subquery, so they see only each order's latest version.
const LATEST_ORDERS = sql`(SELECT id, owner_id, status, items, total_quantity, notes, sensor_ids,
  keys_claimed_at, created_at, updated_at FROM orders FINAL)`;

/** The latest version of an order, if any. */
export function findOrderById(store: Store) {
  return async function findOrderById(id: string): Promise<OrderRow | undefined> {
    const [row] = await store.query<OrderRecord>(sql`SELECT * FROM orders FINAL WHERE id = ${id} LIMIT 1`);
    return row && toOrder(row);
  };
}

/** What `listOrders` filters on; times are epoch ms, `from` inclusive and `to` exclusive. */
export interface OrderFilter {
  ownerId?: string;
  status?: OrderStatus;
  from?: number;
  to?: number;
  limit: number;
  offset: number;
}

/** Orders matching a filter, newest first, a page at a time, with the total. */
export function listOrders(store: Store) {
  return async function listOrders(filter: OrderFilter): Promise<{ items: OrderRow[]; total: number }> {
    const conditions: Sql[] = [sql`1`];
    if (filter.ownerId !== undefined) conditions.push(sql`owner_id = ${filter.ownerId}`);
    if (filter.status !== undefined) conditions.push(sql`status = ${filter.status}`);
    if (filter.from !== undefined) conditions.push(sql`created_at >= ${filter.from}`);
    if (filter.to !== undefined) conditions.push(sql`created_at < ${filter.to}`);
    const where = join(conditions, ' AND ');
    const [rows, counts] = await Promise.all([
      store.query<OrderRecord>(
        sql`SELECT * FROM ${LATEST_ORDERS} WHERE ${where}
          ORDER BY created_at DESC, id LIMIT ${filter.limit} OFFSET ${filter.offset}`,
      ),
      store.query<{ n: number }>(sql`SELECT count() AS n FROM ${LATEST_ORDERS} WHERE ${where}`),
    ]);
    return { items: rows.map(toOrder), total: Number(counts[0]?.n ?? 0) };
  };
}

/** Orders in a status, oldest first (the processor resumes approved and provisioning ones). */
export function listOrdersInStatus(store: Store) {
  return async function listOrdersInStatus(
    statuses: readonly OrderStatus[],
    limit = 1_000,
  ): Promise<OrderRow[]> {
    const rows = await store.query<OrderRecord>(
      sql`SELECT * FROM ${LATEST_ORDERS} WHERE status IN ${inList(statuses)} ORDER BY updated_at LIMIT ${limit}`,
    );
    return rows.map(toOrder);
  };
}

const EVENT_COLUMNS = ['order_id', 'from_status', 'to_status', 'actor_id', 'reason', 'at', 'seq'];

/** Appends status transitions to the audit trail. */
export function recordOrderEvents(store: Store) {
  return async function recordOrderEvents(events: readonly OrderEventRow[]): Promise<void> {
    await store.insert(
      'order_events',
      EVENT_COLUMNS,
      events.map((event) => [
        event.orderId,
        event.fromStatus,
        event.toStatus,
        event.actorId,
        event.reason,
        event.at,
        // Two transitions can share a millisecond (creation, then auto-approval): seq keeps their order.
        nextVersion(),
      ]),
    );
  };
}

interface EventRecord {
  order_id: string;
  from_status: OrderEventRow['fromStatus'];
  to_status: OrderStatus;
  actor_id: string;
  reason: string;
  at: number;
}

/** An order's transitions, oldest first. */
export function listOrderEvents(store: Store) {
  return async function listOrderEvents(orderId: string): Promise<OrderEventRow[]> {
    const rows = await store.query<EventRecord>(
      sql`SELECT order_id, from_status, to_status, actor_id, reason, at FROM order_events
        WHERE order_id = ${orderId} ORDER BY at, seq`,
    );
    return rows.map((row) => ({
      orderId: row.order_id,
      fromStatus: row.from_status,
      toStatus: row.to_status,
      actorId: row.actor_id,
      reason: row.reason,
      at: Number(row.at),
    }));
  };
}
