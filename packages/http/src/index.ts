export { errorHandler } from './error-handler.ts';
export { ErrorResponse, errorResponses } from './error-schema.ts';
export { healthRoutes, type ReadinessCheck } from './health.ts';
export { payloadTooLarge, readLimited } from './limited-body.ts';
export { requestContext, requestIdOf } from './request-context.ts';
