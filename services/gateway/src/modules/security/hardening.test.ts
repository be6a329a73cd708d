import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { type TestGateway, testGateway } from '../../test-support/gateway.ts';

const servers = useServers({ redis: true, clickhouse: true });
const LIMIT = 4_096;
let gw: TestGateway;
let strict: TestGateway;
beforeAll(async () => {
  const urls = { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url };
  gw = await testGateway(urls, { BODY_LIMIT_BYTES: String(LIMIT) });
  strict = await testGateway(urls, {
    CORS_ORIGINS: 'https://app.example.org, https://ops.example.org',
    HSTS_MAX_AGE_S: '31536000',
  });
});
afterAll(async () => {
  await gw.close();
  await strict.close();
});

const userCount = async () =>
  (await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM users FINAL`))[0]?.n;

/** A valid registration body, padded with JSON whitespace to `bytes` bytes. */
function registration(email: string, bytes: number): string {
  const json = JSON.stringify({ email, password: 'river-stone-4821' });
  return json.replace('{', `{${' '.repeat(Math.max(0, bytes - json.length))}`);
}

describe('security headers', () => {
  test('every answer carries them: success, error, unknown route', async () => {
    const answers = [
      await gw.call('GET', '/docs/json'),
      await gw.call('GET', '/api/v1/auth/me'),
      await gw.call('DELETE', '/api/v1/no/such/route'),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 401, 404]);
    for (const { headers } of answers) {
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('referrer-policy')).toBe('no-referrer');
      expect(headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(headers.get('content-security-policy')).toStartWith("default-src 'none'");
      expect(headers.get('strict-transport-security')).toBeNull();
    }
  });

  test('the /docs page may load its UI (no JSON CSP) but keeps the rest', async () => {
    const page = await gw.call('GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBeNull();
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });

  test('Strict-Transport-Security only when configured', async () => {
    const answer = await strict.call('GET', '/docs/json');
    expect(answer.headers.get('strict-transport-security')).toBe('max-age=31536000');
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    strict.call('OPTIONS', '/api/v1/auth/login', {
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });

  test('a listed origin passes the preflight; others get no grant', async () => {
    const allowed = await preflight('https://ops.example.org');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://ops.example.org');
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const refused = await preflight('https://evil.example.com');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('actual requests expose the request id and rate-limit headers to the page', async () => {
    const answer = await strict.call('POST', '/api/v1/auth/logout', {
      body: { refreshToken: 'smr_not-a-real-token' },
      headers: { origin: 'https://app.example.org' },
    });
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
    const exposed = answer.headers.get('access-control-expose-headers') ?? '';
    for (const name of ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'])
      expect(exposed).toContain(name);
    expect(answer.headers.get('ratelimit')).toMatch(/^limit=\d+, remaining=\d+, reset=\d+$/);
  });
});

describe('unknown routes', () => {
  test('answer 404 with the error envelope', async () => {
    const answer = await gw.call('GET', '/api/v1/nothing-here');
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({
      error: { code: 'NOT_FOUND', message: 'no such route', requestId: expect.any(String) },
    });
    expect(answer.headers.get('x-request-id')).toBe(answer.json.error.requestId);
  });
});

describe('body limit', () => {
  test('a body over the limit answers 413 and registers nobody, whether or not its length is declared', async () => {
    const before = await userCount();
    const body = registration('big@example.org', LIMIT + 1);
    const undeclared = await gw.call('POST', '/api/v1/auth/register', { body });
    expect(undeclared.status).toBe(413);
    expect(undeclared.json.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { maxBytes: LIMIT } });
    const declared = await gw.call('POST', '/api/v1/auth/register', {
      body,
      headers: { 'content-length': String(body.length) },
    });
    expect(declared.status).toBe(413);
    expect(await userCount()).toBe(before);
    const login = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: 'big@example.org', password: 'river-stone-4821' },
    });
    expect(login.status).toBe(401);
  });

  test('a body just under the limit is parsed as usual', async () => {
    const created = await gw.call('POST', '/api/v1/auth/register', {
      body: registration('fits@example.org', LIMIT),
    });
    expect(created.status).toBe(201);
    expect(created.json.email).toBe('fits@example.org');
  });

  test('over a real socket: Content-Length and chunked bodies are both refused', async () => {
    const server = gw.app.listen({ port: 0, hostname: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${server.server?.port}/api/v1/auth/register`;
      const headers = { 'content-type': 'application/json' };
      const body = registration('socket@example.org', LIMIT * 4);
      const sized = await fetch(url, { method: 'POST', headers, body });
      expect(sized.status).toBe(413);
      expect(((await sized.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
      const chunked = (text: string) => {
        const bytes = new TextEncoder().encode(text);
        return new ReadableStream<Uint8Array>({
          start(controller) {
            for (let offset = 0; offset < bytes.length; offset += 1_024)
              controller.enqueue(bytes.slice(offset, offset + 1_024));
            controller.close();
          },
        });
      };
      const over = await fetch(url, { method: 'POST', headers, body: chunked(body) });
      expect(over.status).toBe(413);
      expect(await userCount()).toBe(1 + 1); // the admin and fits@ from the test above
      const small = registration('chunked@example.org', LIMIT - 100);
      const under = await fetch(url, { method: 'POST', headers, body: chunked(small) });
      expect(under.status).toBe(201);
    } finally {
      await server.stop();
    }
  });
});
