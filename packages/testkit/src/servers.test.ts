import { describe, expect, test } from 'bun:test';
import Redis from 'ioredis';
import mqtt from 'mqtt';
import { MissingBinaryError, requireBinary, useServers } from './index.ts';

describe('testkit servers', () => {
  const servers = useServers({ redis: true, clickhouse: true, mosquitto: true });

  test('redis answers on its loopback port', async () => {
    const client = new Redis(servers.redis.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  test('clickhouse answers SQL over HTTP and reports its version', async () => {
    const response = await fetch(servers.clickhouse.url, { method: 'POST', body: 'SELECT 1 + 1' });
    expect((await response.text()).trim()).toBe('2');
    expect(servers.clickhouse.version).toMatch(/^\d+\.\d+/);
  });

  test('clickhouse kill() refuses connections; restart() serves the same data on the same port', async () => {
    const { url } = servers.clickhouse;
    const run = async (body: string) => (await (await fetch(url, { method: 'POST', body })).text()).trim();
    await run('CREATE TABLE default.survives (n UInt8) ENGINE = MergeTree ORDER BY n');
    await run('INSERT INTO default.survives VALUES (7)');
    await servers.clickhouse.kill();
    await expect(fetch(`${url}/ping`)).rejects.toThrow();
    await servers.clickhouse.restart();
    expect(await run('SELECT n FROM default.survives')).toBe('7');
  });

  test('mosquitto delivers a message on loopback', async () => {
    const client = await mqtt.connectAsync(servers.mosquitto.url);
    await client.subscribeAsync('t/1', { qos: 1 });
    const received = new Promise<string>((resolve) =>
      client.on('message', (_t, payload) => resolve(String(payload))),
    );
    await client.publishAsync('t/1', 'hello', { qos: 1 });
    expect(await received).toBe('hello');
    await client.endAsync();
  });
});

test('a missing binary fails with a message naming it and its package', () => {
  expect(() => requireBinary('no-such-server-binary', 'no-such-package')).toThrow(MissingBinaryError);
  expect(() => requireBinary('no-such-server-binary', 'no-such-package')).toThrow(
    /no-such-server-binary not found.*apt-get install no-such-package/,
  );
});
