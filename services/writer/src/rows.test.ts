import { describe, expect, test } from 'bun:test';
import { readingRows, rowProblems } from './rows.ts';

const reading = {
  sensorId: 's-1',
  ts: 1_700_000_000_000,
  metrics: { pm25: 12.4, rh: 61 },
  receivedAt: 1_700_000_000_120,
  source: 'mqtt',
};

describe('readingRows', () => {
  test('one row per metric, carrying the reading’s sensor, times and source', () => {
    expect(readingRows(reading)).toEqual([
      {
        sensorId: 's-1',
        metric: 'pm25',
        ts: 1_700_000_000_000,
        value: 12.4,
        receivedAt: 1_700_000_000_120,
        source: 'mqtt',
        entryMs: 0,
        entrySeq: 0,
      },
      {
        sensorId: 's-1',
        metric: 'rh',
        ts: 1_700_000_000_000,
        value: 61,
        receivedAt: 1_700_000_000_120,
        source: 'mqtt',
        entryMs: 0,
        entrySeq: 0,
      },
    ]);
  });

  test('every row carries the stream entry id it came from, as two integers', () => {
    const rows = readingRows(reading, '1700000000123-7');
    expect(rows.map((row) => [row.metric, row.entryMs, row.entrySeq])).toEqual([
      ['pm25', 1_700_000_000_123, 7],
      ['rh', 1_700_000_000_123, 7],
    ]);
    expect(rowProblems(rows)).toEqual([]);
  });

  test('a reading without metrics has no rows', () => {
    expect(readingRows({ ...reading, metrics: {} })).toEqual([]);
  });
});

describe('rowProblems', () => {
  test('rows the store accepts have none', () => {
    expect(rowProblems(readingRows(reading))).toEqual([]);
  });

  test('an empty metric name and an overlong source are named', () => {
    const rows = readingRows({ ...reading, metrics: { '': 1, pm25: 2 }, source: 'x'.repeat(65) });
    const problems = rowProblems(rows);
    expect(problems.some((problem) => problem.metric === '' && problem.path === '/metric')).toBe(true);
    expect(problems.some((problem) => problem.path === '/source')).toBe(true);
  });
});
