// Bench child (scripts/bench-ingest.ts): the writer in a process of its own, as deployed, so its CPU
// time is measured apart from ingest's. Prints "ready" once it consumes; SIGTERM stops it cleanly.

import { parseEnv } from '@sensormesh/config';
import { silentLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { openStore } from '@sensormesh/store';
import Redis from 'ioredis';
import { WriterEnv } from '../env.ts';
import { startWriter } from '../writer.ts';

const { REDIS_URL = '', CLICKHOUSE_URL = '', DATABASE = '' } = process.env;
const store = await openStore({ clickhouseUrl: CLICKHOUSE_URL, database: DATABASE });
const redis = new Redis(REDIS_URL);
const writer = await startWriter({
  config: parseEnv(WriterEnv, process.env),
  store,
  redis,
  logger: silentLogger(),
  registry: createRegistry(),
});
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await writer.stop();
  redis.disconnect();
  await store.close();
  process.exit(0);
});
