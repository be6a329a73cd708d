import { defineEnv, env, loadEnv } from '@sensormesh/config';
import { GatewayEnv } from '@sensormesh/gateway';
import { IngestEnv, LEAVE_WRAP_UP_MS } from '@sensormesh/ingest';
import { LOG_LEVELS } from '@sensormesh/log';
import { PredictorEnv } from '@sensormesh/predictor';
import { WriterEnv } from '@sensormesh/writer';

/** The all-in-one process's environment; every variable is optional, defaults are the embedded mode. */
export const MeshEnv = defineEnv({
  PORT: env.port({ default: 8000 }),
  HOST: env.string({ default: '0.0.0.0' }),
  DATA_DIR: env.string({ default: '.data', description: 'chDB data and the managed redis-server live here' }),
  REDIS_URL: env.optional(env.url({ description: 'unset: start a redis-server with data under DATA_DIR' })),
  REDIS_SERVER_BIN: env.string({ default: 'redis-server' }),
  CLICKHOUSE_URL: env.optional(env.url({ description: 'unset: embedded chDB under DATA_DIR/chdb' })),
  CLICKHOUSE_USER: env.string({ default: 'default' }),
  CLICKHOUSE_PASSWORD: env.optional(env.string()),
  CLICKHOUSE_DATABASE: env.string({ default: 'sensormesh' }),
  LOG_LEVEL: env.oneOf(LOG_LEVELS, { default: 'info' }),
  SHUTDOWN_TIMEOUT_MS: env.int({ minimum: 100, maximum: 120_000, default: 10_000 }),
  DEMO: env.bool({
    default: true,
    description: 'seed the 12 Beijing demo sensors and replay their data over MQTT; false: neither',
  }),
  DEMO_SPEED: env.number({
    minimum: 1,
    maximum: 3_600_000,
    default: 1_200,
    description: 'data time per wall time: 1200 = one data hour every 3 s',
  }),
  DEMO_HISTORY_HOURS: env.int({
    minimum: 0,
    maximum: 96,
    default: 80,
    description:
      'past hours filled with real hourly data before the live replay (not twice: stored hours are skipped), ' +
      'so charts have history and forecasts (72 h windows) come at once; 0: none',
  }),
  DEMO_DATA: env.string({
    default: '../shared/data/beijing/train',
    description: 'the Beijing station files; a relative path is from the repo root',
  }),
});

/** Parses the environment once; exits naming every bad variable. */
export const loadMeshEnv = () => loadEnv(MeshEnv);

/** The gateway's settings, parsed from the environment with the default mode's secrets filled in. */
export const loadGatewayEnv = (env: Record<string, string | undefined>) => loadEnv(GatewayEnv, env);

/** The writer's settings (batching, consumer name, retry bounds), parsed once at start-up. */
export const loadWriterEnv = () => loadEnv(WriterEnv);

/**
 * Ingest's settings (MQTT broker or client, validation limits, pipeline batching), parsed once at
 * start-up. A leave (MQTT_ON_STOP=leave), with its wrap-up if it fails, must fit inside the mesh's
 * shutdown: cut off by the shutdown timer after it unsubscribed, it would leave what is still queued
 * in a session nobody resumes.
 */
export const loadIngestEnv = (mesh: { SHUTDOWN_TIMEOUT_MS: number }) =>
  loadEnv(IngestEnv, process.env, (ingest) =>
    ingest.MQTT_URL &&
    ingest.MQTT_ON_STOP === 'leave' &&
    ingest.MQTT_LEAVE_TIMEOUT_MS + LEAVE_WRAP_UP_MS > mesh.SHUTDOWN_TIMEOUT_MS
      ? [
          {
            variable: 'MQTT_LEAVE_TIMEOUT_MS',
            message:
              `must be at most SHUTDOWN_TIMEOUT_MS − ${LEAVE_WRAP_UP_MS} ms ` +
              `(${mesh.SHUTDOWN_TIMEOUT_MS - LEAVE_WRAP_UP_MS}) with MQTT_ON_STOP=leave`,
          },
        ]
      : [],
  );

/** The predictor's settings (consumer name, grace, sweep and model polling), parsed once at start-up. */
export const loadPredictorEnv = () => loadEnv(PredictorEnv);
