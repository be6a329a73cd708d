import { afterAll, beforeAll } from 'bun:test';
import {
  type ClickHouseServer,
  type MosquittoServer,
  type RedisServer,
  startClickHouse,
  startMosquitto,
  startRedis,
} from './servers.ts';

export { freePort, MissingBinaryError, requireBinary, tempDir } from './process.ts';
export * from './servers.ts';

/** Which servers a test file needs. */
export interface ServerNeeds {
  redis?: boolean;
  clickhouse?: boolean;
  mosquitto?: boolean | { extraConfig: readonly string[] };
}

/** The servers a test file asked for; read them inside tests, after beforeAll ran. */
export interface Servers {
  readonly redis: RedisServer;
  readonly clickhouse: ClickHouseServer;
  readonly mosquitto: MosquittoServer;
}

/** Starts the servers a test file needs, in parallel, and stops them all. */
export async function startServers(
  needs: ServerNeeds,
): Promise<Partial<Servers> & { stop(): Promise<void> }> {
  const mosquittoConfig = typeof needs.mosquitto === 'object' ? needs.mosquitto.extraConfig : [];
  const started = await Promise.allSettled([
    needs.redis ? startRedis() : undefined,
    needs.clickhouse ? startClickHouse() : undefined,
    needs.mosquitto ? startMosquitto(mosquittoConfig) : undefined,
  ]);
  const [redis, clickhouse, mosquitto] = started.map((result) =>
    result.status === 'fulfilled' ? result.value : undefined,
  ) as [RedisServer | undefined, ClickHouseServer | undefined, MosquittoServer | undefined];
  const stop = async () => {
    await Promise.all([redis?.stop(), clickhouse?.stop(), mosquitto?.stop()]);
  };
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    await stop();
    throw failure.reason;
  }
  return { redis, clickhouse, mosquitto, stop };
}

/**
 * Starts servers once for the calling test file (beforeAll) and stops them after it (afterAll).
 * Accessing a server that was not asked for throws, so a test cannot silently run without it.
 */
export function useServers(needs: ServerNeeds): Servers {
  let handle: Awaited<ReturnType<typeof startServers>> | undefined;
  beforeAll(async () => {
    handle = await startServers(needs);
  }, 60_000);
  afterAll(async () => {
    await handle?.stop();
  }, 30_000);
  const get = <K extends keyof Servers>(key: K): Servers[K] => {
    const server = handle?.[key];
    if (!server)
      throw new Error(`testkit: ${key} was not started for this test file (useServers({ ${key}: true }))`);
    return server as Servers[K];
  };
  return {
    get redis() {
      return get('redis');
    },
    get clickhouse() {
      return get('clickhouse');
    },
    get mosquitto() {
      return get('mosquitto');
    },
  };
}
