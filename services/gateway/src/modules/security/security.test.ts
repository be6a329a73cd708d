/**
 * The route × credential table: every route of the app (read from `app.routes`, so routes added
 * later are covered without touching this file) is called with each kind of credential, and the
 * auth layer's answer is checked against the role the route declares through the `access` macro.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, SECRET, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { API_KEY_SCOPES, type Requirement, roleMeets, type Scope } from '../access/model.ts';
import { claimsOf, signHs256, tampered, unsigned } from './forged-tokens.ts';

const servers = useServers({ redis: true, clickhouse: true });

/** What the auth layer must answer: anything but 401/403 ('pass'), or exactly 401 or 403. */
type Outcome = 'pass' | 401 | 403;
interface RouteCase {
  method: string;
  path: string;
  role: Requirement | undefined;
  scope: Scope | undefined;
}
interface Credential {
  name: string;
  headers: () => Record<string, string>;
  expect: (route: RouteCase & { role: Requirement }) => Outcome;
}

const byRole =
  (outcomes: Record<Requirement, Outcome>) =>
  (route: { role: Requirement }): Outcome =>
    outcomes[route.role];
const ANONYMOUS = byRole({ public: 'pass', professional: 401, admin: 401 });
const PROFESSIONAL = byRole({ public: 'pass', professional: 'pass', admin: 403 });
const ADMIN_ROLE = byRole({ public: 'pass', professional: 'pass', admin: 'pass' });
/** A professional's API key reaches only routes that name one of its scopes. */
const apiKeyWith =
  (scopes: readonly Scope[]) =>
  (route: RouteCase & { role: Requirement }): Outcome =>
    route.role === 'public' ||
    (roleMeets('professional', route.role) && route.scope !== undefined && scopes.includes(route.scope))
      ? 'pass'
      : 403;
const NARROW_SCOPES: Scope[] = ['write:readings'];

let gw: TestGateway;
const tokens = {
  professional: '',
  admin: '',
  disabled: '',
  refresh: '',
  narrowKey: '',
  fullKey: '',
  revokedKey: '',
};
beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  const admin = await gw.login(ADMIN.email, ADMIN.password);
  tokens.admin = admin.accessToken;
  const account = { email: 'pro@example.org', password: 'river-stone-4821' };
  expect((await gw.call('POST', '/api/v1/auth/register', { body: account })).status).toBe(201);
  const pro = await gw.login(account.email, account.password);
  tokens.professional = pro.accessToken;
  tokens.refresh = pro.refreshToken;
  const leaver = { email: 'leaver@example.org', password: 'river-stone-4821', role: 'professional' };
  const created = await gw.call('POST', '/api/v1/admin/users', { body: leaver, token: tokens.admin });
  tokens.disabled = (await gw.login(leaver.email, leaver.password)).accessToken;
  const disabled = await gw.call('PATCH', `/api/v1/admin/users/${created.json.id}`, {
    body: { status: 'disabled' },
    token: tokens.admin,
  });
  expect(disabled.status).toBe(200);
  const key = async (scopes: readonly Scope[]) => {
    const created = await gw.call('POST', '/api/v1/api-keys', {
      body: { name: `keys ${scopes.join(' ')}`, scopes },
      token: tokens.professional,
    });
    expect(created.status).toBe(201);
    return created.json as { id: string; key: string };
  };
  tokens.narrowKey = (await key(NARROW_SCOPES)).key;
  tokens.fullKey = (await key(API_KEY_SCOPES)).key;
  const revoked = await key(API_KEY_SCOPES);
  tokens.revokedKey = revoked.key;
  const revocation = await gw.call('DELETE', `/api/v1/api-keys/${revoked.id}`, {
    token: tokens.professional,
  });
  expect(revocation.status).toBe(200);
});
afterAll(() => gw.close());

const bearer = (token: () => string) => () => ({ authorization: `Bearer ${token()}` });
const proClaims = () => claimsOf(tokens.professional);
const HOUR_S = 3_600;

