import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { professional } from './test-helpers.ts';

// No processor runs in this file: approved orders stay approved, which is what these tests need.
let gw: TestGateway;
afterAll(() => gw?.close());
const servers = useServers({ redis: true, clickhouse: true });
let admin: string;
let pro: { token: string; id: string };

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  pro = await professional(gw);
});

const counts = async () => {
  const [orders] = await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM orders`);
  const [events] = await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM order_events`);
  return { orders: Number(orders?.n), events: Number(events?.n) };
};
const detailsOf = (response: { json: { error?: { details?: unknown } } }) =>
  JSON.stringify(response.json.error?.details);
const place = (token: string, body: unknown) => gw.call('POST', '/api/v1/orders', { token, body });

describe('validation: 4xx naming the field, nothing stored', () => {
  test.each([
    ['a model not offered', { items: [{ model: 'SM-X9', quantity: 1, site: 'A' }] }, 422, '/items/0/model'],
    [
      'over the professional limit',
      {
        items: [
          { model: 'SM-AQ1', quantity: 30, site: 'A' },
          { model: 'SM-AQ2', quantity: 21, site: 'B' },
        ],
      },
      422,
      '/items',
    ],
    ['no items', { items: [] }, 422, '/items'],
    ['missing items', { notes: 'x' }, 422, '/items'],
    [
      'an unknown top-level field',
      { items: [{ model: 'SM-AQ1', quantity: 1, site: 'A' }], priority: 'high' },
      422,
      'priority',
    ],
    [
      'an unknown item field',
      { items: [{ model: 'SM-AQ1', quantity: 1, site: 'A', colour: 'red' }] },
      422,
      'colour',
    ],
    ['a zero quantity', { items: [{ model: 'SM-AQ1', quantity: 0, site: 'A' }] }, 422, '/items/0/quantity'],
    [
      'a quantity that is not a number',
      { items: [{ model: 'SM-AQ1', quantity: 'two', site: 'A' }] },
      422,
      '/items/0/quantity',
    ],
    [
      'a site that is not a string',
      { items: [{ model: 'SM-AQ1', quantity: 1, site: 7 }] },
      422,
      '/items/0/site',
    ],
    ['an empty site', { items: [{ model: 'SM-AQ1', quantity: 1, site: '' }] }, 422, '/items/0/site'],
  ] as const)('%s', async (_name, body, status, field) => {
    const before = await counts();
    const response = await place(pro.token, body);
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe('VALIDATION_FAILED');
    expect(detailsOf(response)).toContain(field);
    expect(await counts()).toEqual(before);
  });

  test('malformed JSON answers 400 and stores nothing', async () => {
    const before = await counts();
    const response = await place(pro.token, '{"items": [{"model": "SM-AQ1",');
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('BAD_REQUEST');
    expect(await counts()).toEqual(before);
  });

  test('admins have the higher limit', async () => {
    const response = await place(admin, { items: [{ model: 'SM-AQ1', quantity: 60, site: 'Depot' }] });
    expect(response.status).toBe(201);
    expect(response.json.status).toBe('pending');
    const over = await place(admin, { items: [{ model: 'SM-AQ1', quantity: 1_001, site: 'Depot' }] });
    expect(over.status).toBe(422);
    expect(over.json.error.message).toContain('admin limit of 1000');
  });

  test('bad list filters and ids are refused naming the parameter', async () => {
    const bad = await gw.call('GET', '/api/v1/orders?from=yesterday', { token: pro.token });
    expect(bad.status).toBe(422);
    expect(detailsOf(bad)).toContain('/from');
    const status = await gw.call('GET', '/api/v1/orders?status=shipped', { token: pro.token });
    expect(status.status).toBe(422);
    const id = await gw.call('GET', '/api/v1/orders/not-a-uuid', { token: pro.token });
    expect(id.status).toBe(422);
    const missing = await gw.call('GET', `/api/v1/orders/${crypto.randomUUID()}`, { token: pro.token });
    expect(missing.status).toBe(404);
  });
});

