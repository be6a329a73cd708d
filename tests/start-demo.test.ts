import { afterAll, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@sensormesh/testkit';
import Redis from 'ioredis';

const root = join(import.meta.dir, '..');
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

type LogLine = { msg: string; url?: string; published?: number };

/** Collects the child's JSON log lines; `next` resolves with the first line that matches. */
function watch(stream: ReadableStream<Uint8Array>) {
  const lines: LogLine[] = [];
  const waiters: Array<[(line: LogLine) => boolean, (line: LogLine) => void]> = [];
  void (async () => {
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      const parts = text.split('\n');
      text = parts.pop() ?? '';
      for (const part of parts.filter((p) => p.startsWith('{'))) {
        const line = JSON.parse(part) as LogLine;
        lines.push(line);
        for (const [match, resolve] of waiters) if (match(line)) resolve(line);
      }
    }
  })();
  const next = (msg: string) =>
    new Promise<LogLine>((resolve) => {
      const seen = lines.find((line) => line.msg === msg);
      if (seen) resolve(seen);
      else waiters.push([(line) => line.msg === msg, resolve]);
    });
  return { lines, next };
}

async function startMesh(extra: Record<string, string>) {
  const dataDir = await mkdtemp(join(tmpdir(), 'sensormesh-demo-'));
  dirs.push(dataDir);
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(await freePort()),
    MQTT_PORT: String(await freePort()),
    DATA_DIR: dataDir,
    ...extra,
  };
  delete env.REDIS_URL;
  delete env.CLICKHOUSE_URL;
  delete env.MQTT_URL;
  const child = Bun.spawn([join(root, 'scripts/start')], {
    cwd: root,
    env,
    stdout: 'pipe',
    stderr: 'inherit',
  });
  return { child, log: watch(child.stdout), port: env.PORT as string, dataDir };
}

test('scripts/start seeds the demo sensors and replays them onto the readings stream; Ctrl-C stops it first', async () => {
  const { child, log, port, dataDir } = await startMesh({ DEMO_SPEED: '36000' }); // one data hour per 100 ms
  try {
    const redisUrl = (await log.next('started redis-server')).url as string;
    await log.next('demo replay started');
    const redis = new Redis(redisUrl);
    try {
      // Wait for two full data hours to have gone through MQTT, ingest and onto the stream.
      const entries: Array<[string, string[]]> = [];
      while (entries.length < 24) {
        // XREAD BLOCK waits for the next entries rather than polling on a timer.
        const batch = await redis.xread(
          'COUNT',
          24,
          'BLOCK',
          5_000,
          'STREAMS',
          'readings',
          entries.at(-1)?.[0] ?? '0',
        );
        entries.push(...((batch?.[0]?.[1] ?? []) as Array<[string, string[]]>));
      }
      const sensors = new Set(entries.map(([, fields]) => JSON.parse(fields[1] as string).sensorId));
      expect(sensors.size).toBe(12);
      expect([...sensors].every((id) => id.startsWith('aq-beijing-'))).toBe(true);
      expect(await redis.xlen('dlq')).toBe(0); // every replayed reading passed validation

      // HTTP ingest and the gateway share the mesh's one app: each parses its own bodies.
      const devices = (await Bun.file(join(dataDir, 'secrets', 'demo-devices.json')).json()) as Array<{
        sensorId: string;
        deviceKey: string;
      }>;
      const device = devices[0] as { sensorId: string; deviceKey: string };
      const posted = await fetch(`http://127.0.0.1:${port}/api/v1/ingest`, {
        method: 'POST',
        headers: { authorization: `Bearer ${device.deviceKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          sensorId: device.sensorId,
          ts: Date.now(),
          metrics: { pm25: 12.5 },
          messageId: 'via-http',
        }),
      });
      expect(posted.status).toBe(202);
      const tail = (await redis.xrevrange('readings', '+', '-', 'COUNT', 200)) as Array<[string, string[]]>;
      expect(tail.some(([, fields]) => JSON.parse(fields[1] as string).messageId === 'via-http')).toBe(true);
      const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'nobody@example.org', password: 'not-the-password-1' }),
      });
      expect(login.status).toBe(401);
    } finally {
      redis.disconnect();
    }
    child.kill('SIGINT');
    expect(await child.exited).toBe(0);
    const order = log.lines.map((line) => line.msg);
    expect(order.indexOf('demo replay stopped')).toBeGreaterThan(-1);
    expect(order.indexOf('demo replay stopped')).toBeLessThan(order.indexOf('embedded MQTT broker stopped'));
    expect(log.lines.find((line) => line.msg === 'demo replay stopped')?.published).toBeGreaterThan(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('DEMO=false starts neither seeding nor replay', async () => {
  const { child, log } = await startMesh({ DEMO: 'false' });
  try {
    await log.next('mesh listening');
    child.kill('SIGINT');
    expect(await child.exited).toBe(0);
    expect(log.lines.some((line) => /demo/.test(line.msg))).toBe(false);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
