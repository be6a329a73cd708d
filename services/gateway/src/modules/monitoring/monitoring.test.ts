import { afterAll, beforeAll, describe, expect, setSystemTime, test } from 'bun:test';
import { createPublisher, dlq, readings, streams } from '@sensormesh/bus';
import { healthRoutes } from '@sensormesh/http';
import { recordOrderEvents } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { professional } from '../orders/test-helpers.ts';
import type { MonitoringSnapshot } from './model.ts';

let gw: TestGateway;
afterAll(() => gw?.close());
const servers = useServers({ redis: true, clickhouse: true });
let admin: string;

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;

  // A readings stream with one group that has read 2 of 5 entries and acknowledged none.
  const publisher = createPublisher(gw.redis);
  const now = Date.now();
  await publisher.publishBatch(
    readings,
    [1, 2, 3, 4, 5].map((n) => ({
      sensorId: `s${n}`,
      ts: now,
      metrics: { pm25: n },
      receivedAt: now,
      source: 'http',
    })),
  );
  await gw.redis.xgroup('CREATE', readings.name, 'writer', '0');
  await gw.redis.xreadgroup('GROUP', 'writer', 'w1', 'COUNT', 2, 'STREAMS', readings.name, '>');
  for (const source of ['mqtt', 'mqtt', 'http']) {
    await publisher.publish(dlq, { source, reason: 'test', payload: '{}', at: now });
  }
  await recordOrderEvents(gw.store)(
    Array.from({ length: 7 }, (_, n) => ({
      orderId: `o${n}`,
      fromStatus: '' as const,
      toStatus: 'pending' as const,
      actorId: 'test',
      reason: 'test',
      at: now + n,
    })),
  );
});

describe('GET /admin/monitoring', () => {
  test('reports streams, group lag and pending, dead letters, ingest, tables and readiness', async () => {
    const response = await gw.call('GET', '/api/v1/admin/monitoring', { token: admin });
    expect(response.status).toBe(200);
    const body = response.json as MonitoringSnapshot;
    expect(body.ready).toBe(true);
    expect(body.readiness.redis.ok).toBe(true);
    expect(body.readiness.store.ok).toBe(true);

    const stream = body.streams.find((entry) => entry.stream === 'readings');
    expect(stream).toMatchObject({ length: 5, entriesAdded: 5, ingest: { lastMinute: 5, exact: true } });
    const writer = stream?.groups.find((group) => group.group === 'writer');
    expect(writer).toMatchObject({ declared: true, exists: true, consumers: 1, pending: 2, lag: 3 });
    const predictor = stream?.groups.find((group) => group.group === 'predictor');
    expect(predictor).toMatchObject({ exists: false, pending: 0, lag: 5 });
    // Every stream of the catalogue, existing in Redis or not.
    expect(body.streams.map((entry) => entry.stream).sort()).toEqual(
      Object.values(streams)
        .map((def) => def.name)
        .sort(),
    );

    expect(body.deadLetters).toEqual({ total: 3, sampled: 3, recentBySource: { mqtt: 2, http: 1 } });

    const tables = Object.fromEntries(body.tables.map((table) => [table.table, table]));
    expect(tables.order_events?.rows).toBe(7);
    expect(tables.order_events?.bytes).toBeGreaterThan(0);
    expect(tables.users?.rows).toBe(1);
    expect(tables.orders?.rows).toBe(0);
  });

  test('is for admins only', async () => {
    const pro = await professional(gw);
    expect((await gw.call('GET', '/api/v1/admin/monitoring', { token: pro.token })).status).toBe(403);
    expect((await gw.call('GET', '/api/v1/admin/monitoring')).status).toBe(401);
  });
});

describe('/metrics', () => {
  test('exposes the same figures as gauges, read at scrape time', async () => {
    const app = healthRoutes({ checks: {}, registry: gw.ctx.registry });
    const scrape = async () => (await app.handle(new Request('http://localhost/metrics'))).text();
    const text = await scrape();
    for (const line of [
      'sensormesh_stream_length{stream="readings"} 5',
      'sensormesh_group_lag{stream="readings",group="writer"} 3',
      'sensormesh_group_pending{stream="readings",group="writer"} 2',
      'sensormesh_group_consumers{stream="readings",group="writer"} 1',
      'sensormesh_dead_letters_total 3',
      'sensormesh_dead_letters_recent{source="mqtt"} 2',
      'sensormesh_table_rows{table="order_events"} 7',
      'sensormesh_dependency_up{dependency="store"} 1',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toMatch(/sensormesh_table_bytes\{table="order_events"\} [1-9]\d*/);

    // Acknowledging moves the figures on the next scrape (after the one-second snapshot cache).
    const reply = (await gw.redis.xreadgroup(
      'GROUP',
      'writer',
      'w1',
      'COUNT',
      3,
      'STREAMS',
      readings.name,
      '>',
    )) as [string, unknown[]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    expect(entries).toHaveLength(3);
    setSystemTime(new Date(Date.now() + 1_500)); // past the snapshot cache, without sleeping
    try {
      expect(await scrape()).toContain('sensormesh_group_pending{stream="readings",group="writer"} 5');
    } finally {
      setSystemTime();
    }
  });
});
