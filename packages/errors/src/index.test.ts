import { expect, test } from 'bun:test';
import { AppError, describeError, ERROR_STATUS, isAppError } from './index.ts';

test('every code maps to a 4xx or 5xx status', () => {
  for (const [code, status] of Object.entries(ERROR_STATUS)) {
    expect(status, code).toBeGreaterThanOrEqual(400);
    expect(status, code).toBeLessThan(600);
  }
});

test('the envelope carries code, message, details and request id', () => {
  const error = new AppError('VALIDATION_FAILED', 'bad ts', { details: { field: 'ts' } });
  expect(error.status).toBe(422);
  expect(error.toEnvelope('req-1')).toEqual({
    error: { code: 'VALIDATION_FAILED', message: 'bad ts', details: { field: 'ts' }, requestId: 'req-1' },
  });
  expect(new AppError('NOT_FOUND', 'no sensor').toEnvelope()).toEqual({
    error: { code: 'NOT_FOUND', message: 'no sensor' },
  });
});

test('causes are kept and described', () => {
  const error = new AppError('UNAVAILABLE', 'store down', { cause: new Error('ECONNREFUSED') });
  expect(isAppError(error)).toBe(true);
  expect(isAppError(new Error('x'))).toBe(false);
  expect(describeError(error)).toBe('store down: ECONNREFUSED');
});
