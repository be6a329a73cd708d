import { Elysia } from 'elysia';
import type { Principal, Requirement, Scope } from './model.ts';
import { type Authenticators, authenticate, authorize } from './service.ts';

export * from './model.ts';
export type { AccessTokenVerifier, ApiKeyVerifier, Authenticators } from './service.ts';

/** What a route declares: `{ access: 'public' }`, `{ access: 'admin' }` or `{ access: { role, scope } }`. */
export type AccessRule = Requirement | { role: Requirement; scope?: Scope };

const SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];

/**
 * The one place roles are enforced: every route declares `access`, which resolves `principal` or
 * answers 401/403 with the error envelope, and writes the role into the route's OpenAPI entry.
 */
export function accessControl(auth: Authenticators) {
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
        async resolve({ request }: { request: Request }): Promise<{ principal: Principal }> {
          // Public routes still read credentials, so a signed-in caller gets their own view.
          const principal = await authenticate(request.headers, auth).catch((error: unknown) => {
            if (role === 'public') return { kind: 'public' } as const;
            throw error;
          });
          authorize(principal, role, scope);
          return { principal };
        },
      };
    },
  });
}
