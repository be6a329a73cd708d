/** Wall time and waiting, injectable so tests run simulated hours without sleeping. */
export interface Clock {
  now(): number;
  /** Resolves after `ms` (early, with no error, when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock; an aborted sleep resolves at once so loops can see the signal and stop. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};

/** A clock that only moves when slept on: `sleep(ms)` advances it by `ms` at once. */
export function manualClock(start: number): Clock {
  let now = start;
  return {
    now: () => now,
    async sleep(ms) {
      if (ms > 0) now += ms;
    },
  };
}
