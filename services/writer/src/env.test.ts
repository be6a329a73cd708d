import { describe, expect, test } from 'bun:test';
import { EnvError, parseEnv } from '@sensormesh/config';
import { WriterEnv } from './env.ts';

describe('WriterEnv', () => {
  test('every variable has a default except the optional consumer name', () => {
    expect(parseEnv(WriterEnv, {})).toEqual({
      WRITER_BATCH_SIZE: 100_000,
      WRITER_MAX_WAIT_MS: 2_000,
      WRITER_MIN_INTERVAL_MS: 1_000,
      WRITER_VISIBILITY_TIMEOUT_MS: 300_000,
      WRITER_RETRY_MIN_MS: 100,
      WRITER_RETRY_MAX_MS: 5_000,
    });
  });

  test('values are converted from strings', () => {
    const config = parseEnv(WriterEnv, { WRITER_BATCH_SIZE: '250', WRITER_CONSUMER: 'writer-a' });
    expect(config.WRITER_BATCH_SIZE).toBe(250);
    expect(config.WRITER_CONSUMER).toBe('writer-a');
  });

  test('every bad variable is reported, not just the first', () => {
    let error: unknown;
    try {
      parseEnv(WriterEnv, {
        WRITER_BATCH_SIZE: '0',
        WRITER_MAX_WAIT_MS: 'soon',
        WRITER_VISIBILITY_TIMEOUT_MS: '1000',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EnvError);
    expect((error as EnvError).issues.map((issue) => issue.variable)).toEqual([
      'WRITER_BATCH_SIZE',
      'WRITER_MAX_WAIT_MS',
      'WRITER_VISIBILITY_TIMEOUT_MS',
    ]);
  });
});
