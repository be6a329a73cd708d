import { OrderStatus as StoredOrderStatus } from '@sensormesh/store';
import { type Static, t } from 'elysia';

/** Where an order is: the stored status, documented for the API. */
export const OrderStatus = {
  ...StoredOrderStatus,
  description: 'pending → approved | rejected | cancelled; approved → provisioning → active',
};
export type OrderStatus = Static<typeof OrderStatus>;

/** One line of an order: how many sensors of a model for a site. */
export const OrderItem = t.Object(
  {
    model: t.String({ minLength: 1, maxLength: 64, description: 'one of ORDER_ALLOWED_MODELS' }),
    quantity: t.Integer({ minimum: 1, maximum: 100_000 }),
    site: t.String({ minLength: 1, maxLength: 200 }),
    notes: t.Optional(t.String({ maxLength: 2_000 })),
  },
  { additionalProperties: false, examples: [{ model: 'SM-AQ1', quantity: 4, site: 'Dongsi roof' }] },
);
export type OrderItem = Static<typeof OrderItem>;

/** POST /orders. */
export const CreateOrderBody = t.Object(
  {
    items: t.Array(OrderItem, { minItems: 1, maxItems: 100 }),
    notes: t.Optional(t.String({ maxLength: 2_000 })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        items: [
          { model: 'SM-AQ1', quantity: 4, site: 'Dongsi roof', notes: 'north-facing mast' },
          { model: 'SM-IND1', quantity: 2, site: 'Plant 3' },
        ],
        notes: 'install before March',
      },
    ],
  },
);
export type CreateOrderBody = Static<typeof CreateOrderBody>;

/** POST /admin/orders/:id/reject. */
export const RejectBody = t.Object(
  { reason: t.String({ minLength: 1, maxLength: 2_000 }) },
  { additionalProperties: false, examples: [{ reason: 'site not covered by the contract' }] },
);

/** POST /admin/orders/:id/approve (a note is optional). */
export const ApproveBody = t.Optional(
  t.Object(
    { note: t.Optional(t.String({ maxLength: 2_000 })) },
    { additionalProperties: false, examples: [{ note: 'budget confirmed' }] },
  ),
);

/** One recorded transition. */
export const OrderEvent = t.Object({
  from: t.Union([OrderStatus, t.Null()], { description: 'null for the creation' }),
  to: OrderStatus,
  actorId: t.String({ description: 'user id, or "system" for automatic steps' }),
  reason: t.String(),
  at: t.String({ format: 'date-time' }),
});
export type OrderEvent = Static<typeof OrderEvent>;

/** An order as the API shows it. */
export const OrderView = t.Object(
  {
    id: t.String({ format: 'uuid' }),
    ownerId: t.String(),
    status: OrderStatus,
    items: t.Array(OrderItem),
    totalQuantity: t.Integer(),
    notes: t.String(),
    sensorIds: t.Array(t.String(), { description: 'the provisioned sensors, once active' }),
    deviceKeys: t.Union([t.Literal('none'), t.Literal('available'), t.Literal('claimed')], {
      description: 'whether POST /orders/:id/device-keys can still return the raw device keys',
    }),
    createdAt: t.String({ format: 'date-time' }),
    updatedAt: t.String({ format: 'date-time' }),
    events: t.Optional(t.Array(OrderEvent)),
  },
  {
    examples: [
      {
        id: '0b7f8a52-7c1e-4c55-9a43-2f1f0b8c9d10',
        ownerId: '5d0e6a4e-3f5a-4f0c-8a3b-1c2d3e4f5a6b',
        status: 'pending',
        items: [{ model: 'SM-AQ1', quantity: 12, site: 'Dongsi roof' }],
        totalQuantity: 12,
        notes: '',
        sensorIds: [],
        deviceKeys: 'none',
        createdAt: '2025-01-10T08:00:00.000Z',
        updatedAt: '2025-01-10T08:00:00.000Z',
      },
    ],
  },
);
export type OrderView = Static<typeof OrderView>;

/** A page of orders. */
export const OrderPage = t.Object({
  items: t.Array(OrderView),
  total: t.Integer(),
  limit: t.Integer(),
  offset: t.Integer(),
});

const Instant = t.String({
  minLength: 1,
  maxLength: 40,
  description: 'ISO-8601 date-time or epoch milliseconds',
  examples: ['2025-01-01T00:00:00Z', '1735689600000'],
});

/** GET /orders filters; `from` is inclusive, `to` exclusive, both on the creation time. */
export const OrderQuery = t.Object(
  {
    status: t.Optional(OrderStatus),
    from: t.Optional(Instant),
    to: t.Optional(Instant),
    ownerId: t.Optional(t.String({ maxLength: 64, description: 'admins only: one owner’s orders' })),
    limit: t.Integer({ minimum: 1, maximum: 500, default: 50 }),
    offset: t.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  },
  { additionalProperties: false },
);
export type OrderQuery = Static<typeof OrderQuery>;

/** The raw device keys of an order's sensors, returned exactly once. */
export const DeviceKeys = t.Object({
  orderId: t.String(),
  keys: t.Array(t.Object({ sensorId: t.String(), deviceKey: t.String() })),
});
export type DeviceKeys = Static<typeof DeviceKeys>;

/** The `:id` path parameter. */
export const OrderParams = t.Object({ id: t.String({ format: 'uuid' }) });
