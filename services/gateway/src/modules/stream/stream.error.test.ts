import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readings } from '@sensormesh/bus';
import { useServers } from '@sensormesh/testkit';
import { ADMIN } from '../../test-support/gateway.ts';
import { reading, type StreamGateway, streamGateway, type TestSocket } from './test-support.ts';

let sg: StreamGateway;
afterAll(() => sg?.close());
const servers = useServers({ redis: true, clickhouse: true });
beforeAll(async () => {
  sg = await streamGateway(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { STREAM_MAX_CONNECTIONS_PER_IP: '3', STREAM_MAX_SUBSCRIPTIONS: '2' },
  );
});

/** Sends a message and returns the error frame it earns. */
async function refused(socket: TestSocket, message: unknown) {
  socket.send(message);
  return socket.nextOf('error');
}

describe('bad messages get an error frame and the socket stays up', () => {
  test.each([
    ['malformed JSON', '{"type": "subscribe", ', { code: 'BAD_REQUEST' }],
    ['plain text', 'hello', { code: 'BAD_REQUEST' }],
    ['a JSON array', '[1, 2]', { code: 'BAD_REQUEST' }],
    ['a JSON number', '42', { code: 'BAD_REQUEST' }],
    ['an unknown type', { type: 'publish' }, { code: 'VALIDATION_FAILED', details: [{ path: '/type' }] }],
    ['no type', { id: 'a' }, { code: 'VALIDATION_FAILED', id: 'a' }],
    [
      'an unknown channel',
      { type: 'subscribe', id: 'a', channel: 'weather' },
      { code: 'VALIDATION_FAILED', id: 'a', details: [{ path: '/channel' }] },
    ],
    [
      'sensorIds that is no list',
      { type: 'subscribe', id: 'a', channel: 'readings', filter: { sensorIds: 's-1' } },
      {
        code: 'VALIDATION_FAILED',
        id: 'a',
        details: expect.arrayContaining([{ path: '/filter/sensorIds', message: expect.any(String) }]),
      },
    ],
    [
      'an unknown filter field',
      { type: 'subscribe', id: 'a', channel: 'readings', filter: { colour: 'red' } },
      { code: 'VALIDATION_FAILED', id: 'a' },
    ],
    [
      'an upside-down bounding box',
      { type: 'subscribe', id: 'a', channel: 'readings', filter: { bbox: [110, 45, 120, 35] } },
      { code: 'VALIDATION_FAILED', id: 'a', details: [{ path: '/filter/bbox' }] },
    ],
    [
      'a bounding box off the globe',
      { type: 'subscribe', id: 'a', channel: 'readings', filter: { bbox: [110, 35, 190, 45] } },
      { code: 'VALIDATION_FAILED', id: 'a' },
    ],
    [
      'an empty metrics list',
      { type: 'subscribe', id: 'a', channel: 'readings', filter: { metrics: [] } },
      { code: 'VALIDATION_FAILED', id: 'a' },
    ],
    [
      'a cursor that is no stream id',
      { type: 'subscribe', id: 'a', channel: 'readings', since: 'yesterday' },
      { code: 'VALIDATION_FAILED', id: 'a', details: [{ path: '/since' }] },
    ],
    [
      'a cursor past 64 bits',
      { type: 'subscribe', id: 'a', channel: 'readings', since: '99999999999999999999-0' },
      { code: 'VALIDATION_FAILED', id: 'a' },
    ],
    [
      'a cursor ahead of the stream',
      { type: 'subscribe', id: 'a', channel: 'readings', since: `${Date.now() + 86_400_000}-0` },
      { code: 'VALIDATION_FAILED', id: 'a', message: 'the cursor is ahead of the stream' },
    ],
    ['an unknown subscription', { type: 'unsubscribe', id: 'nope' }, { code: 'NOT_FOUND', id: 'nope' }],
    [
      'an extra field',
      { type: 'ping', please: true },
      { code: 'VALIDATION_FAILED', details: [{ path: '/please' }] },
    ],
  ] as const)('%s', async (_, message, expected) => {
    const socket = await sg.connect();
    expect(await refused(socket, message)).toMatchObject(expected);
    // Still up, and the bad message subscribed nothing: a reading reaches only a probe subscribed now.
    socket.send({ type: 'subscribe', id: 'probe', channel: 'readings' });
    await socket.nextOf('subscribed', 'probe');
    const [id] = await sg.publisher.publishBatch(readings, [reading('s-1', 1)]);
    await socket.next((frame) => frame.type === 'event' && frame.cursor === id);
    await socket.roundTrip();
    expect(socket.frames.filter((frame) => frame.type === 'event').map((frame) => frame.id)).toEqual([
      'probe',
    ]);
    await socket.close();
  });

  test('a cursor older than the replay horizon, on a stream trimmed since: GONE', async () => {
    await sg.publisher.publishBatch(readings, [reading('s-1', 1), reading('s-1', 2)]);
    await sg.gw.redis.xtrim(readings.name, 'MAXLEN', 1);
    const socket = await sg.connect();
    expect(
      await refused(socket, { type: 'subscribe', id: 'a', channel: 'readings', since: '1000-0' }),
    ).toMatchObject({
      code: 'GONE',
      id: 'a',
    });
    await socket.roundTrip();
    await socket.close();
  });

  test('a binary message', async () => {
    const socket = await sg.connect();
    socket.ws.send(new Uint8Array([1, 2, 3]));
    expect(await socket.nextOf('error')).toMatchObject({ code: 'BAD_REQUEST' });
    await socket.roundTrip();
    await socket.close();
  });

  test('a subscription id in use answers CONFLICT and keeps the first subscription', async () => {
    const socket = await sg.connect();
    socket.send({ type: 'subscribe', id: 'a', channel: 'readings', filter: { sensorIds: ['s-1'] } });
    await socket.nextOf('subscribed', 'a');
    expect(await refused(socket, { type: 'subscribe', id: 'a', channel: 'readings' })).toMatchObject({
      code: 'CONFLICT',
      id: 'a',
    });
    const [id] = await sg.publisher
      .publishBatch(readings, [reading('s-2', 1), reading('s-1', 2)])
      .then((ids) => ids.slice(1));
    expect(await socket.nextOf('event', 'a')).toMatchObject({ cursor: id, data: { sensorId: 's-1' } });
    await socket.close();
  });
});

