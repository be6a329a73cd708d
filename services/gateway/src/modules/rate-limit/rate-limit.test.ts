import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';
import type { Principal } from '../access/model.ts';
import { parseRate, ratePolicies, requestLimiter } from './index.ts';

describe('parseRate', () => {
  test('reads "requests/seconds" and refuses anything else', () => {
    expect(parseRate('600/60')).toEqual({ limit: 600, windowS: 60 });
    expect(parseRate(' 5/1 ')).toEqual({ limit: 5, windowS: 1 });
    for (const bad of ['600', '0/60', '10/0', '1.5/60', 'ten/60', '-1/60'])
      expect(() => parseRate(bad), bad).toThrow('requests/seconds');
  });
});

const servers = useServers({ redis: true, clickhouse: true });
// Two replicas: one Redis, one database, as in production. Users get 5 requests a minute, IPs 3.
const LIMITS = {
  RATE_LIMIT_PROFESSIONAL: '5/60',
  RATE_LIMIT_PUBLIC: '3/60',
  RATE_LIMIT_API_KEY: '4/60',
  TRUST_PROXY: 'true',
};
let one: TestGateway;
let two: TestGateway;
beforeAll(async () => {
  const urls = { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url };
  one = await testGateway(urls, LIMITS);
  two = await testGateway(urls, LIMITS, { database: one.database });
});
afterAll(async () => {
  await one.close();
  await two.close();
});

/** A professional's access token, made without HTTP so that setup spends no quota. */
async function professional(email: string): Promise<{ id: string; token: string }> {
  const user = await one.ctx.auth.createUser({ email, password: 'river-stone-4821', role: 'professional' });
  return { id: user.id, token: await one.ctx.tokens.sign(user) };
}

const me = (gw: TestGateway, token: string) => gw.call('GET', '/api/v1/auth/me', { token });

describe('per-user limits across replicas', () => {
  test('two replicas together allow exactly the limit, then 429 with Retry-After', async () => {
    const ana = await professional('ana@example.org');
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await me(i % 2 === 0 ? one : two, ana.token);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit-policy')).toBe('5;w=60');
      remaining.push(response.headers.get('ratelimit')?.match(/remaining=(\d+)/)?.[1] ?? '?');
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);

    const refused = await me(two, ana.token);
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('RATE_LIMITED');
    expect(refused.json.error.requestId).toBeString();
    const retryAfter = Number(refused.headers.get('retry-after'));
    // One request's share of the window (60 s / 5) frees the next slot.
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(12);
    expect(refused.headers.get('ratelimit-policy')).toBe('5;w=60');
    expect(refused.headers.get('ratelimit')).toMatch(/^limit=5, remaining=0, reset=\d+$/);
    expect((await me(one, ana.token)).status).toBe(429);
  });

  test('concurrent requests on both replicas admit exactly the limit (the check is atomic)', async () => {
    const bo = await professional('bo@example.org');
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => me(i % 2 === 0 ? one : two, bo.token).then((r) => r.status)),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(7);
  });

  test('users are limited independently', async () => {
    const cy = await professional('cy@example.org');
    const dee = await professional('dee@example.org');
    for (let i = 0; i < 5; i++) expect((await me(one, cy.token)).status).toBe(200);
    expect((await me(one, cy.token)).status).toBe(429);
    expect((await me(two, dee.token)).status).toBe(200);
  });
});

describe('per-IP limits for anonymous callers', () => {
  const logout = (gw: TestGateway, ip: string) =>
    gw.call('POST', '/api/v1/auth/logout', {
      body: { refreshToken: 'smr_not-a-real-token' },
      headers: { 'x-forwarded-for': ip },
    });

  test('each IP gets its own quota; failed credentials spend the IP’s quota', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await logout(i % 2 === 0 ? one : two, '203.0.113.7');
      expect(response.status).not.toBe(429);
      expect(response.headers.get('ratelimit-policy')).toBe('3;w=60');
    }
    expect((await logout(one, '203.0.113.7')).status).toBe(429);
    const forged = await one.call('GET', '/api/v1/auth/me', {
      token: 'not.a.token',
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    expect(forged.status).toBe(429);
    expect((await logout(two, '198.51.100.20')).status).not.toBe(429);
  });

  test('/docs is not limited and carries no rate-limit headers', async () => {
    for (let i = 0; i < 5; i++) {
      const docs = await one.call('GET', '/docs/json', { headers: { 'x-forwarded-for': '192.0.2.99' } });
      expect(docs.status).toBe(200);
      expect(docs.headers.get('ratelimit')).toBeNull();
    }
  });
});

describe('per-API-key limits', () => {
  test('an API key has its own bucket and policy, apart from its owner’s', async () => {
    const owner = await professional('eve@example.org');
    const limit = requestLimiter({
      redis: one.redis,
      policies: ratePolicies(one.ctx.config),
      trustProxy: false,
    });
    const request = new Request('http://localhost/api/v1/analytics');
    const key: Principal = {
      kind: 'apiKey',
      keyId: 'key-1',
      userId: owner.id,
      role: 'professional',
      scopes: ['read:analytics'],
    };
    for (let i = 0; i < 4; i++) {
      const headers = await limit(key, request, null);
      expect(headers['ratelimit-policy']).toBe('4;w=60');
    }
    const refused = await limit(key, request, null).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', headers: { 'retry-after': expect.any(String) } });
    // The owner's own session and another key of theirs are untouched.
    expect((await me(one, owner.token)).status).toBe(200);
    expect((await limit({ ...key, keyId: 'key-2' }, request, null))['ratelimit-policy']).toBe('4;w=60');
  });
});
