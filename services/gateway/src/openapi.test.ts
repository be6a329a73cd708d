import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { OpenAPIV3_1 } from 'openapi-types';
import { type TestGateway, testGateway } from './test-support/gateway.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let doc: OpenAPIV3_1.Document;
beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  const answer = await gw.call('GET', '/docs/json');
  expect(answer.status).toBe(200);
  doc = answer.json as OpenAPIV3_1.Document;
});
afterAll(() => gw.close());

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** An operation with the extension the access macro adds. */
type Operation = OpenAPIV3_1.OperationObject<{ 'x-role'?: string }>;

/** Every operation under /api/v1 as [label, operation]. */
function apiOperations(): Array<[string, Operation]> {
  return Object.entries(doc.paths ?? {})
    .filter(([path]) => path.startsWith('/api/v1/'))
    .flatMap(([path, item]) =>
      METHODS.flatMap((method): Array<[string, Operation]> => {
        const operation = item?.[method] as Operation | undefined;
        return operation ? [[`${method.toUpperCase()} ${path}`, operation]] : [];
      }),
    );
}

describe('OpenAPI document', () => {
  test('is valid OpenAPI, checked by a real validator', async () => {
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  test('documents every /api/v1 route of the app', () => {
    const documented = new Set(apiOperations().map(([label]) => label));
    // WebSocket routes (method WS) are no HTTP operation OpenAPI can describe, nor the plain GET
    // that only tells a caller to upgrade: modules/stream/PROTOCOL.md documents them.
    const websockets = new Set(
      gw.app.routes.filter((route) => route.method === 'WS').map((route) => route.path),
    );
    const routes = gw.app.routes
      .filter(
        (route) =>
          route.path.startsWith('/api/v1/') &&
          route.method !== 'OPTIONS' &&
          !(websockets.has(route.path) && (route.method === 'WS' || route.method === 'GET')),
      )
      .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}').replace(/\/$/, '')}`);
    const normalized = new Set([...documented].map((label) => label.replace(/\/$/, '')));
    expect(routes.filter((route) => !normalized.has(route))).toEqual([]);
  });

  test('every /api/v1 operation has a summary, its role, its security and documented responses', () => {
    const operations = apiOperations();
    expect(operations.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const [label, operation] of operations) {
      const role = operation['x-role'];
      if (!['public', 'professional', 'admin'].includes(role ?? ''))
        problems.push(`${label}: x-role is ${role}`);
      if (!operation.summary) problems.push(`${label}: no summary`);
      const secured = Array.isArray(operation.security) && operation.security.length > 0;
      if (secured !== (role !== 'public')) problems.push(`${label}: security does not match role ${role}`);
      const responses = Object.entries(
        (operation.responses ?? {}) as Record<string, OpenAPIV3_1.ResponseObject>,
      );
      const success = responses.filter(([status]) => /^2\d\d$/.test(status));
      if (success.length === 0) problems.push(`${label}: no 2xx response documented`);
      for (const [status, response] of success) {
        const hasSchema = Object.values(response.content ?? {}).some((media) => media?.schema);
        if (status !== '204' && !hasSchema) problems.push(`${label}: ${status} response has no schema`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('the /docs page serves the UI', async () => {
    const page = await gw.call('GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('docs/json');
  });
});
