import { STANDARD_IDS } from '@sensormesh/aqi';
import { defineEnv, env } from '@sensormesh/config';

const RATE = '^[1-9][0-9]*/[1-9][0-9]*$';

/** The gateway's settings; the mesh and the standalone entry both parse them once at start-up. */
export const GatewayEnv = defineEnv({
  JWT_SECRET: env.string({ minLength: 32, description: 'HS256 signing key, at least 32 characters' }),
  JWT_ALG: env.oneOf(['HS256'] as const, { default: 'HS256' }),
  ACCESS_TOKEN_TTL_S: env.int({ minimum: 60, maximum: 86_400, default: 900 }),
  REFRESH_TOKEN_TTL_S: env.int({ minimum: 3_600, maximum: 90 * 86_400, default: 30 * 86_400 }),
  ADMIN_EMAIL: env.optional(env.string()),
  ADMIN_PASSWORD: env.optional(env.string({ minLength: 12 })),
  SELF_REGISTRATION: env.bool({ default: true }),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: env.int({ minimum: 1, default: 5 }),
  LOGIN_MAX_FAILURES_PER_IP: env.int({ minimum: 1, default: 20 }),
  LOGIN_THROTTLE_WINDOW_S: env.int({ minimum: 1, default: 900 }),
  RATE_LIMIT_PUBLIC: env.string({ default: '120/60', pattern: RATE, description: 'requests/seconds per IP' }),
  RATE_LIMIT_PROFESSIONAL: env.string({
    default: '600/60',
    pattern: RATE,
    description: 'requests/seconds per user',
  }),
  RATE_LIMIT_ADMIN: env.string({
    default: '1200/60',
    pattern: RATE,
    description: 'requests/seconds per user',
  }),
  RATE_LIMIT_API_KEY: env.string({
    default: '600/60',
    pattern: RATE,
    description: 'requests/seconds per API key',
  }),
  TRUST_PROXY: env.bool({ default: false, description: 'take the client IP from X-Forwarded-For' }),
  CORS_ORIGINS: env.string({ default: '*', description: 'comma-separated origins, or *' }),
  BODY_LIMIT_BYTES: env.int({ minimum: 1_024, maximum: 64 * 1_048_576, default: 1_048_576 }),
  HSTS_MAX_AGE_S: env.int({
    minimum: 0,
    default: 0,
    description: 'Strict-Transport-Security max-age; 0 (default) sends none: set it only behind HTTPS',
  }),
  STREAM_MAX_CONNECTIONS_PER_IP: env.int({
    minimum: 1,
    default: 100,
    description: 'open WebSocket streams per client IP; more are closed with 4029',
  }),
  STREAM_MAX_SUBSCRIPTIONS: env.int({ minimum: 1, maximum: 1_000, default: 20, description: 'per socket' }),
  STREAM_BUFFER_BYTES: env.int({
    minimum: 16_384,
    // Bun drops (silently) what passes its 16 MiB per-socket backpressureLimit: stay well below it.
    maximum: 8 * 1_048_576,
    default: 1_048_576,
    description: 'bytes queued for one socket before it is closed with 4008 (too slow)',
  }),
  STREAM_HEARTBEAT_MS: env.int({
    minimum: 100,
    maximum: 300_000,
    default: 30_000,
    description: 'ping interval; a socket silent for two intervals is dropped',
  }),
  STREAM_SENSOR_REFRESH_MS: env.int({
    minimum: 1_000,
    default: 30_000,
    description: 'how often tag and bounding-box filters pick up registry changes',
  }),
  STREAM_REPLAY_MAX_AGE_S: env.int({
    minimum: 60,
    default: 7 * 86_400,
    description: 'the oldest resume cursor a client may replay from',
  }),
  ORDER_ALLOWED_MODELS: env.string({
    default: 'SM-AQ1,SM-AQ2,SM-IND1',
    description: 'comma-separated sensor models',
  }),
  ORDER_MAX_QUANTITY_PROFESSIONAL: env.int({ minimum: 1, default: 50 }),
  ORDER_MAX_QUANTITY_ADMIN: env.int({ minimum: 1, default: 1_000 }),
  ORDER_APPROVAL_THRESHOLD: env.int({
    minimum: 0,
    default: 10,
    description: 'orders above this many sensors need an admin',
  }),
  ANALYTICS_MAX_RANGE_DAYS: env.int({
    minimum: 1,
    maximum: 3_660,
    default: 366,
    description: 'the longest range one analytics request may cover',
  }),
  ANALYTICS_MAX_BUCKETS: env.int({
    minimum: 10,
    maximum: 1_000_000,
    default: 10_000,
    description: 'time buckets per series in one analytics answer',
  }),
  ANALYTICS_MAX_SENSORS: env.int({ minimum: 1, maximum: 1_000, default: 100, description: 'per request' }),
  ANALYTICS_MAX_POINTS: env.int({
    minimum: 100,
    maximum: 10_000_000,
    default: 500_000,
    description: 'buckets × series in one analytics answer',
  }),
  AQI_STANDARD: env.oneOf(STANDARD_IDS, {
    default: 'us-epa',
    description: 'the index on the realtime dashboard: us-epa, eu-caqi or in-naqi',
  }),
  DASHBOARD_STALE_AFTER_S: env.int({
    minimum: 1,
    maximum: 7 * 86_400,
    default: 900,
    description: 'a sensor silent for longer than this is stale',
  }),
  DASHBOARD_OFFLINE_AFTER_S: env.int({
    minimum: 2,
    maximum: 30 * 86_400,
    default: 3_600,
    description: 'a sensor silent for longer than this is offline; must exceed DASHBOARD_STALE_AFTER_S',
  }),
  DASHBOARD_HOURLY_CACHE_S: env.int({
    minimum: 1,
    maximum: 300,
    default: 15,
    description: 'how long hourly means (for NowCast and other averages) are reused before a new query',
  }),
  EXPORT_DIR: env.string({
    default: '.data/exports',
    description: 'where export jobs keep their files; shared by every gateway replica that serves downloads',
  }),
  EXPORT_LINK_SECRET: env.optional(
    env.string({ minLength: 32, description: 'HMAC key of download links; unset: derived from JWT_SECRET' }),
  ),
  EXPORT_LINK_TTL_S: env.int({ minimum: 60, maximum: 7 * 86_400, default: 3_600 }),
  EXPORT_RETENTION_S: env.int({
    minimum: 300,
    maximum: 30 * 86_400,
    default: 86_400,
    description: 'how long a finished export file is kept',
  }),
  EXPORT_STREAM_MAX_ROWS: env.int({
    minimum: 0,
    default: 1_000_000,
    description: 'exports of at most this many rows stream straight back; larger ones become jobs',
  }),
  EXPORT_MAX_ROWS: env.int({ minimum: 1, default: 200_000_000, description: 'larger exports are refused' }),
  EXPORT_XLSX_MAX_ROWS: env.int({
    minimum: 1,
    maximum: 10_485_750,
    default: 3_145_725,
    description: 'XLSX rows (split into sheets of 1,048,575)',
  }),
  EXPORT_WIDE_MAX_ROWS: env.int({
    minimum: 1,
    default: 20_000_000,
    description: 'stored readings a wide (pivoted) export may read; the engine groups them in memory',
  }),
  EXPORT_MAX_RANGE_DAYS: env.int({ minimum: 1, maximum: 36_500, default: 3_660 }),
  EXPORT_MAX_CONCURRENT_STREAMS: env.int({
    minimum: 1,
    maximum: 1_000,
    default: 8,
    description: 'direct (non-job) exports streaming at once in this process; more get 429',
  }),
  EXPORT_WORKER_CONCURRENCY: env.int({
    minimum: 1,
    maximum: 32,
    default: 1,
    description: 'jobs run at once',
  }),
});

/** Parsed gateway settings. */
export type GatewayConfig = typeof GatewayEnv.static;
