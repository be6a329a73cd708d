import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { compareIds, type Prediction, predictions, type Reading, readings } from '@sensormesh/bus';
import { insertReadings, type ReadingRow } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { type Frame, reading, type StreamGateway, streamGateway, type TestSocket } from './test-support.ts';

let sg: StreamGateway;
// Registered before useServers, so it runs before the servers stop.
afterAll(() => sg?.close());
const servers = useServers({ redis: true, clickhouse: true });
beforeAll(async () => {
  sg = await streamGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
});

/** Publishes readings in batches, yielding between them so the fan-out interleaves with the test. */
async function publishAll(batch: Reading[], size = 10): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < batch.length; start += size)
    ids.push(...(await sg.publisher.publishBatch(readings, batch.slice(start, start + size))));
  return ids;
}

/** What a client should see of a reading: its cursor, sensor and the number carried in pm25. */
const seen = (frame: Frame) =>
  `${frame.cursor} ${frame.data?.sensorId} ${(frame.data?.metrics as Reading['metrics'] | undefined)?.pm25}`;

function expectStrictlyIncreasing(cursors: string[]): void {
  for (let i = 1; i < cursors.length; i++)
    expect(compareIds(cursors[i - 1] as string, cursors[i] as string)).toBeLessThan(0);
}

/** A one-step forecast numbered n. */
const forecast = (n: number): Prediction => ({
  sensorId: 's-1',
  metric: 'pm25',
  ts: 1_732_000_000_000 + n,
  horizons: [{ minutes: 60, p10: 1, p50: 2, p90: 3 }],
  model: 'pm25-forecast',
  modelVersion: '1',
  createdAt: 1_732_000_000_000 + n,
});

async function subscribe(socket: TestSocket, message: Record<string, unknown>): Promise<Frame> {
  socket.send({ type: 'subscribe', ...message });
  return socket.next((frame) => frame.id === message.id && ['subscribed', 'error'].includes(frame.type));
}

