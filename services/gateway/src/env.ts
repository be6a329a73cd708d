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
});

/** Parsed gateway settings. */
export type GatewayConfig = typeof GatewayEnv.static;
