export { errorHandler } from './error-handler.ts';
export { ErrorResponse, errorResponses } from './error-schema.ts';
export { healthRoutes, type ReadinessCheck } from './health.ts';
export { requestContext, requestIdOf } from './request-context.ts';
