import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { errorHandler, requestContext } from '@sensormesh/http';
import { CHANNELS } from '@sensormesh/models';
import { readStationFile } from '@sensormesh/simulator';
import { insertAnomalies, insertFeedback, insertReadings, type ReadingRow, sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { Elysia } from 'elysia';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { modelsAdminModule } from './index.ts';
import { decide, type RetrainService } from './retrain.ts';
import type { JudgedComparison } from './retrain-worker.ts';
import { cardFor, repoModel, upload } from './test-helpers.ts';

const servers = useServers({ redis: true, clickhouse: true });
const DATA = new URL('../../../../../../shared/data/beijing/train', import.meta.url).pathname;
const STATIONS = ['Dongsi', 'Guanyuan', 'Tiantan', 'Wanliu'];
const HOUR = 3_600_000;
const UNTIL = Date.UTC(2016, 1, 1);
const DAYS = 100;
let gw: TestGateway;
let admin: string;
let retrain: RetrainService;
let app: Elysia;

/** Four stations' real hours [UNTIL - DAYS, UNTIL) stored as readings (the rollups the retrain reads). */
async function storeStations(): Promise<void> {
  const from = UNTIL - DAYS * 24 * HOUR;
  for (const station of STATIONS) {
    const rows: ReadingRow[] = [];
    for await (const row of readStationFile(join(DATA, `PRSA_Data_${station}_20130301-20160229.csv.gz`))) {
      if (row.ts < from || row.ts >= UNTIL) continue;
      for (const metric of CHANNELS) {
        const value = row.metrics[metric];
        if (value !== undefined)
          rows.push({
            sensorId: `aq-${station.toLowerCase()}`,
            metric,
            ts: row.ts,
            value,
            receivedAt: 0,
            source: 'test',
          });
      }
    }
    await insertReadings(gw.store)(rows);
  }
}

async function call(method: string, path: string, body?: unknown) {
  const response = await app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  // biome-ignore lint/suspicious/noExplicitAny: assertions read the JSON loosely
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

const versions = async () =>
  Number(
    (await gw.store.query<{ n: number }>(sql`SELECT uniqExact(task, version) AS n FROM models`))[0]?.n ?? 0,
  );

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  const logger = gw.ctx.logger;
  app = new Elysia({ normalize: false })
    .use(requestContext(logger))
    .use(errorHandler(logger))
    .group('/api/v1', (api) =>
      api.use(
        modelsAdminModule(gw.ctx, {
          onRetrain(service) {
            retrain = service;
          },
        }),
      ),
    ) as unknown as Elysia;
  const forecast = await repoModel('forecast');
  expect(
    (await upload(gw, admin, forecast.bytes, cardFor(forecast.card, { version: 'f-active' }))).status,
  ).toBe(201);
  await gw.call('POST', '/api/v1/admin/models/forecast/f-active/activate', { token: admin });
  await storeStations();
}, 60_000);
afterAll(() => gw?.close());

describe('decide', () => {
  const rows = (mae: number) =>
    [1, 4, 24, 72].map((horizon) => ({ target: 'pm25', horizon, points: 10, mae: { model: mae } }));
  const score = (mae: number) => ({ forecasts: 2, points: 140, mae });
  const judged = (candidate: number, active: number): JudgedComparison => ({
    wrong: { candidate: score(candidate), active: score(active) },
    right: { candidate: score(5), active: score(5) },
  });

  test('a forecast is promoted when better on average and not worse where people marked forecasts wrong', () => {
    expect(decide('forecast', rows(10), rows(11)).better).toBe(true);
    expect(decide('forecast', rows(10), rows(11), judged(20, 21)).better).toBe(true);
    const worse = decide('forecast', rows(10), rows(11), judged(22, 21));
    expect(worse.better).toBe(false);
    expect(worse.criterion).toContain('on the 2 forecasts marked wrong 22.000 vs active 21.000');
    expect(decide('forecast', rows(12), rows(11), judged(20, 21)).better).toBe(false);
    // Nothing judged wrong that could be scored: the average decides.
    const none = { forecasts: 0, points: 0, mae: null };
    expect(
      decide('forecast', rows(10), rows(11), {
        wrong: { candidate: none, active: none },
        right: { candidate: score(5), active: score(5) },
      }).better,
    ).toBe(true);
    expect(decide('forecast', rows(10), null, judged(30, 21)).better).toBe(true);
  });
});

