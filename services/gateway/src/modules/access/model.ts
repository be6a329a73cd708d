import { type Static, t } from 'elysia';

/** Account roles, lowest first: public (no credentials) < professional < admin. */
export const Role = t.Union([t.Literal('professional'), t.Literal('admin')]);
export type Role = Static<typeof Role>;

/** What a route requires: a role, and for API keys the scope they must carry. */
export type Requirement = 'public' | Role;

/** Scopes an API key may carry. */
export const API_KEY_SCOPES = [
  'read:analytics',
  'export',
  'write:readings',
  'read:sensors',
  'manage:orders',
] as const;
export const Scope = t.Union(API_KEY_SCOPES.map((scope) => t.Literal(scope)));
export type Scope = Static<typeof Scope>;

/** Who is calling. */
export type Principal =
  | { kind: 'public' }
  | { kind: 'user'; userId: string; role: Role; tokenId: string }
  | { kind: 'apiKey'; keyId: string; userId: string; role: Role; scopes: readonly Scope[] };

const RANK: Record<Requirement, number> = { public: 0, professional: 1, admin: 2 };

/** True when `have` meets `need` (admin ≥ professional ≥ public). */
export function roleMeets(have: Requirement, need: Requirement): boolean {
  return RANK[have] >= RANK[need];
}

/** The authenticated user id, or undefined for the public. */
export function userIdOf(principal: Principal): string | undefined {
  return principal.kind === 'public' ? undefined : principal.userId;
}
