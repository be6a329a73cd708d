import { describe, expect, test } from 'bun:test';
import { backoffDelay, sleep } from './backoff.ts';

describe('backoffDelay', () => {
  const policy = { minMs: 100, maxMs: 5_000 };

  test('doubles from the minimum and stops at the cap', () => {
    const top = (attempt: number) => backoffDelay(attempt, policy, () => 1);
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(top)).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
  });

  test('jitter stays in the upper half of each step', () => {
    expect(backoffDelay(0, policy, () => 0)).toBe(50);
    expect(backoffDelay(10, policy, () => 0)).toBe(2_500);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(3, policy);
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });
});

describe('sleep', () => {
  test('an abort ends it at once', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const slept = sleep(10_000, controller.signal);
    controller.abort();
    await slept;
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
