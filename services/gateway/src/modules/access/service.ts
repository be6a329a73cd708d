import { AppError } from '@sensormesh/errors';
import type { Principal, Requirement, Scope } from './model.ts';
import { roleMeets } from './model.ts';

/** Verifies a bearer access token (JWT); null when invalid, expired or revoked. */
export type AccessTokenVerifier = (token: string) => Promise<Principal | null>;
/** Verifies a raw API key; null when unknown, revoked or expired. */
export type ApiKeyVerifier = (rawKey: string) => Promise<Principal | null>;

/** How a request proves who it is. */
export interface Authenticators {
  verifyAccessToken: AccessTokenVerifier;
  verifyApiKey: ApiKeyVerifier;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** Reads the credentials of a request: a bearer JWT, or an API key as bearer or X-API-Key. */
export async function authenticate(headers: Headers, auth: Authenticators): Promise<Principal> {
  const header = headers.get('authorization');
  const apiKeyHeader = headers.get('x-api-key');
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new AppError('UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"');
    const token = match[1];
    const principal = JWT_SHAPE.test(token)
      ? await auth.verifyAccessToken(token)
      : await auth.verifyApiKey(token);
    if (!principal) throw new AppError('UNAUTHORIZED', 'invalid, expired or revoked credentials');
    return principal;
  }
  if (apiKeyHeader) {
    const principal = await auth.verifyApiKey(apiKeyHeader.trim());
    if (!principal) throw new AppError('UNAUTHORIZED', 'invalid, expired or revoked API key');
    return principal;
  }
  return { kind: 'public' };
}

/**
 * Checks a principal against a route's requirement. API keys only reach routes that name a scope
 * the key carries; user tokens need the role.
 */
export function authorize(principal: Principal, need: Requirement, scope?: Scope): void {
  if (need === 'public') return;
  if (principal.kind === 'public') throw new AppError('UNAUTHORIZED', 'this route needs credentials');
  if (!roleMeets(principal.role, need)) throw new AppError('FORBIDDEN', `this route needs the ${need} role`);
  if (principal.kind === 'apiKey') {
    if (!scope) throw new AppError('FORBIDDEN', 'API keys cannot use this route; sign in instead');
    if (!principal.scopes.includes(scope))
      throw new AppError('FORBIDDEN', `this API key lacks the ${scope} scope`);
  }
}
