import { env } from '@sensormesh/config';

const SENSOR_MAP =
  '^\\s*[^=,\\s]+\\s*=\\s*[A-Za-z0-9][A-Za-z0-9._-]*\\s*(,\\s*[^=,\\s]+\\s*=\\s*[A-Za-z0-9][A-Za-z0-9._-]*\\s*)*$';

/** The vendor adapters' settings; spread into IngestEnv. A poller runs only when its key and sensors are set. */
export const adapterEnv = {
  SENSOR_COMMUNITY_OPEN_PUSH: env.bool({
    default: true,
    description: 'accept unauthenticated airRohr pushes from nodes enrolled by a sensor-community:<node> tag',
  }),
  SENSOR_COMMUNITY_PUSHES_PER_MIN: env.int({
    minimum: 1,
    maximum: 10_000,
    default: 12,
    description: 'unauthenticated pushes a node may make per minute',
  }),
  PURPLEAIR_API_KEY: env.optional(env.string({ description: 'PurpleAir READ key (X-API-Key)' })),
  PURPLEAIR_BASE_URL: env.url({ default: 'https://api.purpleair.com' }),
  PURPLEAIR_SENSORS: env.optional(
    env.string({ pattern: SENSOR_MAP, description: 'sensor_index=sensorId, … e.g. 131075=pa-mariners' }),
  ),
  PURPLEAIR_INTERVAL_S: env.int({ minimum: 1, maximum: 86_400, default: 120 }),
  OPENAQ_API_KEY: env.optional(env.string({ description: 'OpenAQ v3 API key (X-API-Key)' })),
  OPENAQ_BASE_URL: env.url({ default: 'https://api.openaq.org' }),
  OPENAQ_SENSORS: env.optional(
    env.string({
      pattern: SENSOR_MAP,
      description: 'openaqSensorId=sensorId, … (one OpenAQ sensor per parameter)',
    }),
  ),
  OPENAQ_INTERVAL_S: env.int({ minimum: 1, maximum: 86_400, default: 900 }),
  OPENAQ_LOOKBACK_H: env.int({
    minimum: 1,
    maximum: 8_760,
    default: 24,
    description: 'reach of a first poll',
  }),
  POLL_TIMEOUT_MS: env.int({ minimum: 100, maximum: 300_000, default: 30_000 }),
  POLL_BACKOFF_BASE_MS: env.int({ minimum: 1, maximum: 600_000, default: 1_000 }),
  POLL_BACKOFF_MAX_MS: env.int({ minimum: 1, maximum: 3_600_000, default: 300_000 }),
};
