import { AppError } from '@sensormesh/errors';
import type Redis from 'ioredis';
import { clientIp } from '../access/client-ip.ts';
import type { RequestLimiter } from '../access/index.ts';
import { rateLimiter, rateLimitHeaders } from './limiter.ts';
import type { RatePolicies, RatePolicy } from './policy.ts';

export { type RateDecision, type RateLimiter, rateLimiter, rateLimitHeaders } from './limiter.ts';
export { parseRate, type RatePolicies, type RatePolicy, ratePolicies } from './policy.ts';

/**
 * Counts every request against its caller's quota, shared by all replicas through Redis: per API
 * key, per signed-in user (by role), else per client IP. Answers 429 RATE_LIMITED with Retry-After.
 */
export function requestLimiter(options: {
  redis: Redis;
  policies: RatePolicies;
  trustProxy: boolean;
}): RequestLimiter {
  const { policies, trustProxy } = options;
  const limiter = rateLimiter(options.redis);
  return async function limitRequest(principal, request, server) {
    let bucket: string;
    let policy: RatePolicy;
    if (principal.kind === 'apiKey') [bucket, policy] = [`key:${principal.keyId}`, policies.apiKey];
    else if (principal.kind === 'user')
      [bucket, policy] = [`user:${principal.userId}`, policies[principal.role]];
    else [bucket, policy] = [`ip:${clientIp(request, server, trustProxy)}`, policies.public];
    const decision = await limiter.take(bucket, policy).catch((error: unknown) => {
      throw new AppError('UNAVAILABLE', 'the rate limiter is unavailable', { cause: error });
    });
    const headers = rateLimitHeaders(decision);
    if (!decision.allowed) {
      throw new AppError(
        'RATE_LIMITED',
        `over the limit of ${policy.limit} requests per ${policy.windowS} s; retry in ${decision.retryAfterS} s`,
        {
          headers,
          details: { limit: policy.limit, windowS: policy.windowS, retryAfterS: decision.retryAfterS },
        },
      );
    }
    return headers;
  };
}
