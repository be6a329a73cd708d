import { afterAll } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { useServers } from '@sensormesh/testkit';
import { openStore } from '../index.ts';

/**
 * The two backends every store contract runs on. Each `open` gives a fresh, empty store: a new
 * database on the server, a new data dir for chDB (removed after the file's tests).
 */
export function storeBackends(servers: ReturnType<typeof useServers>, prefix: string) {
  const scratch: string[] = [];
  let databases = 0;
  afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));
  return [
    {
      name: 'clickhouse-server',
      open: () =>
        openStore({
          clickhouseUrl: servers.clickhouse.url,
          database: `${prefix}_${process.pid}_${++databases}`,
        }),
    },
    {
      name: 'chdb',
      open: async () => {
        const dir = await mkdtemp(join(tmpdir(), `sensormesh-${prefix}-`));
        scratch.push(dir);
        return openStore({ chdbPath: dir });
      },
    },
  ] as const;
}
