import type { Logger } from '@sensormesh/log';

/** A vendor answered with an error status; carries its Retry-After, if any, in ms. */
export class VendorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'VendorHttpError';
  }
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1_000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** GETs JSON from a vendor API; non-2xx throws VendorHttpError (with Retry-After), slow answers time out. */
export async function fetchJson(
  url: URL,
  options: { headers: Record<string, string>; signal: AbortSignal; timeoutMs: number },
): Promise<unknown> {
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
  const response = await fetch(url, { headers: { accept: 'application/json', ...options.headers }, signal });
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).slice(0, 300);
    throw new VendorHttpError(
      response.status,
      retryAfterMs(response.headers.get('retry-after')),
      `${url.host} answered ${response.status}: ${text}`,
    );
  }
  return response.json();
}

/** A pull adapter: one `poll` fetches what is new since its checkpoint, submits it, then advances it. */
export interface PullAdapter {
  readonly name: string;
  readonly intervalMs: number;
  poll(signal: AbortSignal): Promise<void>;
}

/** Backoff settings: the first retry waits about `baseMs`, doubling up to `maxMs`. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

/**
 * The wait before retry n (1-based): exponential with "equal jitter" (half fixed, half random), so
 * many pollers that failed together spread out yet never retry at once. A Retry-After wins when
 * longer, plus up to 10% jitter so every replica does not return in the same instant.
 */
export function backoffDelay(failures: number, options: BackoffOptions, retryAfter?: number): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, failures - 1));
  const backoff = ceiling / 2 + (random() * ceiling) / 2;
  if (retryAfter === undefined) return Math.round(backoff);
  return Math.round(Math.max(retryAfter + random() * retryAfter * 0.1, retryAfter));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Runs a pull adapter: poll, wait the interval (or the backoff after a failure), until stopped. */
export function startPoller(adapter: PullAdapter, options: { logger: Logger; backoff: BackoffOptions }) {
  const controller = new AbortController();
  const log = options.logger.child({ poller: adapter.name });
  const loop = (async function pollLoop() {
    let failures = 0;
    while (!controller.signal.aborted) {
      let wait = adapter.intervalMs;
      try {
        await adapter.poll(controller.signal);
        failures = 0;
      } catch (error) {
        if (controller.signal.aborted) break;
        failures += 1;
        const after = error instanceof VendorHttpError ? error.retryAfterMs : undefined;
        wait = backoffDelay(failures, options.backoff, after);
        log.warn({ err: error, failures, retryInMs: wait }, 'poll failed');
      }
      await sleep(wait, controller.signal);
    }
  })();
  log.info({ intervalMs: adapter.intervalMs }, 'poller started');
  return {
    /** Aborts the poll in flight and waits for the loop to end. */
    async stop(): Promise<void> {
      controller.abort();
      await loop;
      log.info('poller stopped');
    },
  };
}
