import { afterAll, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@sensormesh/testkit';
import { watchLog } from './support/mesh-log.ts';

const root = join(import.meta.dir, '..');
const dataDir = await mkdtemp(join(tmpdir(), 'sensormesh-start-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

test('scripts/start serves /health and /ready, then stops everything on SIGINT', async () => {
  const port = await freePort();
  const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), DATA_DIR: dataDir };
  delete env.REDIS_URL;
  delete env.CLICKHOUSE_URL;
  const child = Bun.spawn([join(root, 'scripts/start')], {
    cwd: root,
    env,
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const log = watchLog(child.stdout);
  try {
    const redisStarted = await log.next((line) => line.msg === 'started redis-server');
    await log.next((line) => line.msg === 'mesh listening');

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { redis: 'ok', store: 'ok', writer: 'ok', outputs: 'ok', predictor: 'ok' },
    });
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(await metrics.text()).toContain('http_requests_total');

    child.kill('SIGINT');
    expect(await child.exited).toBe(0);
    expect(log.lines.some((line) => line.msg === 'stopped redis-server')).toBe(true);
    // The redis-server it started is gone too.
    expect(() => process.kill(redisStarted.pid ?? -1, 0)).toThrow();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}, 90_000);

/** Runs the mesh with `env` added until it exits, as it must on bad settings; what it printed. */
async function meshUntilExit(env: Record<string, string>) {
  const child = Bun.spawn(['bun', 'run', 'services/mesh/src/index.ts'], {
    cwd: root,
    env: { ...process.env, DATA_DIR: dataDir, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [code, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { code, stdout, stderr };
}

test('a malformed variable stops the mesh with its name before anything starts', async () => {
  const { code, stderr } = await meshUntilExit({ PORT: 'not-a-port', REDIS_URL: 'nope' });
  expect(code).toBe(78);
  expect(stderr).toContain('PORT: must be');
  expect(stderr).toContain('REDIS_URL: must be a URL');
});

test('a leave that could outlast the shutdown stops the mesh, naming both variables, before anything starts', async () => {
  const { code, stdout, stderr } = await meshUntilExit({
    MQTT_URL: 'mqtt://127.0.0.1:1',
    MQTT_ON_STOP: 'leave',
    MQTT_LEAVE_TIMEOUT_MS: '10000',
    SHUTDOWN_TIMEOUT_MS: '10000',
  });
  expect(code).toBe(78);
  expect(stderr).toContain('MQTT_LEAVE_TIMEOUT_MS: must be at most SHUTDOWN_TIMEOUT_MS − 2000 ms (8000)');
  expect(stdout).not.toContain('started redis-server'); // nothing was started
});
