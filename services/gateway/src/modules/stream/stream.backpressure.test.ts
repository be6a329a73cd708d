import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readings } from '@sensormesh/bus';
import type { Registry } from '@sensormesh/metrics';
import { useServers } from '@sensormesh/testkit';
import { RawSocket } from './raw-socket.ts';
import { reading, type StreamGateway, streamGateway } from './test-support.ts';

let sg: StreamGateway;
let beating: StreamGateway;
afterAll(async () => {
  await sg?.close();
  await beating?.close();
});
const servers = useServers({ redis: true, clickhouse: true });
beforeAll(async () => {
  const urls = { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url };
  sg = await streamGateway(urls, { STREAM_BUFFER_BYTES: '65536' });
  // A second gateway on the same Redis and database with a fast heartbeat.
  beating = await streamGateway(urls, { STREAM_HEARTBEAT_MS: '200' }, { database: sg.gw.database });
});

/** Sockets closed for `reason` so far (gateway_ws_closes_total). */
async function closes(registry: Registry, reason: string): Promise<number> {
  const values = (await registry.getSingleMetric('gateway_ws_closes_total')?.get())?.values ?? [];
  return values.find((value) => value.labels.reason === reason)?.value ?? 0;
}

/** A reading of about 1 KB: 40 metrics. */
const wide = (n: number) =>
  reading('s-wide', n, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`metric_${i}`, n + i / 7])));

describe('backpressure', () => {
  test('a client that stops reading is closed with 4008 while a fast client receives everything', async () => {
    const fast = await sg.connect();
    fast.send({ type: 'subscribe', id: 'f', channel: 'readings' });
    await fast.nextOf('subscribed', 'f');
    const slow = await RawSocket.open(sg.url);
    slow.send({ type: 'subscribe', id: 's', channel: 'readings' });
    await slow.text((frame) => frame.type === 'subscribed');
    slow.pause();

    // Publish until the slow socket is closed: the kernel buffers fill first, then the server's
    // queue passes STREAM_BUFFER_BYTES (64 KiB). Bounded: at most 40,000 readings (~40 MB).
    const ids: string[] = [];
    let n = 0;
    for (let batch = 0; batch < 80 && (await closes(sg.gw.ctx.registry, 'slow')) === 0; batch++) {
      const published = await sg.publisher.publishBatch(
        readings,
        Array.from({ length: 500 }, () => wide(n++)),
      );
      ids.push(...published);
      // The fast client keeps up: it has every event before the next batch goes out.
      await fast.next((frame) => frame.type === 'event' && frame.cursor === published.at(-1));
    }
    expect(await closes(sg.gw.ctx.registry, 'slow')).toBe(1);

    slow.resume();
    expect(await slow.closed).toMatchObject({ code: 4008, reason: expect.stringContaining('too slow') });
    // What it did get arrived in order, with no gap, before the close.
    const got = slow
      .texts()
      .filter((frame) => frame.type === 'event')
      .map((frame) => frame.cursor);
    expect(got).toEqual(ids.slice(0, got.length));

    const events = fast.frames.filter((frame) => frame.type === 'event' && frame.id === 'f');
    expect(events.map((frame) => frame.cursor)).toEqual(ids);
    await fast.roundTrip();
    await fast.close();
  });
});

describe('heartbeats', () => {
  test('a peer that answers no ping is dropped; a live one stays', async () => {
    const live = await beating.connect();
    const before = await closes(beating.gw.ctx.registry, 'heartbeat');
    const dead = await RawSocket.open(beating.url);
    dead.send({ type: 'ping' });
    await dead.text((frame) => frame.type === 'pong');
    // It reads (pings arrive) but never answers them.
    expect(await dead.closed).toMatchObject({ ended: true });
    expect(dead.frames.some((frame) => frame.opcode === 9)).toBe(true);
    expect(await closes(beating.gw.ctx.registry, 'heartbeat')).toBe(before + 1);
    // The Bun client answered every ping on its own.
    await live.roundTrip();
    await live.close();
  });
});
