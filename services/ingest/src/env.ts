import { defineEnv, env } from '@sensormesh/config';
import { adapterEnv } from './modules/adapters/env.ts';

/** The ingest service's settings. */
export const IngestEnv = defineEnv({
  MQTT_URL: env.optional(env.url({ description: 'an external broker (Mosquitto); unset: embedded broker' })),
  MQTT_USERNAME: env.optional(env.string()),
  MQTT_PASSWORD: env.optional(env.string()),
  MQTT_CLIENT_ID: env.string({
    default: 'sensormesh-ingest',
    // A topic level too: a leaving replica sends itself a marker on ingest/drain/{MQTT_CLIENT_ID}.
    pattern: '^[^+#/\\s]+$',
    description: 'stable: the broker keeps its session (no +, #, / or spaces)',
  }),
  MQTT_SHARE_GROUP: env.string({ default: 'ingest', description: '$share group replicas split the load in' }),
  MQTT_ON_STOP: env.oneOf(['keep', 'leave'], {
    default: 'keep',
    description:
      'keep: the broker holds our session and our share of the readings until we return (a restart); ' +
      'leave: unsubscribe, take what is queued for us and end the session (a replica removed for good)',
  }),
  MQTT_LEAVE_TIMEOUT_MS: env.int({
    minimum: 1_000,
    maximum: 600_000,
    // The mesh's SHUTDOWN_TIMEOUT_MS (10 s) must outlast it plus LEAVE_WRAP_UP_MS: checked at start.
    default: 5_000,
    description: 'longest a leave may take to drain; past it the session is kept, so nothing is lost',
  }),
  MQTT_PORT: env.port({ default: 1883, description: 'port of the embedded broker' }),
  MQTT_HOST: env.string({ default: '0.0.0.0' }),
  INGEST_MAX_BATCH: env.int({
    minimum: 1,
    maximum: 10_000,
    default: 500,
    description: 'readings per HTTP request',
  }),
  INGEST_MAX_PAYLOAD_BYTES: env.int({ minimum: 256, maximum: 16_777_216, default: 1_048_576 }),
  INGEST_RETENTION_DAYS: env.int({ minimum: 1, maximum: 36_500, default: 1_825 }),
  INGEST_MAX_AHEAD_MS: env.int({ minimum: 0, maximum: 3_600_000, default: 300_000 }),
  INGEST_FLUSH_MAX: env.int({
    minimum: 1,
    maximum: 10_000,
    default: 1_000,
    description: 'stream writes per pipeline',
  }),
  INGEST_FLUSH_MS: env.int({
    minimum: 0,
    maximum: 1_000,
    default: 2,
    description: 'longest wait before a pipeline flush',
  }),
  ...adapterEnv,
});

/** Parsed ingest settings. */
export type IngestConfig = typeof IngestEnv.static;
