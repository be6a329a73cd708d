import { describe, expect, test } from 'bun:test';
import { orderRules, parseInstant } from './rules.ts';

const rules = orderRules({
  ORDER_ALLOWED_MODELS: 'SM-AQ1, SM-IND1',
  ORDER_MAX_QUANTITY_PROFESSIONAL: 10,
  ORDER_MAX_QUANTITY_ADMIN: 100,
  ORDER_APPROVAL_THRESHOLD: 3,
});

describe('orderRules', () => {
  test('returns the total of an order within the rules', () => {
    expect(
      rules.check(
        {
          items: [
            { model: 'SM-AQ1', quantity: 4 },
            { model: 'SM-IND1', quantity: 6 },
          ],
        },
        'professional',
      ),
    ).toBe(10);
  });

  test('names every disallowed model and the total over the role limit', () => {
    try {
      rules.check(
        {
          items: [
            { model: 'SM-AQ1', quantity: 8 },
            { model: 'XX', quantity: 3 },
          ],
        },
        'professional',
      );
      throw new Error('expected a validation error');
    } catch (error) {
      const details = (error as { details: Array<{ path: string }> }).details;
      expect(details.map((detail) => detail.path)).toEqual(['/items/1/model', '/items']);
    }
  });

  test('admins have their own limit', () => {
    expect(rules.check({ items: [{ model: 'SM-AQ1', quantity: 100 }] }, 'admin')).toBe(100);
    expect(() => rules.check({ items: [{ model: 'SM-AQ1', quantity: 101 }] }, 'admin')).toThrow(
      'admin limit of 100',
    );
  });
});

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
