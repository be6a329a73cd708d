import { AppError } from '@sensormesh/errors';
import type Redis from 'ioredis';

/** Limits on failed logins per account and per IP within a window. */
export interface ThrottleLimits {
  perAccount: number;
  perIp: number;
  windowS: number;
}

const accountKey = (email: string) => `auth:login-failures:account:${email}`;
const ipKey = (ip: string) => `auth:login-failures:ip:${ip}`;

/** Login throttling against brute force, in Redis so every gateway replica counts together. */
export function loginThrottle(redis: Redis, limits: ThrottleLimits) {
  return {
    /** Throws RATE_LIMITED (with the seconds to wait) when either counter is at its limit. */
    async check(email: string, ip: string): Promise<void> {
      const reply = await redis
        .multi()
        .get(accountKey(email))
        .pttl(accountKey(email))
        .get(ipKey(ip))
        .pttl(ipKey(ip))
        .exec();
      const value = (index: number) => Number(reply?.[index]?.[1] ?? 0);
      const blocked = [
        value(0) >= limits.perAccount ? value(1) : 0,
        value(2) >= limits.perIp ? value(3) : 0,
      ].filter((ttl) => ttl !== 0);
      if (blocked.length > 0) {
        const retryAfter = Math.max(
          1,
          Math.ceil(Math.max(...blocked.map((ttl) => (ttl < 0 ? limits.windowS * 1_000 : ttl))) / 1_000),
        );
        throw new AppError('RATE_LIMITED', 'too many failed sign-ins; try again later', {
          details: { retryAfter },
          headers: { 'retry-after': String(retryAfter) },
        });
      }
    },
    /** Counts a failure against the account and the IP. */
    async fail(email: string, ip: string): Promise<void> {
      await redis
        .multi()
        .incr(accountKey(email))
        .expire(accountKey(email), limits.windowS, 'NX')
        .incr(ipKey(ip))
        .expire(ipKey(ip), limits.windowS, 'NX')
        .exec();
    },
    /** A successful sign-in clears the account's failures (not the IP's). */
    async succeed(email: string): Promise<void> {
      await redis.del(accountKey(email));
    },
  };
}
