import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from '@sensormesh/log';
import Redis from 'ioredis';

/** A redis-server this process started, with its data under DATA_DIR/redis. */
export interface ManagedRedis {
  url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Starts redis-server on a free loopback port with append-only persistence under `dataDir`, so
 * stream entries in flight survive a restart of the default mode.
 */
export async function startManagedRedis(options: {
  binary: string;
  dataDir: string;
  logger: Logger;
}): Promise<ManagedRedis> {
  const binary = Bun.which(options.binary, { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/local/sbin` });
  if (!binary) {
    throw new Error(
      `${options.binary} not found: set REDIS_URL to a running Redis 7, or install redis-server (apt-get install redis-server)`,
    );
  }
  const dir = resolve(options.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child = Bun.spawn(
    [
      binary,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--logfile',
      join(dir, 'redis.log'),
    ],
    { stdout: 'ignore', stderr: 'inherit' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (!(await answers(url))) {
    if (child.exitCode !== null)
      throw new Error(`redis-server exited with code ${child.exitCode}; see ${join(dir, 'redis.log')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer within 20 s; see ${join(dir, 'redis.log')}`);
    }
    await Bun.sleep(50);
  }
  options.logger.info({ url, dir, pid: child.pid }, 'started redis-server');
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM'); // redis-server flushes its append-only file and exits
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
      options.logger.info({ pid: child.pid }, 'stopped redis-server');
    },
  };
}
