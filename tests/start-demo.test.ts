import { afterAll, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@sensormesh/testkit';
import Redis from 'ioredis';
import { watchLog } from './support/mesh-log.ts';

const root = join(import.meta.dir, '..');
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** The demo sensors' ids from the mesh's key file, sorted. */
function devicesSorted(dataDir: string): string[] {
  const file = JSON.parse(readFileSync(join(dataDir, 'secrets', 'demo-devices.json'), 'utf8')) as Array<{
    sensorId: string;
  }>;
  return file.map((device) => device.sensorId).sort();
}

async function startMesh(extra: Record<string, string>, reuseDataDir?: string) {
  const dataDir = reuseDataDir ?? (await mkdtemp(join(tmpdir(), 'sensormesh-demo-')));
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
  return { child, log: watchLog(child.stdout), port: env.PORT as string, dataDir };
}

test('scripts/start seeds the demo sensors and replays them onto the readings stream; Ctrl-C stops it first', async () => {
  const { child, log, port, dataDir } = await startMesh({ DEMO_SPEED: '36000' }); // one data hour per 100 ms
  try {
    const redisUrl = (await log.next('started redis-server')).url as string;
    await log.next('demo replay started');
    const redis = new Redis(redisUrl);
    try {
      // Each station first sends 80 past hours of real data (one reading per wall hour, so the
      // predictor has full windows at once), then the live replay stamped with the time it is sent.
      // Wait for the history and two live readings of every station, through MQTT and ingest.
      const bySensor = new Map<string, number[]>();
      const enough = () => bySensor.size === 12 && [...bySensor.values()].every((ts) => ts.length >= 82);
      let readFrom = '0';
      while (!enough()) {
        // XREAD BLOCK waits for the next entries rather than polling on a timer.
        const batch = await redis.xread('COUNT', 500, 'BLOCK', 5_000, 'STREAMS', 'readings', readFrom);
        const got = (batch?.[0]?.[1] ?? []) as Array<[string, string[]]>;
        if (got.length === 0) break; // nothing for 5 s: the expectations below say what is missing
        for (const [id, fields] of got) {
          readFrom = id;
          const reading = JSON.parse(fields[1] as string) as { sensorId: string; ts: number };
          bySensor.set(reading.sensorId, [...(bySensor.get(reading.sensorId) ?? []), reading.ts]);
        }
      }
      const sensors = new Set(bySensor.keys());
      expect(sensors.size).toBe(12);
      for (const times of bySensor.values()) {
        const history = times.slice(0, 80);
        expect(
          history.every(
            (ts, i) => ts % 3_600_000 === 0 && (i === 0 || ts - (history[i - 1] as number) === 3_600_000),
          ),
        ).toBe(true);
        // The live replay goes on in the hour after the history's last.
        expect(Math.floor((times[80] as number) / 3_600_000)).toBe((history[79] as number) / 3_600_000 + 1);
      }
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
      // The demo sent 80 past hours first, so every station has a 72-hour window at once: its
      // forecasts reach the `predictions` stream within seconds, not after three days of replay.
      const forecastSensors = new Set<string>();
      let cursor = '0';
      while (forecastSensors.size < 12) {
        const batch = await redis.xread('COUNT', 100, 'BLOCK', 10_000, 'STREAMS', 'predictions', cursor);
        const got = (batch?.[0]?.[1] ?? []) as Array<[string, string[]]>;
        if (got.length === 0) break; // nothing for 10 s: the expectation below says what is missing
        for (const [id, fields] of got) {
          cursor = id;
          forecastSensors.add(JSON.parse(fields[1] as string).sensorId);
        }
      }
      expect([...forecastSensors].sort()).toEqual(devicesSorted(dataDir));
      // ... and the public API serves them once the writer has stored them.
      let current: { sensors: Array<{ sensorId: string; horizons: unknown[] }> } = { sensors: [] };
      for (let attempt = 0; attempt < 50 && current.sensors.length < 12; attempt++) {
        const response = await fetch(`http://127.0.0.1:${port}/api/v1/predictions/current?hours=24`);
        expect(response.status).toBe(200);
        current = (await response.json()) as typeof current;
        if (current.sensors.length < 12) await Bun.sleep(200); // stored by the writer's next batch
      }
      expect(current.sensors.map((s) => s.sensorId).sort()).toEqual(devicesSorted(dataDir));
      expect(current.sensors.every((s) => s.horizons.length === 24)).toBe(true);

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
    expect(log.lines.find((line) => line.msg === 'demo history sent before the live replay')?.hours).toBe(80);

    // A restart on the same data finds the history stored and does not send it again.
    const again = await startMesh({ DEMO_SPEED: '36000' }, dataDir);
    try {
      expect((await again.log.next('demo history sent before the live replay')).hours).toBe(0);
      again.child.kill('SIGINT');
      expect(await again.child.exited).toBe(0);
    } finally {
      if (again.child.exitCode === null) again.child.kill('SIGKILL');
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}, 60_000);

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
}, 60_000); // a cold start of redis-server and chDB passed Bun's 5 s default once in CI
