import { cors } from '@elysiajs/cors';
import { openapi } from '@elysiajs/openapi';
import { errorHandler, requestContext } from '@sensormesh/http';
import { sensorService } from '@sensormesh/registry';
import { Elysia } from 'elysia';
import type { GatewayContext } from './context.ts';
import type { GatewayDeps } from './deps.ts';
import { accessControl } from './modules/access/index.ts';
import { analyticsModule } from './modules/analytics/index.ts';
import { apiKeysModule } from './modules/api-keys/index.ts';
import { apiKeyService } from './modules/api-keys/service.ts';
import { authModule } from './modules/auth/index.ts';
import { authService } from './modules/auth/service.ts';
import { accessTokens } from './modules/auth/tokens.ts';
import { dashboardModule } from './modules/dashboard/index.ts';
import { dashboardPage, PAGE_PATHS } from './modules/dashboard/page.ts';
import { exportModule } from './modules/export/index.ts';
import { modelsAdminModule } from './modules/models-admin/index.ts';
import { monitoringModule } from './modules/monitoring/index.ts';
import { ordersModule } from './modules/orders/index.ts';
import { predictionsModule } from './modules/predictions/index.ts';
import { ratePolicies, requestLimiter } from './modules/rate-limit/index.ts';
import { bodyLimit } from './modules/security/body-limit.ts';
import { securityHeaders } from './modules/security/headers.ts';
import { sensorsModule } from './modules/sensors/index.ts';
import { streamModule } from './modules/stream/index.ts';
import { streamHub } from './modules/stream/service.ts';
import { usersModule } from './modules/users/index.ts';

export type { GatewayContext } from './context.ts';
export type { GatewayDeps } from './deps.ts';
export { type GatewayConfig, GatewayEnv } from './env.ts';
export { type ExportWorker, type ExportWorkerOptions, startExportWorker } from './modules/export/index.ts';
export { type OrderProcessorOptions, startOrderProcessor } from './modules/orders/processor.ts';
export { type FanoutOptions, type StreamFanout, startStreamFanout } from './modules/stream/fanout.ts';

/** Builds the gateway's shared services from the process's deps. */
export function gatewayContext(deps: GatewayDeps): GatewayContext {
  const tokens = accessTokens(
    { secret: deps.config.JWT_SECRET, alg: deps.config.JWT_ALG, accessTtlS: deps.config.ACCESS_TOKEN_TTL_S },
    deps.redis,
  );
  const auth = authService({
    store: deps.store,
    redis: deps.redis,
    logger: deps.logger,
    tokens,
    refreshTtlS: deps.config.REFRESH_TOKEN_TTL_S,
    throttle: {
      perAccount: deps.config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      perIp: deps.config.LOGIN_MAX_FAILURES_PER_IP,
      windowS: deps.config.LOGIN_THROTTLE_WINDOW_S,
    },
  });
  const limit = requestLimiter({
    redis: deps.redis,
    policies: ratePolicies(deps.config),
    trustProxy: deps.config.TRUST_PROXY,
  });
  const apiKeys = apiKeyService({ store: deps.store, redis: deps.redis, logger: deps.logger });
  const access = accessControl(
    { verifyAccessToken: tokens.verify, verifyApiKey: apiKeys.verifyApiKey },
    { limit },
  );
  const sensors = sensorService({ store: deps.store, redis: deps.redis, logger: deps.logger });
  const streams = streamHub({ ...deps, tokens, sensors });
  return { ...deps, tokens, auth, access, sensors, apiKeys, streams };
}

/** The public API under /api/v1, with OpenAPI at /docs; mounted by the mesh or run alone. */
export function gatewayPlugin(ctx: GatewayContext) {
  const origins = ctx.config.CORS_ORIGINS.split(',').map((origin) => origin.trim());
  // Unknown body fields are refused (422 naming them), not silently dropped: normalize is off.
  return new Elysia({ name: 'sensormesh.gateway', normalize: false })
    .use(requestContext(ctx.logger))
    .use(errorHandler(ctx.logger))
    .use(securityHeaders({ hstsMaxAgeS: ctx.config.HSTS_MAX_AGE_S, htmlPaths: ['/docs', ...PAGE_PATHS] }))
    .use(bodyLimit(ctx.config.BODY_LIMIT_BYTES))
    .use(
      cors({
        origin: origins.includes('*') ? true : origins,
        exposeHeaders: ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'],
      }),
    )
    .use(
      openapi({
        path: '/docs',
        specPath: '/docs/json',
        documentation: {
          info: { title: 'Sensormesh API', version: '1.0.0', description: 'Real-time sensor platform' },
          components: {
            securitySchemes: {
              bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT or API key' },
              apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
            },
          },
        },
      }),
    )
    .use(dashboardPage(ctx))
    .group('/api/v1', (api) =>
      api
        .use(authModule(ctx))
        .use(streamModule(ctx))
        .use(usersModule(ctx))
        .use(sensorsModule(ctx))
        .use(apiKeysModule(ctx))
        .use(ordersModule(ctx))
        .use(exportModule(ctx))
        .use(monitoringModule(ctx))
        .use(analyticsModule(ctx))
        .use(dashboardModule(ctx))
        .use(predictionsModule(ctx))
        .use(modelsAdminModule(ctx)),
    );
}

/** Start-up work that needs the store: the first admin account. */
export async function startGateway(ctx: GatewayContext): Promise<void> {
  await ctx.auth.ensureAdmin(ctx.config.ADMIN_EMAIL, ctx.config.ADMIN_PASSWORD);
}