describe('resume without gaps', () => {
  test('a client that disconnects mid-stream and resumes with its last cursor gets every event exactly once, in order', async () => {
    const mine = new Set(['s-1', 's-2']);
    const all = Array.from({ length: 300 }, (_, n) => reading(`s-${(n % 3) + 1}`, n));

    const first = await sg.connect();
    expect(
      await subscribe(first, { id: 'live', channel: 'readings', filter: { sensorIds: [...mine] } }),
    ).toMatchObject({
      type: 'subscribed',
      channel: 'readings',
    });
    // Publishing runs on its own for the whole test: through the disconnect, the replay and the handover.
    const published = publishAll(all);
    const before = await first.events('live', (events) => events.length >= 60);
    await first.close();
    const lastCursor = before.at(-1)?.cursor as string;

    const second = await sg.connect();
    expect(
      await subscribe(second, {
        id: 'live',
        channel: 'readings',
        filter: { sensorIds: [...mine] },
        since: lastCursor,
      }),
    ).toMatchObject({ type: 'subscribed', cursor: lastCursor });
    const ids = await published;
    const expected = all
      .map((r, index) => ({ r, id: ids[index] as string }))
      .filter(({ r }) => mine.has(r.sensorId))
      .map(({ r, id }) => `${id} ${r.sensorId} ${r.metrics.pm25}`);
    const after = await second.events('live', (events) => before.length + events.length >= expected.length);

    const received = [...before, ...after].map(seen);
    expect(received).toEqual(expected);
    expectStrictlyIncreasing([...before, ...after].map((frame) => frame.cursor as string));
    // The replay ends with a `replayed` frame (after the last event when it replayed them all).
    await second.seen((frame) => frame.type === 'replayed' && frame.id === 'live');
    // Nothing more arrives for it: a round trip after the last event shows no extra event frame.
    await second.roundTrip();
    expect(second.frames.filter((frame) => frame.type === 'event').length).toBe(after.length);
    await second.close();
  });

  test('a resume cursor with nothing after it hands over to live at once', async () => {
    const [id] = await sg.publisher.publishBatch(readings, [reading('s-1', 1)]);
    const socket = await sg.connect();
    // The fan-out may not have published it yet; the replay then waits for the fan-out to reach it.
    expect(await subscribe(socket, { id: 'r', channel: 'readings', since: id })).toMatchObject({
      type: 'subscribed',
    });
    expect(await socket.nextOf('replayed', 'r')).toMatchObject({ cursor: id });
    const [next] = await sg.publisher.publishBatch(readings, [reading('s-1', 2)]);
    expect(await socket.nextOf('event', 'r')).toMatchObject({ cursor: next, data: { sensorId: 's-1' } });
    await socket.close();
  });

  test('a subscription without a cursor gets every event after the cursor it is given', async () => {
    const earlier = await publishAll([reading('s-1', 1), reading('s-1', 2)]);
    const socket = await sg.connect();
    const subscribed = await subscribe(socket, { id: 'x', channel: 'readings' });
    const later = await publishAll([reading('s-1', 3), reading('s-2', 4)]);
    // The fan-out may or may not have published the earlier two when the subscription began.
    const expected = [...earlier, ...later].filter((id) => compareIds(id, subscribed.cursor as string) > 0);
    expect(expected.slice(-2)).toEqual(later);
    const events = await socket.events('x', (events) => events.at(-1)?.cursor === later[1]);
    expect(events.map((frame) => frame.cursor)).toEqual(expected);
    await socket.close();
  });

  test('readings the stream trimmed are replayed from ClickHouse, then from the stream, then live', async () => {
    const all = Array.from({ length: 60 }, (_, n) => reading(`s-${(n % 2) + 1}`, n, { no2: n * 2 }));
    const ids = await publishAll(all, 20);
    // What the writer stores: every metric row with the reading's entry id.
    const rows: ReadingRow[] = all.flatMap((r, index) => {
      const [ms, seq] = (ids[index] as string).split('-').map(Number);
      return Object.entries(r.metrics).map(([metric, value]) => ({
        sensorId: r.sensorId,
        metric,
        ts: r.ts,
        value,
        receivedAt: r.receivedAt,
        source: r.source,
        entryMs: ms,
        entrySeq: seq,
      }));
    });
    await insertReadings(sg.gw.store)(rows);
    // The trimmer dropped the first 40 entries (the writer had them).
    await sg.gw.redis.xtrim(readings.name, 'MINID', ids[40] as string);
    expect(await sg.gw.redis.xlen(readings.name)).toBe(20);

    const whole = await sg.connect();
    const narrow = await sg.connect();
    const since = ids[9] as string;
    await subscribe(whole, { id: 'w', channel: 'readings', since });
    await subscribe(narrow, {
      id: 'n',
      channel: 'readings',
      since,
      filter: { sensorIds: ['s-2'], metrics: ['no2'] },
    });
    const more = Array.from({ length: 10 }, (_, n) => reading(`s-${(n % 2) + 1}`, 60 + n, { no2: 0 }));
    const moreIds = await publishAll(more);

    const allIds = [...ids, ...moreIds];
    const allReadings = [...all, ...more];
    const wholeEvents = await whole.events('w', (events) => events.length >= 60 - 10 + 10);
    expect(wholeEvents.map((frame) => frame.cursor)).toEqual(allIds.slice(10));
    // Archived readings look like live ones (sensor, ts, every metric, receivedAt, source).
    expect(wholeEvents.map((frame) => frame.data)).toEqual(
      allReadings.slice(10) as unknown as Record<string, unknown>[],
    );
    // The handover: events before `replayed` are at or before its cursor, those after it later.
    await whole.seen((frame) => frame.type === 'replayed');
    const handover = whole.frames.findIndex((frame) => frame.type === 'replayed');
    const cursor = whole.frames[handover]?.cursor as string;
    for (const [index, frame] of whole.frames.entries()) {
      if (frame.type !== 'event') continue;
      expect(compareIds(frame.cursor as string, cursor) <= 0).toBe(index < handover);
    }

    const expectedNarrow = allReadings
      .map((r, index) => ({ r, id: allIds[index] as string }))
      .slice(10)
      .filter(({ r }) => r.sensorId === 's-2')
      .map(({ r, id }) => ({ cursor: id, data: { ...r, metrics: { no2: r.metrics.no2 } } }));
    const narrowEvents = await narrow.events('n', (events) => events.length >= expectedNarrow.length);
    expect(narrowEvents.map((frame) => ({ cursor: frame.cursor, data: frame.data }))).toEqual(expectedNarrow);
    await narrow.roundTrip();
    expect(narrow.frames.filter((frame) => frame.type === 'event').length).toBe(expectedNarrow.length);
    await whole.close();
    await narrow.close();
  });

  test('the cursor of a stream that was still empty resumes from its start', async () => {
    const socket = await sg.connect();
    expect(await subscribe(socket, { id: 'e', channel: 'predictions' })).toMatchObject({ cursor: '0-0' });
    await socket.close();
    const again = await sg.connect();
    const ids = await sg.publisher.publishBatch(predictions, [forecast(1), forecast(2)]);
    expect(await subscribe(again, { id: 'e', channel: 'predictions', since: '0-0' })).toMatchObject({
      type: 'subscribed',
    });
    const events = await again.events('e', (events) => events.length >= 2);
    expect(events.map((frame) => frame.cursor)).toEqual(ids);
    await again.close();
  });
});
