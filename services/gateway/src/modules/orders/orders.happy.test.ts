import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { findSensorById, sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import type { DeviceKeys, OrderEvent, OrderView } from './model.ts';
import { startOrderProcessor } from './processor.ts';
import { professional, waitForStatus } from './test-helpers.ts';

let gw: TestGateway;
let processor: { stop(): Promise<void> } | undefined;
let admin: string;
// Registered before useServers: afterAll hooks run in order, and the processor must stop while Redis is up.
afterAll(async () => {
  await processor?.stop();
  await gw?.close();
});
const servers = useServers({ redis: true, clickhouse: true });

beforeAll(async () => {
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { ORDER_APPROVAL_THRESHOLD: '3' },
  );
  processor = await startOrderProcessor(gw.ctx, { consumer: 'happy-test' });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
});

describe('an order from creation to active', () => {
  test('approval provisions pending sensors with working device keys, the owner gets the keys once', async () => {
    const owner = await professional(gw);
    const created = await gw.call('POST', '/api/v1/orders', {
      token: owner.token,
      body: {
        items: [
          { model: 'SM-AQ1', quantity: 3, site: 'Dongsi roof', notes: 'north mast' },
          { model: 'SM-IND1', quantity: 2, site: 'Plant 3' },
        ],
        notes: "'; DROP TABLE orders; --",
      },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      status: 'pending',
      totalQuantity: 5,
      ownerId: owner.id,
      deviceKeys: 'none',
    });
    expect(created.json.notes).toBe("'; DROP TABLE orders; --");
    const id = created.json.id as string;

    const early = await gw.call('POST', `/api/v1/orders/${id}/device-keys`, { token: owner.token });
    expect(early.status).toBe(409);

    const approved = await gw.call('POST', `/api/v1/admin/orders/${id}/approve`, {
      token: admin,
      body: { note: 'budget confirmed' },
    });
    expect(approved.status).toBe(200);
    expect(approved.json.status).toBe('approved');

    const active = await waitForStatus(gw, id, owner.token, 'active');
    expect(active.sensorIds).toEqual([1, 2, 3, 4, 5].map((n) => `${id}-${n}`));
    expect(active.deviceKeys).toBe('available');
    const adminId = (await gw.login(ADMIN.email, ADMIN.password)).user.id;
    expect(active.events?.map((event: OrderEvent) => [event.from, event.to, event.actorId])).toEqual([
      [null, 'pending', owner.id],
      ['pending', 'approved', adminId],
      ['approved', 'provisioning', 'system'],
      ['provisioning', 'active', 'system'],
    ]);
    expect(active.events?.[1]?.reason).toBe('budget confirmed');
    for (const event of active.events ?? [])
      expect(Date.parse(event.at)).toBeGreaterThan(Date.now() - 60_000);

    for (const [index, sensorId] of active.sensorIds.entries()) {
      const sensor = await findSensorById(gw.store)(sensorId);
      expect(sensor).toMatchObject({ status: 'pending', model: index < 3 ? 'SM-AQ1' : 'SM-IND1' });
      expect(sensor?.site).toBe(index < 3 ? 'Dongsi roof' : 'Plant 3');
    }

    const keys = await gw.call('POST', `/api/v1/orders/${id}/device-keys`, { token: owner.token });
    expect(keys.status).toBe(200);
    expect((keys.json as DeviceKeys).keys.map((key) => key.sensorId)).toEqual(active.sensorIds);
    for (const { sensorId, deviceKey } of keys.json.keys) {
      expect(await gw.ctx.sensors.verifyDeviceKey(sensorId, deviceKey)).toBe(true);
    }
    const again = await gw.call('POST', `/api/v1/orders/${id}/device-keys`, { token: owner.token });
    expect(again.status).toBe(410);
    expect(again.text).not.toContain('smd_');
    const after = await gw.call('GET', `/api/v1/orders/${id}`, { token: owner.token });
    expect(after.json.deviceKeys).toBe('claimed');
    expect(after.text).not.toContain('smd_');
  });

  test('an order at the threshold is approved and provisioned without an admin', async () => {
    const owner = await professional(gw);
    const created = await gw.call('POST', '/api/v1/orders', {
      token: owner.token,
      body: { items: [{ model: 'SM-AQ2', quantity: 3, site: 'Tiantan' }] },
    });
    expect(created.status).toBe(201);
    expect(created.json.status).toBe('approved');
    const active = await waitForStatus(gw, created.json.id, owner.token, 'active');
    expect(active.events?.map((event: OrderEvent) => [event.to, event.actorId])).toEqual([
      ['pending', owner.id],
      ['approved', 'system'],
      ['provisioning', 'system'],
      ['active', 'system'],
    ]);
    expect(active.events?.[1]?.reason).toContain('threshold of 3');
  });
});

