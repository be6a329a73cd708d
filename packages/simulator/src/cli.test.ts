import { afterAll, expect, test } from 'bun:test';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, useServers } from '@sensormesh/testkit';
import mqtt from 'mqtt';

const root = join(import.meta.dir, '../../..');
const servers = useServers({ mosquitto: true });
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** Subscribes to every device topic and resolves with the messages once `count` have come. */
async function collect(count: number) {
  const client = await mqtt.connectAsync(servers.mosquitto.url, {
    clientId: `cli-sub-${Bun.randomUUIDv7()}`,
  });
  await client.subscribeAsync('sensors/+/readings', { qos: 1 });
  const topics: string[] = [];
  const done = new Promise<string[]>((resolve) =>
    client.on('message', (topic) => {
      topics.push(topic);
      if (topics.length === count) resolve(topics);
    }),
  );
  return { topics, done, close: () => client.endAsync() };
}

async function simulate(...args: string[]) {
  const child = Bun.spawn([join(root, 'scripts/simulate'), ...args], { stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  const events = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code, stderr, events, done: events.find((event) => event.event === 'done') };
}

test('fleet: exact message count at a fixed rate, with a dropout written to the ground-truth file', async () => {
  const dir = await tempDir('simulate');
  dirs.push(dir);
  const truth = join(dir, 'truth.jsonl');
  const sub = await collect(160);
  try {
    const run = await simulate(
      'fleet',
      '--url',
      servers.mosquitto.url,
      '--sensors',
      '5',
      '--rate',
      '200',
      '--duration',
      '1s',
      '--faults',
      'dropout:sim-00001@0s+10s',
      '--truth',
      truth,
    );
    expect(run.code).toBe(0);
    expect(run.done).toMatchObject({ sent: 160, published: 160, acked: 160, errors: 0 });
    const topics = await sub.done;
    expect(topics.filter((topic) => topic === 'sensors/sim-00001/readings')).toHaveLength(0);
    expect(new Set(topics).size).toBe(4);
    const lines = (await Bun.file(truth).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({ kind: 'dropout', sensorId: 'sim-00001', affected: 40 }),
    ]);
  } finally {
    await sub.close();
  }
});

test('replay: one station from a chosen hour to the end of the data, once', async () => {
  const sub = await collect(16);
  try {
    const run = await simulate(
      'replay',
      '--url',
      servers.mosquitto.url,
      '--speed',
      '360000',
      '--stations',
      'dongsi',
      '--from',
      '2016-02-29T00:00:00Z',
      '--once',
    );
    expect(run.code).toBe(0);
    expect(run.done).toMatchObject({ sent: 16, acked: 16 });
    expect(new Set(await sub.done)).toEqual(new Set(['sensors/aq-beijing-dongsi/readings']));
  } finally {
    await sub.close();
  }
});

test('bad flags exit 2 with the reason and the usage', async () => {
  const run = await simulate(
    'fleet',
    '--sensors',
    '10',
    '--rate',
    '50000',
    '--duration',
    '1s',
    '--url',
    'mqtt://127.0.0.1:1',
  );
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('--rate / --sensors must be at most 1000');
  const unknown = await simulate('replay', '--stations', 'atlantis');
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('unknown station atlantis');
});
