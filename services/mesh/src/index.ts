import { join, resolve } from 'node:path';
import { startTrimmer, streams } from '@sensormesh/bus';
import {
  gatewayContext,
  startExportWorker,
  startGateway,
  startOrderProcessor,
  startStreamFanout,
} from '@sensormesh/gateway';
import { ingestContext, startMqtt, startPollers } from '@sensormesh/ingest';
import { createLogger } from '@sensormesh/log';
import { createRegistry } from '@sensormesh/metrics';
import { startPredictor } from '@sensormesh/predictor';
import { MIGRATIONS_DIR, migrate, newestReading, openStore } from '@sensormesh/store';
import { startOutputWriter, startWriter } from '@sensormesh/writer';
import Redis from 'ioredis';
import { createMeshApp } from './app.ts';
import { withDefaultSecrets } from './default-secrets.ts';
import { startDemo } from './demo.ts';
import { loadGatewayEnv, loadIngestEnv, loadMeshEnv, loadPredictorEnv, loadWriterEnv } from './env.ts';
import { type ManagedRedis, startManagedRedis } from './managed-redis.ts';

const REPO_ROOT = resolve(import.meta.dir, '../../..');
const config = loadMeshEnv();
// Every service's settings are read before anything starts: a bad one stops the process here.
const writerConfig = loadWriterEnv();
const predictorConfig = loadPredictorEnv();
const ingestConfig = loadIngestEnv(config);
const logger = createLogger({ service: 'mesh', level: config.LOG_LEVEL });
const registry = createRegistry({ service: 'mesh' });
const cleanups: Array<() => Promise<unknown>> = [];

async function shutdown(reason: string, code: number): Promise<never> {
  logger.info({ reason }, 'shutting down');
  const timer = setTimeout(() => {
    logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out');
    process.exit(1);
  }, config.SHUTDOWN_TIMEOUT_MS);
  // Reverse start order: stop taking requests first, stop the redis-server we started last.
  for (const cleanup of cleanups.reverse()) {
    await cleanup().catch((error: unknown) => logger.error({ err: error }, 'cleanup failed'));
  }
  clearTimeout(timer);
  logger.info('stopped');
  process.exit(code);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130); // a second Ctrl-C does not wait
    stopping = true;
    void shutdown(signal, 0);
  });
}

try {
  let managed: ManagedRedis | undefined;
  if (!config.REDIS_URL) {
    managed = await startManagedRedis({ binary: config.REDIS_SERVER_BIN, dataDir: config.DATA_DIR, logger });
    cleanups.push(() => (managed as ManagedRedis).stop());
  }
  const redis = new Redis(config.REDIS_URL ?? (managed as ManagedRedis).url, { maxRetriesPerRequest: 3 });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  cleanups.push(() => redis.quit());

  cleanups.push(startTrimmer(redis, Object.values(streams), 60_000, logger));

  const store = await openStore({
    clickhouseUrl: config.CLICKHOUSE_URL,
    clickhouseUser: config.CLICKHOUSE_USER,
    clickhousePassword: config.CLICKHOUSE_PASSWORD,
    database: config.CLICKHOUSE_DATABASE,
    chdbPath: join(config.DATA_DIR, 'chdb'),
  });
  cleanups.push(() => store.close());
  const migrations = await migrate(store, MIGRATIONS_DIR, logger);
  logger.info({ backend: store.backend, version: await store.serverVersion(), ...migrations }, 'store ready');

  // Stopped before the store and Redis close (cleanups run in reverse), so its batch in hand finishes.
  const writer = await startWriter({ config: writerConfig, store, redis, logger, registry });
  cleanups.push(() => writer.stop());
  // The predictor's forecasts and anomalies into ClickHouse (the writer group on those streams).
  const outputs = await startOutputWriter({ config: writerConfig, store, redis, logger, registry });
  cleanups.push(() => outputs.stop());
  // Stopped before the output writer, so its last outputs are still stored.
  const predictor = await startPredictor({ config: predictorConfig, store, redis, logger, registry });
  cleanups.push(() => predictor.stop());

  const secrets = await withDefaultSecrets(config.DATA_DIR, process.env);
  // Export files live under DATA_DIR unless EXPORT_DIR says otherwise.
  const gatewayEnv = { EXPORT_DIR: join(config.DATA_DIR, 'exports'), ...secrets.env };
  const gateway = gatewayContext({ config: loadGatewayEnv(gatewayEnv), store, redis, logger, registry });
  await startGateway(gateway);
  const orderProcessor = await startOrderProcessor(gateway);
  cleanups.push(() => orderProcessor.stop());
  // Stopped before the store closes: a job in hand is interrupted and stays pending for the next start.
  const exportWorker = await startExportWorker(gateway);
  cleanups.push(() => exportWorker.stop());
  if (secrets.adminPasswordFile) {
    logger.info(
      { email: 'admin@sensormesh.local', passwordFile: secrets.adminPasswordFile },
      'default admin account',
    );
  }

  // The embedded MQTT broker (or a client of MQTT_URL); stopped before Redis closes, so the
  // messages in hand are acknowledged only once their readings are on the stream.
  const ingest = ingestContext({ config: ingestConfig, store, redis, logger, registry });
  const mqtt = await startMqtt(ingest);
  cleanups.push(() => mqtt.stop());
  // Vendor pollers run only where configured (API key and sensor map); none by default.
  const pollers = startPollers(ingest);
  cleanups.push(() => pollers.stop());

  if (config.DEMO) {
    // Stopped before the broker (cleanups run in reverse), so its last publishes are acknowledged.
    const demo = startDemo({
      sensors: ingest.sensors,
      dataDir: config.DATA_DIR,
      dataPath: resolve(REPO_ROOT, config.DEMO_DATA),
      speed: config.DEMO_SPEED,
      historyHours: config.DEMO_HISTORY_HOURS,
      newestStored: (sensorIds, from) =>
        newestReading(store)({ sensorIds, from, to: Date.now() + 3_600_000 }),
      mqttUrl: ingest.config.MQTT_URL ?? `mqtt://127.0.0.1:${ingest.config.MQTT_PORT}`,
      brokerReady: mqtt.ready,
      logger,
    });
    cleanups.push(() => demo.stop());
  }

  // The WebSocket fan-out reads before the app listens; its stop (closing every socket with 1001)
  // is pushed after the app's, so it runs first and no open socket keeps app.stop() waiting.
  const fanout = await startStreamFanout(gateway);
  const app = createMeshApp({
    logger,
    registry,
    gateway,
    ingest,
    predictor,
    checks: {
      redis: async () => (await redis.ping()) === 'PONG',
      store: () => store.ping(),
      writer: writer.check,
      outputs: outputs.check,
      predictor: predictor.check,
    },
  }).listen({ port: config.PORT, hostname: config.HOST, idleTimeout: 30 });
  cleanups.push(() => app.stop());
  cleanups.push(() => fanout.stop());
  logger.info({ url: `http://localhost:${config.PORT}`, host: config.HOST }, 'mesh listening');
} catch (error) {
  logger.fatal({ err: error }, 'start-up failed');
  await shutdown('start-up failed', 1);
}
