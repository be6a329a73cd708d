/**
 * Drives one load target with autocannon and prints its figures as one JSON line. It runs as its
 * own process (spawned by a bench), so generating load never shares an event loop with the server.
 * Usage: bun scripts/lib/load.ts '<LoadSpec as JSON>'
 */
import autocannon, { type AutocannonRequest } from 'autocannon';

/** One measurement: a URL hammered by `connections` clients for `durationS` seconds. */
export interface LoadSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationS: number;
  /** Rotating refresh tokens: each request spends one and gives back the one it received. */
  refreshTokens?: string[];
}

/** What a run measured. */
export interface LoadFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * Requests that spend a token from the pool and put back the rotated one; autocannon resets its
 * per-connection context after every request, so the pool lives here. Tokens in flight when the
 * run stops are lost, so a pool serves one run: give it at least one token per connection.
 */
function refreshRequests(pool: string[]): AutocannonRequest[] {
  return [
    {
      setupRequest(request) {
        return { ...request, body: JSON.stringify({ refreshToken: pool.shift() ?? 'smr_pool_exhausted' }) };
      },
      onResponse(status, body) {
        if (status === 200) pool.push((JSON.parse(body) as { refreshToken: string }).refreshToken);
      },
    },
  ];
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationS,
  method: spec.method ?? 'GET',
  headers: spec.headers ?? {},
  ...(spec.body === undefined ? {} : { body: spec.body }),
  ...(spec.refreshTokens ? { requests: refreshRequests([...spec.refreshTokens]) } : {}),
});
const figures: LoadFigures = {
  requestsPerSecond: Math.round(result.requests.total / result.duration),
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  requests: result.requests.total,
  ok: result['2xx'],
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
};
console.log(JSON.stringify(figures));