describe('who may do what', () => {
  test('no credentials: 401 everywhere', async () => {
    const id = crypto.randomUUID();
    for (const [method, path] of [
      ['POST', '/api/v1/orders'],
      ['GET', '/api/v1/orders'],
      ['GET', `/api/v1/orders/${id}`],
      ['POST', `/api/v1/orders/${id}/cancel`],
      ['POST', `/api/v1/admin/orders/${id}/approve`],
      ['POST', `/api/v1/admin/orders/${id}/reject`],
    ] as const) {
      expect((await gw.call(method, path)).status).toBe(401);
    }
  });

  test('another professional gets 404 for the order, 403 on admin routes; admins see it', async () => {
    const owner = await professional(gw);
    const created = await place(owner.token, { items: [{ model: 'SM-AQ1', quantity: 12, site: 'A' }] });
    const id = created.json.id as string;
    expect((await gw.call('GET', `/api/v1/orders/${id}`, { token: pro.token })).status).toBe(404);
    expect((await gw.call('POST', `/api/v1/orders/${id}/cancel`, { token: pro.token })).status).toBe(404);
    expect((await gw.call('POST', `/api/v1/orders/${id}/device-keys`, { token: pro.token })).status).toBe(
      404,
    );
    expect((await gw.call('POST', `/api/v1/admin/orders/${id}/approve`, { token: owner.token })).status).toBe(
      403,
    );
    const reject = await gw.call('POST', `/api/v1/admin/orders/${id}/reject`, {
      token: pro.token,
      body: { reason: 'no' },
    });
    expect(reject.status).toBe(403);
    const list = await gw.call('GET', `/api/v1/orders?ownerId=${owner.id}`, { token: pro.token });
    expect(list.status).toBe(403);
    expect((await gw.call('GET', `/api/v1/orders/${id}`, { token: admin })).status).toBe(200);
    // Admins act on orders, but cancelling and key retrieval belong to the owner.
    expect((await gw.call('POST', `/api/v1/orders/${id}/cancel`, { token: admin })).status).toBe(403);
    expect((await gw.call('POST', `/api/v1/orders/${id}/device-keys`, { token: admin })).status).toBe(403);
    const [row] = await gw.store.query<{ status: string }>(
      sql`SELECT status FROM orders FINAL WHERE id = ${id}`,
    );
    expect(row?.status).toBe('pending');
  });

  test('a reject needs a reason', async () => {
    const created = await place(pro.token, { items: [{ model: 'SM-AQ1', quantity: 12, site: 'A' }] });
    const response = await gw.call('POST', `/api/v1/admin/orders/${created.json.id}/reject`, {
      token: admin,
      body: {},
    });
    expect(response.status).toBe(422);
    expect(detailsOf(response)).toContain('reason');
  });
});

describe('concurrent transitions', () => {
  test('approve, reject and cancel racing on one order: exactly one wins, the rest get 409', async () => {
    const created = await place(pro.token, { items: [{ model: 'SM-AQ1', quantity: 12, site: 'A' }] });
    const id = created.json.id as string;
    const results = await Promise.all([
      gw.call('POST', `/api/v1/admin/orders/${id}/approve`, { token: admin }),
      gw.call('POST', `/api/v1/admin/orders/${id}/reject`, { token: admin, body: { reason: 'race' } }),
      gw.call('POST', `/api/v1/orders/${id}/cancel`, { token: pro.token }),
      gw.call('POST', `/api/v1/admin/orders/${id}/approve`, { token: admin }),
    ]);
    const statuses = results.map((result) => result.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409]);
    const winner = results.find((result) => result.status === 200)?.json.status;
    const events = await gw.store.query<{ to_status: string }>(
      sql`SELECT to_status FROM order_events WHERE order_id = ${id} AND from_status = 'pending'`,
    );
    expect(events.map((event) => event.to_status)).toEqual([winner]);
  });
});