describe('not a WebSocket', () => {
  test('a plain GET gets 400 with the error envelope telling it to upgrade', async () => {
    const answer = await fetch(sg.url.replace('ws:', 'http:'));
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({
      error: { code: 'BAD_REQUEST', message: expect.stringContaining('Upgrade: websocket') },
    });
  });
});

describe('limits', () => {
  test('subscriptions per socket: one too many is refused; unsubscribing makes room', async () => {
    const socket = await sg.connect();
    for (const id of ['a', 'b']) {
      socket.send({ type: 'subscribe', id, channel: 'readings' });
      await socket.nextOf('subscribed', id);
    }
    expect(await refused(socket, { type: 'subscribe', id: 'c', channel: 'readings' })).toMatchObject({
      code: 'RATE_LIMITED',
      id: 'c',
    });
    socket.send({ type: 'unsubscribe', id: 'a' });
    expect(await socket.nextOf('unsubscribed', 'a')).toMatchObject({ id: 'a' });
    socket.send({ type: 'subscribe', id: 'c', channel: 'readings' });
    await socket.nextOf('subscribed', 'c');
    // Events now go to b and c only.
    const [id] = await sg.publisher.publishBatch(readings, [reading('s-9', 9)]);
    expect(await socket.nextOf('event', 'b')).toMatchObject({ cursor: id });
    expect(await socket.nextOf('event', 'c')).toMatchObject({ cursor: id });
    await socket.roundTrip();
    expect(socket.frames.filter((frame) => frame.type === 'event' && frame.id === 'a')).toEqual([]);
    await socket.close();
  });

  test('connections per address: one too many is closed with 4029; closing one makes room', async () => {
    const open = [await sg.connect(), await sg.connect(), await sg.connect()];
    const extra = await sg.connect();
    expect(await extra.closed).toEqual({ code: 4029, reason: 'too many connections from this address' });
    await open[0]?.close();
    const again = await sg.connect();
    await again.roundTrip();
    for (const socket of [again, ...open.slice(1)]) await socket?.close();
  });
});

describe('channels that need a user', () => {
  test('alerts, anomalies and exports without a token: UNAUTHORIZED, socket up', async () => {
    const socket = await sg.connect();
    for (const channel of ['alerts', 'anomalies', 'exports']) {
      expect(await refused(socket, { type: 'subscribe', id: channel, channel })).toMatchObject({
        code: 'UNAUTHORIZED',
        id: channel,
      });
    }
    await socket.roundTrip();
    await socket.close();
  });

  test('filters a channel does not have are refused', async () => {
    const { accessToken } = await sg.gw.login(ADMIN.email, ADMIN.password);
    const socket = await sg.connect(accessToken);
    await socket.nextOf('authenticated');
    expect(
      await refused(socket, {
        type: 'subscribe',
        id: 'e',
        channel: 'exports',
        filter: { sensorIds: ['s-1'], metrics: ['pm25'] },
      }),
    ).toMatchObject({
      code: 'VALIDATION_FAILED',
      id: 'e',
      details: [{ path: '/filter/sensorIds' }, { path: '/filter/metrics' }],
    });
    await socket.roundTrip();
    await socket.close();
  });
});
