import { parseEnv } from '@sensormesh/config';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { MIGRATIONS_DIR, migrate, openStore } from '@sensormesh/store';
import Redis from 'ioredis';
import type { GatewayContext } from '../context.ts';
import { type GatewayConfig, GatewayEnv } from '../env.ts';
import { gatewayContext, gatewayPlugin, startGateway } from '../plugin.ts';

export const ADMIN = { email: 'root@example.org', password: 'admin-pass-0123456789' };
export const SECRET = 'test-secret-0123456789-0123456789-abcdef';

let databases = 0;

/**
 * A gateway on real Redis and ClickHouse (a fresh database each time, unless `options.database`
 * names one to share, as replicas do), driven with app.handle. `options.chdbPath` puts the store on
 * embedded chDB in that directory instead of the server.
 */
export async function testGateway(
  servers: { redisUrl: string; clickhouseUrl: string },
  overrides: Record<string, string> = {},
  options: { database?: string; chdbPath?: string } = {},
) {
  const config: GatewayConfig = parseEnv(GatewayEnv, {
    JWT_SECRET: SECRET,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    // app.handle has no peer address, so every anonymous test request shares one IP bucket: tests
    // that are not about rate limits get room to spare.
    RATE_LIMIT_PUBLIC: '100000/60',
    RATE_LIMIT_PROFESSIONAL: '100000/60',
    RATE_LIMIT_ADMIN: '100000/60',
    RATE_LIMIT_API_KEY: '100000/60',
    ...overrides,
  });
  const database = options.database ?? `gw_${process.pid}_${++databases}`;
  const store = await openStore(
    options.chdbPath
      ? { chdbPath: options.chdbPath, database }
      : { clickhouseUrl: servers.clickhouseUrl, database },
  );
  await migrate(store, MIGRATIONS_DIR);
  const redis = new Redis(servers.redisUrl);
  await redis.flushall();
  const ctx: GatewayContext = gatewayContext({
    config,
    store,
    redis,
    logger: silentLogger(),
    registry: createRegistry(),
  });
  await startGateway(ctx);
  const app = gatewayPlugin(ctx);

  /** Sends a request to the app; `body` objects go as JSON. */
  async function call(
    method: string,
    path: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    const response = await app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely, field by field
    return { status: response.status, headers: response.headers, text, json: json as Record<string, any> };
  }

  /** Signs in and returns the token pair. */
  async function login(email: string, password: string) {
    const response = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    if (response.status !== 200) throw new Error(`login failed: ${response.status} ${response.text}`);
    return response.json as { accessToken: string; refreshToken: string; user: { id: string } };
  }

  return {
    app,
    ctx,
    database,
    store,
    redis,
    call,
    login,
    async close() {
      await store.close();
      redis.disconnect();
    },
  };
}

/** The gateway a test file drives. */
export type TestGateway = Awaited<ReturnType<typeof testGateway>>;
