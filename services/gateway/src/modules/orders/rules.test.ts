import { describe, expect, test } from 'bun:test';
import { orderRules } from './rules.ts';

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