describe('POST /admin/models/:task/retrain', () => {
  test('bad requests are a 422 and start nothing: too few days for the tune slice, no data in the period', async () => {
    const before = await versions();
    const short = await call('POST', '/api/v1/admin/models/forecast/retrain', {
      days: 40,
      tuneMonths: 1,
      until: new Date(UNTIL).toISOString(),
    });
    expect(short.status).toBe(422);
    expect(short.json.error.message).toContain('too little to train on');
    const empty = await call('POST', '/api/v1/admin/models/forecast/retrain', {
      days: 100,
      tuneMonths: 1,
      until: '2014-01-01T00:00:00.000Z',
    });
    expect(empty.status).toBe(422);
    expect(empty.json.error.message).toContain('at least two sensors');
    expect(await versions()).toBe(before);
    expect(await gw.redis.get('models:retrain:running')).toBeNull();
  });

  test('trains from the stored hours and feedback, compares with the active version on the recent days, registers, promotes only if better', async () => {
    // A PM2.5 hour someone confirmed as a fault: left out of the training data.
    const faultTs = UNTIL - 30 * 24 * HOUR;
    const anomalyId = `f:aq-dongsi:pm25:${faultTs}:spike`;
    await insertAnomalies(gw.store)([
      {
        id: anomalyId,
        sensorId: 'aq-dongsi',
        metric: 'pm25',
        ts: faultTs,
        kind: 'spike',
        score: 0.99,
        threshold: 0.95,
        value: 900,
        expected: 50,
        windowStart: faultTs - 71 * HOUR,
        modelId: 'faults',
        modelVersion: 'f',
        streamId: '',
        detectedAt: faultTs,
      },
    ]);
    await insertFeedback(gw.store)([
      {
        id: 'fb-1',
        target: 'anomaly',
        targetId: anomalyId,
        sensorId: 'aq-dongsi',
        metric: 'pm25',
        ts: faultTs,
        verdict: 'right',
        kind: 'spike',
        note: '',
        userId: 'u',
        createdAt: faultTs + HOUR,
      },
    ]);
    // Forecasts people judged: two wrong and one right in the recent days (both versions are scored
    // on them), one wrong before them (not scored: the candidate trained on those hours).
    const judged = [
      ['aq-dongsi', 'pm25', 3, 'wrong'],
      ['aq-tiantan', 'pm10', 2, 'wrong'],
      ['aq-wanliu', 'pm25', 4, 'right'],
      ['aq-guanyuan', 'pm25', 20, 'wrong'],
    ] as const;
    await insertFeedback(gw.store)(
      judged.map(([sensorId, metric, daysBefore, verdict], i) => {
        const ts = UNTIL - daysBefore * 24 * HOUR;
        return {
          id: `fb-p${i}`,
          target: 'prediction' as const,
          targetId: `f-active:${sensorId}:${metric}:${ts}`,
          sensorId,
          metric,
          ts,
          verdict,
          kind: '',
          note: '',
          userId: 'u',
          createdAt: UNTIL,
        };
      }),
    );
    const started = await call('POST', '/api/v1/admin/models/forecast/retrain', {
      days: DAYS,
      recentDays: 7,
      tuneMonths: 1,
      until: new Date(UNTIL).toISOString(),
      quick: true,
      seed: 3,
    });
    expect(started.status).toBe(202);
    expect(started.json).toMatchObject({
      task: 'forecast',
      status: 'running',
      activeVersion: 'f-active',
      data: { sensors: 4, feedbackApplied: 1, judgedForecasts: 3, to: new Date(UNTIL).toISOString() },
    });
    // One at a time.
    const second = await call('POST', '/api/v1/admin/models/forecast/retrain', {
      days: DAYS,
      tuneMonths: 1,
      until: new Date(UNTIL).toISOString(),
    });
    expect(second.status).toBe(409);

    const job = await retrain.wait(started.json.id);
    expect(job).toMatchObject({ status: 'done', task: 'forecast' });
    const followed = await call('GET', `/api/v1/admin/models/retrain/${started.json.id}`);
    expect(followed.json).toEqual(JSON.parse(JSON.stringify(job)));
    const comparison = job?.comparison as {
      better: boolean;
      criterion: string;
      candidate: unknown[];
      active: unknown[];
      judged: JudgedComparison;
    };
    expect(comparison.candidate).toHaveLength(8); // PM2.5 and PM10 at 1, 4, 24, 72 h
    expect(comparison.active).toHaveLength(8);
    expect(comparison.criterion).toContain('mean MAE');
    expect(comparison.criterion).toContain('on the 2 forecasts marked wrong');
    // Outcomes up to UNTIL: 72 + 48 hours after the two wrong origins, 72 after the right one.
    for (const [set, forecasts, hours] of [
      ['wrong', 2, 120],
      ['right', 1, 72],
    ] as const) {
      for (const version of ['candidate', 'active'] as const) {
        const score = comparison.judged[set][version];
        expect(score?.forecasts).toBe(forecasts);
        expect(score?.points).toBeLessThanOrEqual(hours);
        expect(score?.points).toBeGreaterThan(hours - 10); // a few hours the data lacks
        expect(score?.mae).toBeGreaterThan(0);
      }
    }
    // The rule, on the figures the job reports.
    expect(comparison.better).toBe(
      decide('forecast', comparison.candidate, comparison.active, comparison.judged).better,
    );
    const { json } = await gw.call('GET', '/api/v1/admin/models', { token: admin });
    const registered = json.models.find((m: { version: string }) => m.version === job?.version);
    expect(registered).toMatchObject({ task: 'forecast', source: 'retrain' });
    expect(registered.status).toBe(comparison.better ? 'active' : 'candidate');
    expect(job?.promoted).toBe(comparison.better);
    const active = json.models.find((m: { version: string }) => m.version === 'f-active');
    expect(active.status).toBe(comparison.better ? 'retired' : 'active');
    expect(await gw.redis.get('models:retrain:running')).toBeNull();
  }, 120_000);

  test('a job saved as running whose gateway died (its lease gone) reads as failed, interrupted; a live lease keeps it running', async () => {
    const job = (id: string) => ({
      id,
      task: 'forecast',
      status: 'running',
      startedAt: new Date().toISOString(),
      requestedBy: 'someone',
      activeVersion: null,
      data: {
        sensors: 4,
        from: new Date(UNTIL - DAYS * 24 * HOUR).toISOString(),
        to: new Date(UNTIL).toISOString(),
        recentFrom: new Date(UNTIL - 14 * 24 * HOUR).toISOString(),
        feedbackApplied: 0,
      },
    });
    await gw.redis.set('models:retrain:live-1', JSON.stringify(job('live-1')));
    await gw.redis.set('models:retrain:running', 'live-1', 'PX', 60_000);
    expect((await call('GET', '/api/v1/admin/models/retrain/live-1')).json.status).toBe('running');

    // Another gateway's job, whose lease expired with it.
    await gw.redis.set('models:retrain:dead-1', JSON.stringify(job('dead-1')));
    const dead = await call('GET', '/api/v1/admin/models/retrain/dead-1');
    expect(dead.status).toBe(200);
    expect(dead.json).toMatchObject({ status: 'failed', error: expect.stringContaining('interrupted') });
    expect(dead.json.finishedAt).toBeString();
    // Recorded, not just answered.
    expect(JSON.parse((await gw.redis.get('models:retrain:dead-1')) as string).status).toBe('failed');
    // The lease is short, not the hour the old lock held for.
    expect(await gw.redis.pttl('models:retrain:running')).toBeLessThanOrEqual(60_000);
    await gw.redis.del('models:retrain:running', 'models:retrain:live-1');
  });

  test('an unknown job is a 404', async () => {
    expect((await call('GET', '/api/v1/admin/models/retrain/nope')).status).toBe(404);
  });
});
