import { Elysia } from 'elysia';
import type { PeerAddressSource } from './client-ip.ts';
import type { Principal, Requirement, Scope } from './model.ts';
import { type Authenticators, authenticate, authorize } from './service.ts';

export * from './model.ts';
export type { AccessTokenVerifier, ApiKeyVerifier, Authenticators } from './service.ts';

/** What a route declares: `{ access: 'public' }`, `{ access: 'admin' }` or `{ access: { role, scope } }`. */
export type AccessRule = Requirement | { role: Requirement; scope?: Scope };

const SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];

/** Counts a request against its caller's quota: resolves to response headers, or throws RATE_LIMITED. */
export type RequestLimiter = (
  principal: Principal,
  request: Request,
  server: PeerAddressSource | null,
) => Promise<Record<string, string>>;

/**
 * The one place roles are enforced: every route declares `access`, which resolves `principal` or
 * answers 401/403 (or 429 from `options.limit`) with the error envelope, and writes the role into the route's OpenAPI entry.
 */
export function accessControl(auth: Authenticators, options: { limit?: RequestLimiter } = {}) {
  // What `transform` found, for `resolve` to hand to the handler with its type.
  const principals = new WeakMap<Request, Principal>();
  return new Elysia({ name: 'sensormesh.access' }).macro({
    access(rule: AccessRule) {
      const role = typeof rule === 'string' ? rule : rule.role;
      const scope = typeof rule === 'string' ? undefined : rule.scope;
      return {
        detail: {
          security: role === 'public' ? [] : SECURITY,
          'x-role': role,
          ...(scope ? { 'x-scope': scope } : {}),
        },
        // transform runs before body/query validation: a caller without the role gets 401/403 (not a
        // 422 describing the schema), and an over-limit caller is refused before any work is done.
        async transform({ request, server, set }) {
          let failure: unknown;
          // Public routes still read credentials, so a signed-in caller gets their own view.
          const principal = await authenticate(request.headers, auth).catch((error: unknown): Principal => {
            if (role !== 'public') failure = error;
            return { kind: 'public' };
          });
          // Failed credentials count against the caller's IP, like any anonymous request.
          if (options.limit) Object.assign(set.headers, await options.limit(principal, request, server));
          if (failure) throw failure;
          authorize(principal, role, scope);
          principals.set(request, principal);
        },
        resolve({ request }: { request: Request }): { principal: Principal } {
          const principal = principals.get(request);
          if (!principal) throw new Error('access: resolve ran without transform');
          return { principal };
        },
      };
    },
  });
}