const CREDENTIALS: Credential[] = [
  { name: 'no credentials', headers: () => ({}), expect: ANONYMOUS },
  { name: 'professional token', headers: bearer(() => tokens.professional), expect: PROFESSIONAL },
  { name: 'admin token', headers: bearer(() => tokens.admin), expect: ADMIN_ROLE },
  {
    name: 'expired token',
    headers: bearer(() => {
      const past = Math.floor(Date.now() / 1_000) - 2 * HOUR_S;
      return signHs256({ ...proClaims(), iat: past, iatMs: past * 1_000, exp: past + 900 }, SECRET);
    }),
    expect: ANONYMOUS,
  },
  {
    name: 'token signed with another key',
    headers: bearer(() => signHs256({ ...proClaims(), role: 'admin' }, `${SECRET}-not-ours`)),
    expect: ANONYMOUS,
  },
  { name: 'alg: none token', headers: bearer(() => unsigned(tokens.admin)), expect: ANONYMOUS },
  {
    name: 'role claim edited to admin',
    headers: bearer(() => tampered(tokens.professional, { role: 'admin' })),
    expect: ANONYMOUS,
  },
  { name: 'disabled user’s token', headers: bearer(() => tokens.disabled), expect: ANONYMOUS },
  { name: 'refresh token as bearer', headers: bearer(() => tokens.refresh), expect: ANONYMOUS },
  { name: 'unknown API key', headers: () => ({ 'x-api-key': 'smk_unknown_0123456789' }), expect: ANONYMOUS },
  {
    name: `API key scoped ${NARROW_SCOPES.join(',')} (X-API-Key)`,
    headers: () => ({ 'x-api-key': tokens.narrowKey }),
    expect: apiKeyWith(NARROW_SCOPES),
  },
  {
    name: 'API key with every scope (Bearer)',
    headers: bearer(() => tokens.fullKey),
    expect: apiKeyWith(API_KEY_SCOPES),
  },
  { name: 'revoked API key', headers: () => ({ 'x-api-key': tokens.revokedKey }), expect: ANONYMOUS },
  {
    name: 'non-bearer Authorization',
    headers: () => ({ authorization: 'Basic cm9vdDpyb290' }),
    expect: ANONYMOUS,
  },
];

const SAMPLE_UUID = '018f3c1e-7d2a-7c3b-9a4e-2b6f1d0c9e8a';

/** A concrete URL for a route pattern: ids become a plausible UUID, other params a word. */
function concretePath(pattern: string): string {
  return pattern
    .replace(/:(\w+)\??/g, (_, name: string) => (/id$/i.test(name) ? SAMPLE_UUID : 'sample'))
    .replace(/\*$/, 'sample');
}

/** Every route the app answers, but CORS preflights and the OpenAPI pages. */
function appRoutes(): RouteCase[] {
  return gw.app.routes
    .filter((route) => route.method !== 'OPTIONS' && !route.path.startsWith('/docs'))
    .map((route) => {
      const detail = (route.hooks as { detail?: Record<string, unknown> } | undefined)?.detail ?? {};
      return {
        method: route.method,
        path: route.path,
        role: detail['x-role'] as Requirement | undefined,
        scope: detail['x-scope'] as Scope | undefined,
      };
    });
}

function verdict(outcome: Outcome, status: number): boolean {
  return outcome === 'pass' ? status !== 401 && status !== 403 : status === outcome;
}

describe('route × credential table', () => {
  test('the table covers the app’s routes, and every route declares its role', () => {
    const routes = appRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(8);
    expect(routes.filter((route) => !route.role).map((route) => `${route.method} ${route.path}`)).toEqual([]);
  });

  for (const credential of CREDENTIALS) {
    test(credential.name, async () => {
      const failures: string[] = [];
      for (const route of appRoutes()) {
        // A route without a role already failed the test above; judge it as admin-only meanwhile.
        const role = route.role ?? 'admin';
        const outcome = credential.expect({ ...route, role });
        const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;
        const answer = await gw.call(route.method, concretePath(route.path), {
          headers: credential.headers(),
          body,
        });
        if (!verdict(outcome, answer.status)) {
          const code = answer.json?.error?.code ?? answer.text.slice(0, 80);
          failures.push(
            `${route.method} ${route.path} [${role}] × ${credential.name}: expected ${outcome === 'pass' ? 'not 401/403' : outcome}, got ${answer.status} ${code}`,
          );
        } else if (outcome !== 'pass') {
          // Refusals use the envelope, and never say more than the code.
          const expected = outcome === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN';
          if (answer.json?.error?.code !== expected)
            failures.push(
              `${route.method} ${route.path} × ${credential.name}: body ${answer.text.slice(0, 120)}`,
            );
        }
      }
      expect(failures).toEqual([]);
    });
  }
});
