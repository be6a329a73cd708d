import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { type TestIngest, testIngest } from './test-support.ts';

const servers = useServers({ redis: true, clickhouse: true });
let ingest: TestIngest;
let auth: Record<string, string>;

beforeAll(async () => {
  ingest = await testIngest(
    { redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url },
    { INGEST_MAX_BATCH: '3', INGEST_MAX_PAYLOAD_BYTES: '2048', INGEST_RETENTION_DAYS: '30' },
  );
  auth = { authorization: `Bearer ${await ingest.sensor('aq-1')}` };
});
afterAll(async () => {
  await ingest?.close();
});

/** Sends one reading with a bad field beside a good one; returns the answer and what got stored. */
async function partial(metrics: Record<string, unknown>) {
  const before = await ingest.readings();
  const response = await ingest.call('/api/v1/ingest', {
    body: { sensorId: 'aq-1', ts: Date.now(), metrics: { ...metrics, no2: 40 } },
    headers: auth,
  });
  const after = await ingest.readings();
  return { response, stored: after.slice(before.length) };
}

describe('per-field refusals keep the rest of the reading', () => {
  test.each([
    ['unknown metric', { bogus: 1 }, 'metrics.bogus', 'unknown_metric'],
    ['non-number', { pm25: 'twelve' }, 'metrics.pm25', 'not_a_number'],
    ['NaN as a string', { pm25: 'NaN' }, 'metrics.pm25', 'not_a_number'],
    ['Infinity as a string', { pm25: 'Infinity' }, 'metrics.pm25', 'not_a_number'],
    ['out of range', { rh: 300 }, 'metrics.rh', 'out_of_range'],
    ['vendor sentinel -999', { temp: -999 }, 'metrics.temp', 'sentinel'],
  ])('%s → partial, only the good field stored', async (_name, bad, field, code) => {
    const { response, stored } = await partial(bad);
    expect(response.status).toBe(202);
    expect(response.json.results).toEqual([
      {
        index: 0,
        status: 'partial',
        id: expect.any(String),
        rejected: [expect.objectContaining({ field, code })],
      },
    ]);
    expect(stored).toEqual([expect.objectContaining({ sensorId: 'aq-1', metrics: { no2: 40 } })]);
  });

  test.each([
    ['six minutes ahead', Date.now() + 360_000, 'future_timestamp'],
    ['older than the retention', Date.now() - 31 * 86_400_000, 'too_old'],
    ['no zone', '2026-01-01T00:00:00', 'bad_timestamp'],
  ])('timestamp %s → that item rejected, the others of the batch kept', async (_name, ts, code) => {
    const before = await ingest.lengths();
    const response = await ingest.call('/api/v1/ingest', {
      body: [
        { sensorId: 'aq-1', ts, metrics: { pm25: 1 } },
        { sensorId: 'aq-1', ts: Date.now(), metrics: { pm25: 2 } },
      ],
      headers: auth,
    });
    expect(response.status).toBe(202);
    expect(response.json).toMatchObject({ accepted: 1, rejected: 1 });
    expect(response.json.results[0]).toEqual({
      index: 0,
      status: 'rejected',
      rejected: [expect.objectContaining({ field: 'ts', code })],
    });
    expect(response.json.results[1].status).toBe('accepted');
    expect((await ingest.readings()).slice(before.readings).map((r) => r.metrics)).toEqual([{ pm25: 2 }]);
    expect((await ingest.lengths()).dlq).toBe(before.dlq);
  });

  test('refused fields are counted by source and code', async () => {
    await partial({ bogus: 1 });
    const text = await ingest.ctx.registry.metrics();
    expect(text).toMatch(/ingest_rejections_total\{source="http",code="unknown_metric"\} [1-9]/);
  });
});

describe('requests refused whole change nothing', () => {
  const raw = (body: string, headers: Record<string, string> = {}) =>
    ingest.call('/api/v1/ingest', { body, headers: { ...auth, ...headers } });

  test.each([
    ['malformed JSON', () => raw('{"ts": 1, "metrics": {'), 400, 'BAD_REQUEST'],
    ['a NaN literal (not JSON)', () => raw('{"ts": 1, "metrics": {"pm25": NaN}}'), 400, 'BAD_REQUEST'],
    ['an empty body', () => raw(''), 400, 'BAD_REQUEST'],
    ['wrong content type', () => raw('{}', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'form data',
      () => raw('a=1', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'an oversized body',
      () => raw(JSON.stringify({ ts: 1, metrics: { pm25: 1 }, pad: 'x'.repeat(3_000) })),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['a lying Content-Length', () => raw('{}', { 'content-length': '999999' }), 413, 'PAYLOAD_TOO_LARGE'],
    [
      'a batch over INGEST_MAX_BATCH',
      () => raw(JSON.stringify(Array.from({ length: 4 }, () => ({ ts: Date.now(), metrics: { pm25: 1 } })))),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['an empty batch', () => raw('[]'), 422, 'VALIDATION_FAILED'],
    ['a bare number', () => raw('42'), 422, 'VALIDATION_FAILED'],
  ])('%s', async (_name, send, status, code) => {
    const before = await ingest.lengths();
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.json).toEqual({
      error: expect.objectContaining({ code, message: expect.any(String), requestId: expect.any(String) }),
    });
    expect(await ingest.lengths()).toEqual(before);
  });

  test('a body streamed without Content-Length is cut off at the limit', async () => {
    const before = await ingest.lengths();
    const chunk = new TextEncoder().encode(`[${'{"ts":1,"metrics":{"pm25":1}},'.repeat(100)}`);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await ingest.app.handle(
      new Request('http://localhost/api/v1/ingest', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: stream,
      }),
    );
    expect(response.status).toBe(413);
    expect(await ingest.lengths()).toEqual(before);
  });
});
