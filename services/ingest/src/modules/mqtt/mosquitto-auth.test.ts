import { afterAll, beforeAll, expect, test } from 'bun:test';
import { join } from 'node:path';
import { freePort, requireBinary, tempDir, useServers } from '@sensormesh/testkit';
import type { Subprocess } from 'bun';
import mqtt from 'mqtt';
import { startBrokerClient } from './broker-client.ts';
import { aclFile, collectAccounts, passwordFile } from './mosquitto-auth.ts';
import { shareMembersKey } from './share-members.ts';
import {
  createSensors,
  deployedQueueSettings,
  mqttTestContext,
  sessionPresent,
  waitFor,
} from './test-support.ts';

const servers = useServers({ redis: true, clickhouse: true });
const INGEST = { username: 'sensormesh-ingest', password: 'ingest-secret-0123456789' };
let ctx: Awaited<ReturnType<typeof mqttTestContext>>;
let keys: Map<string, string>;
const brokers: Subprocess[] = [];

beforeAll(async () => {
  ctx = await mqttTestContext({
    redisUrl: servers.redis.url,
    clickhouseUrl: servers.clickhouse.url,
    database: `mqtt_auth_${process.pid}`,
  });
  keys = await createSensors(ctx, ['dev-a', 'dev-b']);
  await ctx.sensors.create({ id: 'dev-pending', name: 'p', kind: 'air-quality' }, 'test', {
    status: 'pending',
  });
}, 60_000);

afterAll(async () => {
  for (const broker of brokers) broker.kill('SIGKILL');
  await ctx?.close();
});

/** Ingest's settings as a client of `url` with the ingest account. */
const ingestOn = (url: string) => ({
  ...ctx.config,
  MQTT_URL: url,
  MQTT_USERNAME: INGEST.username,
  MQTT_PASSWORD: INGEST.password,
});

/** Records another running replica in `group`, as its own start would (share-members.ts). */
const anotherMember = (group: string) =>
  ctx.redis.zadd(shareMembersKey(group), Date.now() + 60_000, `another-replica-${process.pid}`);

/** Mosquitto with deploy's settings and the generated files; probed with the ingest account. */
async function startSecuredMosquitto(dir: string): Promise<string> {
  const port = await freePort();
  const conf = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${join(dir, 'passwords')}`,
    `acl_file ${join(dir, 'acl')}`,
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    ...(await deployedQueueSettings()),
  ];
  await Bun.write(join(dir, 'mosquitto.conf'), `${conf.join('\n')}\n`);
  const broker = Bun.spawn([requireBinary('mosquitto', 'mosquitto'), '-c', join(dir, 'mosquitto.conf')], {
    stdout: 'ignore',
    stderr: 'ignore',
  });
  brokers.push(broker);
  const url = `mqtt://127.0.0.1:${port}`;
  await waitFor('mosquitto', () =>
    mqtt
      .connectAsync(url, { ...INGEST, reconnectPeriod: 0 })
      .then((client) => client.endAsync().then(() => true))
      .catch(() => false),
  );
  return url;
}

