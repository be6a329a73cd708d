import { jwt } from '@elysiajs/jwt';
import { Elysia } from 'elysia';
import type Redis from 'ioredis';
import type { Principal, Role } from '../access/model.ts';

/** Access-token settings. */
export interface TokenSettings {
  secret: string;
  alg: 'HS256';
  accessTtlS: number;
}

const REVOKED_BEFORE = (userId: string) => `auth:revoked-before:${userId}`;

/**
 * Signs and verifies access tokens. Only the configured algorithm verifies (so `alg: none` and
 * algorithm swaps fail); tokens issued before a user's revocation mark (role change, disable) fail.
 */
export function accessTokens(settings: TokenSettings, redis: Redis) {
  const signer = new Elysia().use(jwt({ name: 'jwt', secret: settings.secret, alg: settings.alg })).decorator
    .jwt;

  return {
    ttlS: settings.accessTtlS,

    /** A JWT with sub, role, jti, iat and exp. */
    sign(user: { id: string; role: Role }): Promise<string> {
      const now = Date.now();
      return signer.sign({
        sub: user.id,
        role: user.role,
        jti: crypto.randomUUID(),
        typ: 'access',
        // iat has whole seconds; revocation needs to order a token against a mark in milliseconds.
        iatMs: now,
        exp: Math.floor(now / 1_000) + settings.accessTtlS,
      });
    },

    /** The principal a valid, unrevoked access token stands for, or null. */
    async verify(token: string): Promise<Principal | null> {
      const payload = await signer.verify(token, { algorithms: [settings.alg] });
      if (payload === false || payload.typ !== 'access') return null;
      const { sub, role, jti, iatMs } = payload;
      if (typeof sub !== 'string' || typeof jti !== 'string' || typeof iatMs !== 'number') return null;
      if (role !== 'professional' && role !== 'admin') return null;
      const revokedBefore = Number(await redis.get(REVOKED_BEFORE(sub)));
      if (revokedBefore && iatMs <= revokedBefore) return null;
      return { kind: 'user', userId: sub, role, tokenId: jti };
    },

    /** Makes every access token the user holds now invalid (kept as long as any could live). */
    async revokeAllFor(userId: string): Promise<void> {
      await redis.set(REVOKED_BEFORE(userId), String(Date.now()), 'EX', settings.accessTtlS + 60);
    },
  };
}

/** The access-token service. */
export type AccessTokens = ReturnType<typeof accessTokens>;
