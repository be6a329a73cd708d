import { expect, test } from 'bun:test';
import { createLogger } from './index.ts';

test('lines are JSON with service, level, time, message and the child bindings', () => {
  const lines: string[] = [];
  const logger = createLogger({
    service: 'ingest',
    destination: { write: (line: string) => lines.push(line) },
  });
  logger.child({ requestId: 'req-7' }).warn({ sensorId: 's1' }, 'late reading');
  expect(lines).toHaveLength(1);
  const line = JSON.parse(lines[0] ?? '');
  expect(line).toMatchObject({
    level: 'warn',
    service: 'ingest',
    requestId: 'req-7',
    sensorId: 's1',
    msg: 'late reading',
  });
  expect(Number.isNaN(Date.parse(line.time))).toBe(false);
});

test('errors are serialised with their cause', () => {
  const lines: string[] = [];
  const logger = createLogger({
    service: 'writer',
    destination: { write: (line: string) => lines.push(line) },
  });
  logger.error({ err: new Error('insert failed', { cause: new Error('ECONNREFUSED') }) }, 'batch failed');
  const line = JSON.parse(lines[0] ?? '');
  expect(line.err.message).toContain('insert failed');
  expect(JSON.stringify(line.err)).toContain('ECONNREFUSED');
});