test('registry → password and ACL files: devices log in with their keys, each only to its own topic', async () => {
  // A stale key is left out, a missing one too, unless keys may be issued.
  const partial = await collectAccounts(
    ctx.sensors,
    new Map([
      ['dev-a', keys.get('dev-a') ?? ''],
      ['dev-b', 'smd_old'],
    ]),
    {
      issueMissing: false,
      actor: 'test',
    },
  );
  expect(partial.accounts.map((a) => a.username)).toEqual(['dev-a']);
  expect(partial.stale).toEqual(['dev-b']);
  expect(partial.missing).toEqual(['dev-pending']);

  const found = await collectAccounts(ctx.sensors, new Map([['dev-a', keys.get('dev-a') ?? '']]), {
    issueMissing: true,
    actor: 'test',
  });
  expect(found.accounts.map((a) => a.username).sort()).toEqual(['dev-a', 'dev-b', 'dev-pending']);
  expect([...found.issued.keys()].sort()).toEqual(['dev-b', 'dev-pending']);
  expect(await ctx.sensors.verifyDeviceKey('dev-b', found.issued.get('dev-b') ?? '')).toBe(true);

  const dir = await tempDir('mosquitto-auth');
  await Bun.write(join(dir, 'passwords'), passwordFile([INGEST, ...found.accounts]));
  await Bun.write(
    join(dir, 'acl'),
    aclFile(
      INGEST.username,
      found.accounts.map((a) => a.username),
    ),
  );
  const url = await startSecuredMosquitto(dir);

  await ctx.redis.del('readings', 'dlq');
  const config = ingestOn(url);
  const ingest = startBrokerClient({ ...ctx, config });
  await ingest.ready;

  // Resolves on close too: Mosquitto may drop a refused socket before mqtt.js reads the CONNACK.
  const login = (options: { username?: string; password?: string }) =>
    new Promise<string>((resolve) => {
      const client = mqtt.connect(url, { ...options, reconnectPeriod: 0 });
      const done = (outcome: string) => {
        resolve(outcome); // the first outcome wins; later calls do nothing
        client.end(true);
      };
      client.once('connect', () => done('connected'));
      client.once('error', () => done('refused'));
      client.once('close', () => done('refused'));
    });
  expect(await login({ username: 'dev-a', password: 'smd_wrong' })).toBe('refused');
  expect(await login({ username: 'nobody', password: keys.get('dev-a') })).toBe('refused');
  expect(await login({})).toBe('refused');
  expect(await login({ username: 'dev-b', password: found.issued.get('dev-b') })).toBe('connected');

  const asDevA = () =>
    mqtt.connectAsync(url, { username: 'dev-a', password: keys.get('dev-a'), reconnectPeriod: 0 });
  const body = (messageId: string) => JSON.stringify({ ts: Date.now(), metrics: { pm25: 5 }, messageId });
  // Mosquitto 2.0.11 denies a publish to another sensor's topic and drops an MQTT 3.1.1 client for it
  // (an MQTT 5 client gets PUBACK 0x87): the close proves the broker has judged it.
  const spoofer = await asDevA();
  const dropped = new Promise<void>((resolve) => spoofer.once('close', () => resolve()));
  await spoofer.publishAsync('sensors/dev-b/readings', body('spoofed'), { qos: 0 });
  await dropped;
  spoofer.end(true);
  const device = await asDevA();
  await device.publishAsync('sensors/dev-a/readings', body('own'), { qos: 1 });
  await device.endAsync();
  await waitFor('the own reading', async () => (await ctx.redis.xlen('readings')) >= 1);
  await ingest.stop();
  const ids = (await ctx.redis.xrange('readings', '-', '+')).map(
    ([, f]) => JSON.parse(f[1] as string).messageId,
  );
  expect(ids).toEqual(['own']);
  // The ACL lets ingest leave the shared subscription: the drain marker went round, the session ended.
  // (A leave needs another member to hand the share to: one is recorded as a running replica would.)
  await anotherMember(config.MQTT_SHARE_GROUP);
  const leaving = startBrokerClient({ ...ctx, config: { ...config, MQTT_ON_STOP: 'leave' } });
  await leaving.ready;
  await leaving.stop();
  expect(await sessionPresent(url, config.MQTT_CLIENT_ID, INGEST)).toBe(false);
}, 60_000);

test('a leave the broker refuses keeps the session, and what waits in it comes on the next start', async () => {
  const dir = await tempDir('mosquitto-auth-no-drain');
  await Bun.write(
    join(dir, 'passwords'),
    passwordFile([INGEST, { username: 'dev-a', password: keys.get('dev-a') ?? '' }]),
  );
  // An ACL written before ingest had drain topics: the broker refuses the leave's marker.
  const acl = aclFile(INGEST.username, ['dev-a'])
    .split('\n')
    .filter((line) => !line.includes('ingest/drain'));
  await Bun.write(join(dir, 'acl'), acl.join('\n'));
  const url = await startSecuredMosquitto(dir);
  await ctx.redis.del('readings', 'dlq');
  const config = { ...ingestOn(url), MQTT_ON_STOP: 'leave' as const };
  await anotherMember(config.MQTT_SHARE_GROUP); // so that only the broker's refusal keeps the session
  const first = startBrokerClient({ ...ctx, config });
  await first.ready;
  await first.stop();
  expect(await ctx.redis.xlen('readings')).toBe(0);
  // Published while no ingest runs: it waits in the kept session (a lost session would drop it).
  const device = await mqtt.connectAsync(url, {
    username: 'dev-a',
    password: keys.get('dev-a'),
    reconnectPeriod: 0,
  });
  await device.publishAsync(
    'sensors/dev-a/readings',
    JSON.stringify({ ts: Date.now(), metrics: { pm25: 5 }, messageId: 'waited' }),
    { qos: 1 },
  );
  await device.endAsync();
  const again = startBrokerClient({ ...ctx, config: { ...config, MQTT_ON_STOP: 'keep' } });
  await waitFor('the waiting reading', async () => (await ctx.redis.xlen('readings')) >= 1);
  await again.stop();
  const ids = (await ctx.redis.xrange('readings', '-', '+')).map(
    ([, f]) => JSON.parse(f[1] as string).messageId,
  );
  expect(ids).toEqual(['waited']);
}, 60_000);
