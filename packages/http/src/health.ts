import { Counter, Histogram, metric, PROMETHEUS_CONTENT_TYPE, type Registry } from '@sensormesh/metrics';
import { Elysia } from 'elysia';

/** A readiness check: resolves true when the dependency answers. */
export type ReadinessCheck = () => Promise<boolean>;

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: ReadinessCheck): Promise<'ok' | 'failing'> {
  let timer: Timer | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
  });
  try {
    return (await Promise.race([check().catch(() => false), timeout])) ? 'ok' : 'failing';
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GET /health (the process is alive), GET /ready (every dependency answers, else 503 naming the
 * failing ones) and GET /metrics (Prometheus text), plus per-route request counters.
 */
export function healthRoutes(options: { checks: Record<string, ReadinessCheck>; registry: Registry }) {
  const { checks, registry } = options;
  const requests = metric(
    registry,
    'http_requests_total',
    (registers) =>
      new Counter({
        name: 'http_requests_total',
        help: 'HTTP requests answered',
        labelNames: ['method', 'route', 'status'],
        registers,
      }),
  );
  const duration = metric(
    registry,
    'http_request_duration_seconds',
    (registers) =>
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'Time to answer an HTTP request',
        labelNames: ['method', 'route'],
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
        registers,
      }),
  );
  const started = new WeakMap<Request, number>();
  return new Elysia({ name: 'sensormesh.health' })
    .onRequest(function startTimer({ request }) {
      started.set(request, performance.now());
    })
    .onAfterResponse({ as: 'global' }, function countRequest({ request, route, set }) {
      const begin = started.get(request);
      const labels = { method: request.method, route: route || 'unmatched' };
      requests.inc({ ...labels, status: String(set.status ?? 200) });
      if (begin !== undefined) duration.observe(labels, (performance.now() - begin) / 1_000);
    })
    .get('/health', () => ({ status: 'ok' as const }))
    .get('/ready', async function ready({ set }) {
      const names = Object.keys(checks);
      const results = await Promise.all(names.map((name) => runCheck(checks[name] as ReadinessCheck)));
      const report = Object.fromEntries(names.map((name, index) => [name, results[index]]));
      const ready = results.every((result) => result === 'ok');
      set.status = ready ? 200 : 503;
      return { status: ready ? ('ready' as const) : ('unavailable' as const), checks: report };
    })
    .get('/metrics', async function metrics({ set }) {
      set.headers['content-type'] = PROMETHEUS_CONTENT_TYPE;
      return registry.metrics();
    });
}
