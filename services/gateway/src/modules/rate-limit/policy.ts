import type { GatewayConfig } from '../../env.ts';

/** A quota: `limit` requests per `windowS` seconds. */
export interface RatePolicy {
  limit: number;
  windowS: number;
}

/** Parses "N/S" (N requests per S seconds); env.ts has already checked the shape. */
export function parseRate(text: string): RatePolicy {
  const match = /^([1-9][0-9]*)\/([1-9][0-9]*)$/.exec(text.trim());
  if (!match) throw new Error(`rate limit "${text}" is not "requests/seconds", e.g. "600/60"`);
  return { limit: Number(match[1]), windowS: Number(match[2]) };
}

/** Which caller kinds get which quota. */
export interface RatePolicies {
  /** Per client IP, for callers without credentials. */
  public: RatePolicy;
  /** Per user, signed in with an access token. */
  professional: RatePolicy;
  admin: RatePolicy;
  /** Per API key. */
  apiKey: RatePolicy;
}

/** The quotas from the gateway's settings, parsed once at start-up. */
export function ratePolicies(config: GatewayConfig): RatePolicies {
  return {
    public: parseRate(config.RATE_LIMIT_PUBLIC),
    professional: parseRate(config.RATE_LIMIT_PROFESSIONAL),
    admin: parseRate(config.RATE_LIMIT_ADMIN),
    apiKey: parseRate(config.RATE_LIMIT_API_KEY),
  };
}
