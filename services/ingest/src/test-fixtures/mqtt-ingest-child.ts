// Child process for the SIGKILL test: ingest in MQTT client mode against the test servers. Prints
// "ready" once subscribed; the parent kills it with SIGKILL mid-stream and starts another.

import { startMqtt } from '../modules/mqtt/index.ts';
import { mqttTestContext } from '../modules/mqtt/test-support.ts';

const { REDIS_URL = '', CLICKHOUSE_URL = '', DATABASE = '' } = process.env;
const ctx = await mqttTestContext({
  redisUrl: REDIS_URL,
  clickhouseUrl: CLICKHOUSE_URL,
  database: DATABASE,
  env: process.env,
  migrate: false,
});
const mqtt = await startMqtt(ctx);
await mqtt.ready;
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await mqtt.stop();
  await ctx.close();
  process.exit(0);
});
