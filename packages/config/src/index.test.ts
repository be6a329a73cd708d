import { describe, expect, test } from 'bun:test';
import { defineEnv, EnvError, env, parseEnv } from './index.ts';

const schema = defineEnv({
  PORT: env.port({ default: 8000 }),
  REDIS_URL: env.optional(env.url()),
  BATCH_SIZE: env.int({ minimum: 1, maximum: 100_000, default: 1_000 }),
  LOG_LEVEL: env.oneOf(['debug', 'info', 'warn'] as const, { default: 'info' }),
  SELF_REGISTRATION: env.bool({ default: true }),
  ADMIN_PASSWORD: env.string(),
});

describe('parseEnv', () => {
  test('applies defaults and converts strings to typed values', () => {
    const config = parseEnv(schema, { ADMIN_PASSWORD: 'x', BATCH_SIZE: '250', SELF_REGISTRATION: 'false' });
    expect(config).toEqual({
      PORT: 8000,
      BATCH_SIZE: 250,
      LOG_LEVEL: 'info',
      SELF_REGISTRATION: false,
      ADMIN_PASSWORD: 'x',
    });
  });

  test('keeps an optional variable absent and accepts a valid one', () => {
    expect(parseEnv(schema, { ADMIN_PASSWORD: 'x' }).REDIS_URL).toBeUndefined();
    expect(parseEnv(schema, { ADMIN_PASSWORD: 'x', REDIS_URL: 'redis://127.0.0.1:6379' }).REDIS_URL).toBe(
      'redis://127.0.0.1:6379',
    );
  });

  test('lists every bad variable by name, not just the first', () => {
    const bad = {
      PORT: '99999',
      REDIS_URL: 'not a url',
      BATCH_SIZE: 'ten',
      LOG_LEVEL: 'loud',
      SELF_REGISTRATION: 'maybe',
    };
    let caught: unknown;
    try {
      parseEnv(schema, bad);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EnvError);
    const issues = (caught as EnvError).issues;
    expect(issues.map((issue) => issue.variable).sort()).toEqual(
      ['ADMIN_PASSWORD', 'BATCH_SIZE', 'LOG_LEVEL', 'PORT', 'REDIS_URL', 'SELF_REGISTRATION'].sort(),
    );
    expect((caught as EnvError).message).toContain('ADMIN_PASSWORD: is required');
    expect((caught as EnvError).message).toContain('REDIS_URL: must be a URL');
  });

  test('never echoes a secret value', () => {
    const strict = defineEnv({ JWT_SECRET_KEY: env.string({ minLength: 32 }) });
    expect(() => parseEnv(strict, { JWT_SECRET_KEY: 'short-secret' })).toThrow(/value hidden/);
    expect(() => parseEnv(strict, { JWT_SECRET_KEY: 'short-secret' })).not.toThrow(/short-secret/);
  });
});

test('loadEnv stops the process with the variable name on bad input', async () => {
  const script = `
    import { defineEnv, env, loadEnv } from './packages/config/src/index.ts';
    loadEnv(defineEnv({ PORT: env.port() }));
    console.log('should not start');
  `;
  const child = Bun.spawn(['bun', '-e', script], {
    env: { ...process.env, PORT: 'eighty' },
    cwd: `${import.meta.dir}/../../..`,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  expect(code).toBe(78);
  expect(stderr).toContain('PORT');
  expect(stdout).not.toContain('should not start');
});
