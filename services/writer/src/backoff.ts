/** Bounds of the wait between attempts, in ms. */
export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
}

/**
 * The wait before retry `attempt` (0-based): doubling from minMs up to maxMs, then jittered into
 * its upper half so writers that failed together do not all hit the returning server at once.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random) {
  const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts (a stopping writer does not wait out a backoff). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
