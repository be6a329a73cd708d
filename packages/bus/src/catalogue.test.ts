import { describe, expect, test } from 'bun:test';
import { Type as t } from '@sinclair/typebox';
import { defineStream, validationIssues } from './catalogue.ts';
import { compareIds, minId, nextId } from './stream-id.ts';
import { readings } from './streams.ts';
import { reading } from './test-fixtures/helpers.ts';

describe('catalogue', () => {
  test('a reading passes its schema; a bad one lists each problem with its path', () => {
    expect(validationIssues(readings, reading(1))).toEqual([]);
    const issues = validationIssues(readings, {
      ...reading(1),
      sensorId: 'x'.repeat(129),
      metrics: { pm25: 'high' },
    });
    expect(issues.map((issue) => issue.path)).toEqual(expect.arrayContaining(['/sensorId', '/metrics/pm25']));
  });

  test('defineStream rejects a retry policy without attempts', () => {
    const spec = { name: 's', schema: t.Object({}), groups: [], trim: {} };
    expect(() => defineStream({ ...spec, retry: { maxAttempts: 0, backoffMs: 1 } })).toThrow(/maxAttempts/);
  });
});

describe('stream ids', () => {
  test('compare numerically, part by part', () => {
    expect(compareIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareIds('10-10', '10-10')).toBe(0);
    expect(minId('1700000000000-5', '1700000000000-12')).toBe('1700000000000-5');
  });

  test('nextId is the smallest id after the given one', () => {
    expect(nextId('5-1')).toBe('5-2');
    expect(nextId('0-0')).toBe('0-1');
    expect(nextId('5-18446744073709551615')).toBe('6-0');
  });
});
