import { describe, expect, test } from 'bun:test';
import { parseInstant } from './instant.ts';

describe('parseInstant', () => {
  test('reads epoch ms and ISO-8601', () => {
    expect(parseInstant('1735689600000', 'from')).toBe(1_735_689_600_000);
    expect(parseInstant('2025-01-01T00:00:00Z', 'from')).toBe(1_735_689_600_000);
    expect(parseInstant('2025-01-01T08:00:00+08:00', 'from')).toBe(1_735_689_600_000);
    expect(parseInstant('2025-01-01', 'from')).toBe(1_735_689_600_000);
    expect(parseInstant('2025-01-01T00:00', 'from')).toBe(1_735_689_600_000);
  });

  test('refuses anything else, naming the parameter', () => {
    for (const bad of ['March 7', '-5', '2025-13-45', '1.5', '']) {
      expect(() => parseInstant(bad, 'to')).toThrow('to must be');
    }
  });
});
