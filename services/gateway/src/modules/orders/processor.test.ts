import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createPublisher, orders as ordersStream } from '@sensormesh/bus';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { orderProvisioner, orderSensorId, startOrderProcessor } from './processor.ts';
import { deviceKeysKey, ordersService } from './service.ts';
import { professional, waitForStatus } from './test-helpers.ts';

let gw: TestGateway;
let processor: { stop(): Promise<void> } | undefined;
afterAll(async () => {
  await processor?.stop();
  await gw?.close();
});
const servers = useServers({ redis: true, clickhouse: true });
let admin: string;
let owner: { token: string; id: string };

beforeAll(async () => {
  // Threshold 0: every order waits for an admin, so the tests choose when provisioning starts.
  gw = await testGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { ORDER_APPROVAL_THRESHOLD: '0' },
  );
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  owner = await professional(gw);
});

/** An approved order of `quantity` sensors (no processor is running yet, so it stays approved). */
async function approvedOrder(quantity: number): Promise<string> {
  const created = await gw.call('POST', '/api/v1/orders', {
    token: owner.token,
    body: { items: [{ model: 'SM-AQ1', quantity, site: 'Redelivery Rd' }] },
  });
  expect(created.status).toBe(201);
  const approved = await gw.call('POST', `/api/v1/admin/orders/${created.json.id}/approve`, { token: admin });
  expect(approved.status).toBe(200);
  return created.json.id;
}

/** Sensor rows of an order: distinct ids, all stored versions, and active device keys. */
async function sensorsOf(orderId: string) {
  const pattern = `${orderId}-%`;
  const [sensors] = await gw.store.query<{ ids: number; rows: number }>(
    sql`SELECT uniqExact(id) AS ids, count() AS rows FROM sensors WHERE id LIKE ${pattern}`,
  );
  const [keys] = await gw.store.query<{ n: number }>(
    sql`SELECT count() AS n FROM device_keys FINAL WHERE sensor_id LIKE ${pattern} AND status = 'active'`,
  );
  return { ids: Number(sensors?.ids), rows: Number(sensors?.rows), activeKeys: Number(keys?.n) };
}

/** Waits until the order-processor group has taken and acknowledged everything on the stream. */
async function drained(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const groups = (await gw.redis.xinfo('GROUPS', ordersStream.name)) as unknown[][];
    const group = groups.map((row) =>
      Object.fromEntries(row.flatMap((v, i) => (i % 2 ? [] : [[v, row[i + 1]]]))),
    )[0];
    if (group && Number(group.pending) === 0 && Number(group.lag) === 0) return;
    await Bun.sleep(25);
  }
  throw new Error('the order-processor group did not drain');
}

describe('provisioning is idempotent', () => {
  test('two provisioners racing on one order create each sensor once', async () => {
    const id = await approvedOrder(6);
    const provisioner = orderProvisioner(gw.ctx);
    await Promise.all([provisioner.provision(id), provisioner.provision(id), provisioner.provision(id)]);
    const order = await ordersService(gw.ctx).find(id);
    expect(order?.status).toBe('active');
    expect(await sensorsOf(id)).toEqual({ ids: 6, rows: 6, activeKeys: 6 });
  });

  test('a redelivered message after a crash mid-provisioning finishes the order without duplicates', async () => {
    const id = await approvedOrder(4);
    // The crash: the order moved to provisioning, sensor 1 was created and its key kept,
    // sensor 2 was created but the process died before keeping its key.
    const orders = ordersService(gw.ctx);
    await orders.transition(id, ['approved'], 'provisioning', 'system', 'test: crashed run');
    const spec = (n: number) => ({
      id: orderSensorId(id, n),
      name: `unit ${n}`,
      kind: 'air-quality',
      model: 'SM-AQ1',
    });
    const first = await gw.ctx.sensors.create(spec(1), owner.id, { status: 'pending' });
    await gw.redis.hset(deviceKeysKey(id), orderSensorId(id, 1), first.deviceKey.key);
    await gw.ctx.sensors.create(spec(2), owner.id, { status: 'pending' });

    processor = await startOrderProcessor(gw.ctx, { consumer: 'redelivery-test' });
    const publisher = createPublisher(gw.redis);
    const message = { orderId: id, action: 'provision' as const, requestedBy: 'test', at: Date.now() };
    await publisher.publish(ordersStream, message);
    await publisher.publish(ordersStream, message);
    await waitForStatus(gw, id, owner.token, 'active');
    await drained();
    expect(await sensorsOf(id)).toEqual({ ids: 4, rows: 4, activeKeys: 4 });

    const keys = await gw.call('POST', `/api/v1/orders/${id}/device-keys`, { token: owner.token });
    expect(keys.status).toBe(200);
    expect(keys.json.keys).toHaveLength(4);
    expect(keys.json.keys[0].deviceKey).toBe(first.deviceKey.key);
    for (const { sensorId, deviceKey } of keys.json.keys) {
      expect(await gw.ctx.sensors.verifyDeviceKey(sensorId, deviceKey)).toBe(true);
    }
  });

  test('a provision message for an active order changes nothing', async () => {
    const id = await approvedOrder(3);
    await waitForStatus(gw, id, owner.token, 'active');
    await drained();
    const events = async () =>
      (
        await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM order_events WHERE order_id = ${id}`)
      )[0]?.n;
    const before = { sensors: await sensorsOf(id), events: await events() };
    await createPublisher(gw.redis).publish(ordersStream, {
      orderId: id,
      action: 'provision',
      requestedBy: 'test',
      at: Date.now(),
    });
    await drained();
    expect({ sensors: await sensorsOf(id), events: await events() }).toEqual(before);
    expect(before.sensors).toEqual({ ids: 3, rows: 3, activeKeys: 3 });
  });
});