describe('cancel and reject', () => {
  test('the owner cancels while pending, and not after approval', async () => {
    const owner = await professional(gw);
    const order = (body: unknown) => gw.call('POST', '/api/v1/orders', { token: owner.token, body });
    const first = await order({ items: [{ model: 'SM-AQ1', quantity: 10, site: 'A' }] });
    const cancelled = await gw.call('POST', `/api/v1/orders/${first.json.id}/cancel`, { token: owner.token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.status).toBe('cancelled');

    const second = await order({ items: [{ model: 'SM-AQ1', quantity: 10, site: 'B' }] });
    await gw.call('POST', `/api/v1/admin/orders/${second.json.id}/approve`, { token: admin });
    const late = await gw.call('POST', `/api/v1/orders/${second.json.id}/cancel`, { token: owner.token });
    expect(late.status).toBe(409);
    expect(late.json.error.details.status).toMatch(/approved|provisioning|active/);
  });

  test('an admin rejects with a reason; the reason is recorded', async () => {
    const owner = await professional(gw);
    const created = await gw.call('POST', '/api/v1/orders', {
      token: owner.token,
      body: { items: [{ model: 'SM-IND1', quantity: 9, site: 'Plant 9' }] },
    });
    const rejected = await gw.call('POST', `/api/v1/admin/orders/${created.json.id}/reject`, {
      token: admin,
      body: { reason: 'site not covered' },
    });
    expect(rejected.status).toBe(200);
    expect(rejected.json.status).toBe('rejected');
    const seen = await gw.call('GET', `/api/v1/orders/${created.json.id}`, { token: owner.token });
    expect(seen.json.events.at(-1)).toMatchObject({
      from: 'pending',
      to: 'rejected',
      reason: 'site not covered',
    });
    const twice = await gw.call('POST', `/api/v1/admin/orders/${created.json.id}/approve`, { token: admin });
    expect(twice.status).toBe(409);
    expect(twice.json.error.details).toEqual({ status: 'rejected' });
  });
});

describe('listing', () => {
  test('owners see their own orders; admins filter everyone’s by status and date, with paging', async () => {
    const [ana, bo] = [await professional(gw), await professional(gw)];
    const place = (token: string, quantity: number) =>
      gw.call('POST', '/api/v1/orders', {
        token,
        body: { items: [{ model: 'SM-AQ1', quantity, site: 'S' }] },
      });
    const before = Date.now();
    const anaOrders = [await place(ana.token, 20), await place(ana.token, 21), await place(ana.token, 22)];
    await place(bo.token, 23);
    const boCancelled = await place(bo.token, 24);
    await gw.call('POST', `/api/v1/orders/${boCancelled.json.id}/cancel`, { token: bo.token });

    const own = await gw.call('GET', '/api/v1/orders', { token: ana.token });
    expect(own.status).toBe(200);
    expect(own.json.total).toBe(3);
    expect(own.json.items.map((order: OrderView) => order.id)).toEqual(
      anaOrders.map((order) => order.json.id).reverse(),
    );

    const from = encodeURIComponent(new Date(before).toISOString());
    const pending = await gw.call('GET', `/api/v1/orders?status=pending&from=${from}&limit=2&offset=0`, {
      token: admin,
    });
    expect(pending.json.total).toBe(4);
    expect(pending.json.items).toHaveLength(2);
    const page2 = await gw.call('GET', `/api/v1/orders?status=pending&from=${before}&limit=2&offset=2`, {
      token: admin,
    });
    expect(page2.json.items).toHaveLength(2);
    const ids = [...pending.json.items, ...page2.json.items].map((order: OrderView) => order.id);
    expect(new Set(ids).size).toBe(4);

    const cancelled = await gw.call('GET', `/api/v1/orders?status=cancelled&from=${before}`, {
      token: admin,
    });
    expect(cancelled.json.items.map((order: OrderView) => order.id)).toEqual([boCancelled.json.id]);
    const future = await gw.call('GET', `/api/v1/orders?from=${Date.now() + 60_000}`, { token: admin });
    expect(future.json.total).toBe(0);
    const beforeAny = await gw.call('GET', `/api/v1/orders?to=${before}&status=pending&ownerId=${ana.id}`, {
      token: admin,
    });
    expect(beforeAny.json.total).toBe(0);
    const anaOnly = await gw.call('GET', `/api/v1/orders?ownerId=${ana.id}`, { token: admin });
    expect(anaOnly.json.total).toBe(3);
  });

  test('every transition is stored in order_events', async () => {
    const [row] = await gw.store.query<{ n: number }>(
      sql`SELECT count() AS n FROM order_events WHERE actor_id = '' OR at = 0`,
    );
    expect(Number(row?.n)).toBe(0);
  });
});
