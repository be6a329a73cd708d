import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import type { RatePolicy } from './policy.ts';

/**
 * GCRA (generic cell rate algorithm) in one atomic step, timed by Redis's own clock so every gateway
 * replica agrees on "now". KEYS[1] holds the bucket's theoretical arrival time (TAT) in µs.
 * ARGV: emission interval in µs (window / limit), limit. Returns {allowed 1|0, remaining,
 * µs until the quota is full again, µs until the next request fits}.
 */
const GCRA_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local capacity = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
local allow_at = next_tat - capacity
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
-- The key lives exactly as long as it carries state: once TAT has passed, the bucket is full.
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), next_tat - now, 0}
`;
const GCRA_SHA = createHash('sha1').update(GCRA_LUA).digest('hex');

/** The outcome of counting one request. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  windowS: number;
  /** Requests still allowed right now. */
  remaining: number;
  /** Seconds until the whole quota is available again. */
  resetS: number;
  /** Seconds until a refused caller may try again (0 when allowed). */
  retryAfterS: number;
}

/** Counts requests against GCRA buckets in Redis; one EVALSHA per request. */
export function rateLimiter(redis: Redis, prefix = 'ratelimit') {
  async function run(key: string, intervalUs: number, limit: number): Promise<number[]> {
    try {
      return (await redis.evalsha(GCRA_SHA, 1, key, intervalUs, limit)) as number[];
    } catch (error) {
      // A fresh or restarted Redis has no script cache; EVAL loads it for the next EVALSHA.
      if (!String(error).includes('NOSCRIPT')) throw error;
      return (await redis.eval(GCRA_LUA, 1, key, intervalUs, limit)) as number[];
    }
  }

  return {
    /** Takes one request from `bucket`'s quota under `policy`. */
    async take(bucket: string, policy: RatePolicy): Promise<RateDecision> {
      // A whole-µs interval (rounded up) keeps a burst of exactly `limit` requests admissible.
      const intervalUs = Math.ceil((policy.windowS * 1_000_000) / policy.limit);
      const [allowed, remaining, resetUs, retryUs] = await run(
        `${prefix}:${bucket}`,
        intervalUs,
        policy.limit,
      );
      return {
        allowed: allowed === 1,
        limit: policy.limit,
        windowS: policy.windowS,
        remaining: remaining ?? 0,
        resetS: Math.ceil((resetUs ?? 0) / 1_000_000),
        retryAfterS: allowed === 1 ? 0 : Math.max(1, Math.ceil((retryUs ?? 0) / 1_000_000)),
      };
    },
  };
}

/** The Redis-backed limiter. */
export type RateLimiter = ReturnType<typeof rateLimiter>;

/**
 * The IETF rate-limit headers, draft-ietf-httpapi-ratelimit-headers-07: `RateLimit-Policy: 600;w=60`
 * and `RateLimit: limit=600, remaining=599, reset=60`.
 */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  const headers: Record<string, string> = {
    'ratelimit-policy': `${decision.limit};w=${decision.windowS}`,
    ratelimit: `limit=${decision.limit}, remaining=${decision.remaining}, reset=${decision.resetS}`,
  };
  if (!decision.allowed) headers['retry-after'] = String(decision.retryAfterS);
  return headers;
}
