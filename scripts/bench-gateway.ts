/**
 * Gateway throughput beside a bare Bun.serve "hello", in one run: requests/s and p99 latency for an
 * authenticated GET /api/v1/sensors and for POST /api/v1/auth/refresh (rotating tokens), under
 * autocannon on loopback. Starts its own redis-server and clickhouse-server; bounded to
 * BENCH_DURATION_S (default 10) seconds per target at BENCH_CONNECTIONS (default 50) connections.
 */
import { join } from 'node:path';
import { parseEnv } from '@sensormesh/config';
import { GatewayEnv, gatewayContext, gatewayPlugin, startGateway } from '@sensormesh/gateway';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { MIGRATIONS_DIR, migrate, openStore } from '@sensormesh/store';
import { startClickHouse, startRedis } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { writeReport } from './bench-report.ts';
import type { LoadFigures, LoadSpec } from './lib/load.ts';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARM_UP_S = 2;
const SENSORS = 25;
const ADMIN = { email: 'bench@example.org', password: 'loopback-load-7319' };
// Unbounded for the bench: the limiter still runs (one EVALSHA per request), it just never refuses.
const NO_LIMIT = '1000000000/1';

/** Runs one load target in a child process (see scripts/lib/load.ts) and returns its figures. */
async function load(spec: LoadSpec): Promise<LoadFigures> {
  const child = Bun.spawn(['bun', join(import.meta.dir, 'lib', 'load.ts'), JSON.stringify(spec)], {
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const [output, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  if (code !== 0) throw new Error(`load generator exited ${code}`);
  return JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as LoadFigures;
}

type Target = Omit<LoadSpec, 'connections' | 'durationS'>;

/** A short unmeasured run first (its own target: refresh tokens serve one run), so every target is measured warm. */
async function measure(target: Target, warmUp: Target = target): Promise<LoadFigures> {
  await load({ ...warmUp, connections: CONNECTIONS, durationS: WARM_UP_S });
  return load({ ...target, connections: CONNECTIONS, durationS: DURATION_S });
}

/** Signs in `count` times, a few at a time (Bun.password verifies off the main thread). */
async function refreshTokenPool(base: string, count: number): Promise<string[]> {
  const pool: string[] = [];
  while (pool.length < count) {
    const batch = Array.from({ length: Math.min(8, count - pool.length) }, () =>
      post(`${base}/auth/login`, ADMIN),
    );
    for (const session of await Promise.all(batch)) pool.push(session.refreshToken);
  }
  return pool;
}

/** What the bench reads from sign-in answers. */
interface Session {
  accessToken: string;
  refreshToken: string;
}

async function post(url: string, body: unknown, token?: string): Promise<Session> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Session;
}

const [redisServer, clickhouse] = await Promise.all([startRedis(), startClickHouse()]);
const redis = new Redis(redisServer.url);
const store = await openStore({ clickhouseUrl: clickhouse.url, database: 'bench_gateway' });
const hello = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('hello') });
let gateway: ReturnType<ReturnType<typeof gatewayPlugin>['listen']> | undefined;
try {
  await migrate(store, MIGRATIONS_DIR);
  const config = parseEnv(GatewayEnv, {
    JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    RATE_LIMIT_PUBLIC: NO_LIMIT,
    RATE_LIMIT_PROFESSIONAL: NO_LIMIT,
    RATE_LIMIT_ADMIN: NO_LIMIT,
    RATE_LIMIT_API_KEY: NO_LIMIT,
  });
  const ctx = gatewayContext({ config, store, redis, logger: silentLogger(), registry: createRegistry() });
  await startGateway(ctx);
  gateway = gatewayPlugin(ctx).listen({ port: 0, hostname: '127.0.0.1', idleTimeout: 30 });
  const base = `http://127.0.0.1:${gateway.server?.port}/api/v1`;

  const session = await post(`${base}/auth/login`, ADMIN);
  const token = session.accessToken;
  for (let i = 0; i < SENSORS; i++) {
    await post(
      `${base}/admin/sensors`,
      {
        name: `Bench ${i}`,
        kind: 'air-quality',
        latitude: 39.9 + i / 100,
        longitude: 116.4,
        status: 'active',
      },
      token,
    );
  }
  // One refresh token per connection plus spares, for each run; a request rotates one and returns the new one.
  const refresh = async (): Promise<Target> => ({
    url: `${base}/auth/refresh`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    refreshTokens: await refreshTokenPool(base, CONNECTIONS + 10),
  });
  const [refreshWarmUp, refreshMeasured] = [await refresh(), await refresh()];

  console.log(
    `gateway bench: ${CONNECTIONS} connections, ${DURATION_S} s per target (after ${WARM_UP_S} s warm-up), loopback, autocannon in its own process`,
  );
  const targets: Record<string, LoadFigures> = {};
  targets['bare Bun.serve hello'] = await measure({ url: `http://127.0.0.1:${hello.port}/` });
  targets['GET /api/v1/sensors (bearer)'] = await measure({
    url: `${base}/sensors`,
    headers: { authorization: `Bearer ${token}` },
  });
  targets['POST /api/v1/auth/refresh'] = await measure(refreshMeasured, refreshWarmUp);

  const bare = targets['bare Bun.serve hello'] as LoadFigures;
  const rows = Object.entries(targets).map(([target, figures]) => ({
    target,
    'req/s': figures.requestsPerSecond,
    'p50 ms': figures.p50Ms,
    'p99 ms': figures.p99Ms,
    'req/s vs hello': Number((figures.requestsPerSecond / bare.requestsPerSecond).toFixed(3)),
    // autocannon reports whole milliseconds; a 0 ms p99 would divide by zero.
    'p99 vs hello': Number((figures.p99Ms / Math.max(1, bare.p99Ms)).toFixed(1)),
    'non-2xx': figures.non2xx,
    errors: figures.errors + figures.timeouts,
  }));
  console.table(rows);
  const file = await writeReport('gateway', {
    connections: CONNECTIONS,
    durationS: DURATION_S,
    warmUpS: WARM_UP_S,
    sensors: SENSORS,
    loadGenerator: 'autocannon 8 (separate process)',
    clickhouseVersion: await store.serverVersion(),
    targets,
    ratios: Object.fromEntries(
      rows.map((row) => [row.target, { requestsPerSecond: row['req/s vs hello'], p99: row['p99 vs hello'] }]),
    ),
  });
  console.log(`report: ${file}`);
} finally {
  await gateway?.stop();
  await hello.stop(true);
  await store.close();
  redis.disconnect();
  await Promise.all([redisServer.stop(), clickhouse.stop()]);
}
