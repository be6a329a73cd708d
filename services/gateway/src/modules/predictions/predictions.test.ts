import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { computeAqi } from '@sensormesh/aqi';
import { CHANNELS, ForecastScorer, WINDOW_HOURS } from '@sensormesh/models';
import { insertAnomalies, insertPredictions, insertReadings, sql } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { ADMIN, type TestGateway, testGateway } from '../../test-support/gateway.ts';
import { addSensor } from '../dashboard/test-helpers.ts';
import { cardFor, MODELS_DIR, repoModel, upload } from '../models-admin/test-helpers.ts';

const servers = useServers({ redis: true, clickhouse: true });
let gw: TestGateway;
let admin: string;
let pro: string;
let scorer: ForecastScorer;
const HOUR = 3_600_000;
const ORIGIN = Date.UTC(2026, 0, 10, 11);

/** A plausible, complete window: a smooth daily cycle of every channel. */
const window = Array.from({ length: WINDOW_HOURS }, (_, h) =>
  [40, 70, 8, 35, 900, 45, 5, 1015, -5, 0, 2.5, 200].map((v, c) =>
    c < 6 ? v * (1 + 0.3 * Math.sin(h / 4)) : v,
  ),
);

beforeAll(async () => {
  gw = await testGateway({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  admin = (await gw.login(ADMIN.email, ADMIN.password)).accessToken;
  await gw.call('POST', '/api/v1/auth/register', {
    body: { email: 'pro@example.org', password: 'river-stone-4821' },
  });
  pro = (await gw.login('pro@example.org', 'river-stone-4821')).accessToken;
  for (const task of ['forecast', 'faults'] as const) {
    const model = await repoModel(task);
    expect(
      (await upload(gw, admin, model.bytes, cardFor(model.card, { version: `${task}-t1` }))).status,
    ).toBe(201);
    await gw.call('POST', `/api/v1/admin/models/${task}/${task}-t1/activate`, { token: admin });
  }
  scorer = await ForecastScorer.load(`${MODELS_DIR}/forecast.onnx`);
  await addSensor(gw, 'aq-1');
  await addSensor(gw, 'aq-2');
}, 30_000);
afterAll(async () => {
  await scorer?.release();
  await gw?.close();
});

describe('POST /predict and /predict-batch', () => {
  test('a forecast window is scored by the active model, with intervals and the AQI of each hour', async () => {
    const { status, json } = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { values: window, origin: new Date(ORIGIN).toISOString() },
    });
    expect(status).toBe(200);
    expect(json).toMatchObject({ modelVersion: 'forecast-t1', origin: new Date(ORIGIN).toISOString() });
    const [expected] = await scorer.score([{ originTs: ORIGIN, values: window }]);
    expect(json.forecast).toHaveLength(72);
    const h24 = json.forecast[23];
    expect(h24.at).toBe(new Date(ORIGIN + 24 * HOUR).toISOString());
    expect(h24.pm25.p50).toBeCloseTo(expected?.pm25[23]?.p50 as number, 3);
    expect(h24.pm10.p90).toBeCloseTo(expected?.pm10[23]?.p90 as number, 3);
    const aqi = computeAqi('us-epa', { pm25: { nowcast: h24.pm25.p50 }, pm10: { nowcast: h24.pm10.p50 } });
    expect(h24.aqi).toMatchObject({ value: aqi?.value, category: { key: aqi?.category.key } });
  });

  test('a forecast window with its network reference is scored with it', async () => {
    const reference = window.map((row, h) =>
      h === 3 ? [null, null] : [(row[0] as number) * 0.8, (row[1] as number) * 1.1],
    );
    const { status, json } = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { values: window, origin: ORIGIN, reference },
    });
    expect(status).toBe(200);
    const [expected] = await scorer.score([{ originTs: ORIGIN, values: window, reference }]);
    expect(json.forecast[3].pm25.p50).toBeCloseTo(expected?.pm25[3]?.p50 as number, 3);
    const flat = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { values: window, origin: ORIGIN, reference: [1, 2, 3] },
    });
    expect(flat.status).toBe(422);
    // With the network weather (pressure, dew point, wind u/v): scored with it, not as the PM alone.
    const withWeather = reference.map((pm, h) => [...pm, 1012 + (h % 5), -3, 1.5, h === 3 ? null : -2]);
    const weather = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { values: window, origin: ORIGIN, reference: withWeather },
    });
    expect(weather.status).toBe(200);
    const [expectedWeather] = await scorer.score([
      { originTs: ORIGIN, values: window, reference: withWeather },
    ]);
    expect(weather.json.forecast[23].pm25.p50).toBeCloseTo(expectedWeather?.pm25[23]?.p50 as number, 3);
    expect(expectedWeather?.pm25[23]?.p50).not.toBeCloseTo(expected?.pm25[23]?.p50 as number, 3);
    const threeWide = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { values: window, origin: ORIGIN, reference: withWeather.map((row) => row.slice(0, 3)) },
    });
    expect(threeWide.status).toBe(422);
    expect(threeWide.json.error.message).toMatch(/expected 2 or 6 values/);
  });

  test('a batch scores forecast and fault windows together, in request order', async () => {
    const spike = Array.from({ length: 72 }, (_, h) => (h === 71 ? 900 : 40 + (h % 5)));
    const { status, json } = await gw.call('POST', '/api/v1/predict-batch', {
      token: pro,
      body: {
        windows: [
          {
            model: 'faults',
            metric: 'pm25',
            values: spike,
            reference: spike.map((v, h) => (h === 71 ? 42 : v)),
          },
          { values: window, origin: ORIGIN },
        ],
      },
    });
    expect(status).toBe(200);
    expect(json.results[0]).toMatchObject({
      modelVersion: 'faults-t1',
      faults: { fault: true, kind: 'spike' },
    });
    expect(json.results[1].forecast).toHaveLength(72);
  });

  test('a stored sensor is scored from its hours; too few hours is a 422 saying which channels', async () => {
    const rows = window.flatMap((values, h) =>
      CHANNELS.map((metric, c) => ({
        sensorId: 'aq-1',
        metric,
        ts: ORIGIN - (71 - h) * HOUR + 60_000,
        value: values[c] as number,
        receivedAt: 0,
        source: 'test',
      })),
    );
    await insertReadings(gw.store)(rows);
    const ok = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { sensorId: 'aq-1', origin: ORIGIN },
    });
    expect(ok.status).toBe(200);
    const [expected] = await scorer.score([{ originTs: ORIGIN, values: window }]);
    expect(ok.json.forecast[0].pm25.p50).toBeCloseTo(expected?.pm25[0]?.p50 as number, 2);
    const short = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { sensorId: 'aq-2', origin: ORIGIN },
    });
    expect(short.status).toBe(422);
    expect(short.json.error.details.channels).toEqual([...CHANNELS]);
  });

  test('bad windows: wrong length, a null (JSON has no NaN), an unknown sensor, no credentials', async () => {
    const tooShort = await gw.call('POST', '/api/v1/predict-batch', {
      token: pro,
      body: {
        windows: [
          { values: window, origin: ORIGIN },
          { values: window.slice(1), origin: ORIGIN },
        ],
      },
    });
    expect(tooShort.status).toBe(422);
    expect(tooShort.json.error.message).toBe('window 1: expected 72 hourly rows, got 71');
    const withNull = structuredClone(window) as (number | null)[][];
    (withNull[10] as (number | null)[])[3] = null;
    const nulled = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { values: withNull, origin: ORIGIN },
    });
    expect(nulled.status).toBe(422);
    expect(nulled.json.error.message).toContain('row 10: no2 is null');
    const narrow = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { values: window.map((row) => row.slice(1)), origin: ORIGIN },
    });
    expect(narrow.status).toBe(422);
    expect(narrow.json.error.message).toContain('expected 12 values');
    const offHour = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { values: window, origin: ORIGIN + 1 },
    });
    expect(offHour.status).toBe(422);
    const faultShort = await gw.call('POST', '/api/v1/predict', {
      token: pro,
      body: { model: 'faults', metric: 'pm25', values: [1, 2, 3] },
    });
    expect(faultShort.status).toBe(422);
    const unknown = await gw.call('POST', '/api/v1/predict', { token: pro, body: { sensorId: 'nope-1' } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('NOT_FOUND');
    expect(
      (await gw.call('POST', '/api/v1/predict', { body: { values: window, origin: ORIGIN } })).status,
    ).toBe(401);
  });
});

describe('stored forecasts, feedback and faults', () => {
  const T = Date.now() - ((Date.now() % HOUR) + 2 * HOUR);
  const stored = (
    sensorId: string,
    metric: string,
    ts: number,
    p50: number,
    version = 'forecast-t1',
    role: 'active' | 'shadow' = 'active',
  ) => ({
    id: `${version}:${sensorId}:${metric}:${ts}`,
    sensorId,
    metric,
    ts,
    horizons: [60, 120, 180],
    p10: [p50 * 0.8, p50 * 0.7, p50 * 0.6],
    p50: [p50, p50, p50],
    p90: [p50 * 1.2, p50 * 1.3, p50 * 1.4],
    model: 'sensormesh-forecast',
    modelVersion: version,
    role,
    streamId: '',
    createdAt: ts + 1_000,
  });

  beforeAll(async () => {
    await insertPredictions(gw.store)([
      stored('aq-1', 'pm25', T - HOUR, 10),
      stored('aq-1', 'pm25', T, 30),
      stored('aq-1', 'pm10', T, 60),
      stored('aq-2', 'pm25', T, 150),
      // A shadow candidate's forecast of the same hour: never mixed into the active model's.
      stored('aq-1', 'pm25', T, 99, 'forecast-shadow', 'shadow'),
    ]);
    await insertAnomalies(gw.store)([
      {
        id: `faults-t1:aq-2:pm25:${T}:spike`,
        sensorId: 'aq-2',
        metric: 'pm25',
        ts: T,
        kind: 'spike',
        score: 0.99,
        threshold: 0.95,
        value: 900,
        expected: 40,
        windowStart: T - 71 * HOUR,
        modelId: 'faults',
        modelVersion: 'faults-t1',
        streamId: '',
        detectedAt: T + HOUR,
      },
    ]);
  });

  test('GET /predictions/current (public): each sensor’s newest forecast with intervals and AQI', async () => {
    const { status, json } = await gw.call('GET', '/api/v1/predictions/current?hours=2');
    expect(status).toBe(200);
    const [one, two] = json.sensors;
    expect(one).toMatchObject({
      sensorId: 'aq-1',
      origin: new Date(T).toISOString(),
      modelVersion: 'forecast-t1',
    });
    expect(one.horizons).toHaveLength(2);
    expect(one.horizons[0]).toMatchObject({
      hours: 1,
      pm25: { p10: 24, p50: 30, p90: 36 },
      pm10: { p50: 60 },
    });
    const aqi = computeAqi('us-epa', { pm25: { nowcast: 30 }, pm10: { nowcast: 60 } });
    expect(one.horizons[0].aqi).toMatchObject({
      value: aqi?.value,
      category: { key: 'moderate' },
      dominant: 'pm25',
    });
    expect(two).toMatchObject({
      sensorId: 'aq-2',
      horizons: [{ pm10: null, aqi: { category: { key: 'very-unhealthy' } } }, {}],
    });
  });

  test('GET /predictions (professional): history with the model version; unknown sensor 404', async () => {
    const from = new Date(T - 2 * HOUR).toISOString();
    const to = new Date(T + HOUR).toISOString();
    const { status, json } = await gw.call('GET', `/api/v1/predictions?sensor=aq-1&from=${from}&to=${to}`, {
      token: pro,
    });
    expect(status).toBe(200);
    expect(json.forecasts.map((f: { origin: string; metric: string }) => [f.origin, f.metric])).toEqual([
      [new Date(T - HOUR).toISOString(), 'pm25'],
      [new Date(T).toISOString(), 'pm10'],
      [new Date(T).toISOString(), 'pm25'],
    ]);
    expect(json.forecasts[0]).toMatchObject({
      modelVersion: 'forecast-t1',
      horizons: [{ minutes: 60, p50: 10 }, {}, {}],
    });
    const shadow = await gw.call('GET', `/api/v1/predictions?sensor=aq-1&from=${from}&to=${to}&role=shadow`, {
      token: pro,
    });
    expect(
      shadow.json.forecasts.map((f: { modelVersion: string; role: string }) => [f.modelVersion, f.role]),
    ).toEqual([['forecast-shadow', 'shadow']]);
    expect(
      (await gw.call('GET', `/api/v1/predictions?sensor=nope-1&from=${from}&to=${to}`, { token: pro }))
        .status,
    ).toBe(404);
    expect(
      (await gw.call('GET', `/api/v1/predictions?sensor=aq-1&from=${to}&to=${from}`, { token: pro })).status,
    ).toBe(422);
    expect((await gw.call('GET', `/api/v1/predictions?sensor=aq-1&from=${from}&to=${to}`)).status).toBe(401);
  });

  test('POST /feedback on an anomaly and a prediction; GET /faults counts them', async () => {
    const anomalyId = `faults-t1:aq-2:pm25:${T}:spike`;
    const right = await gw.call('POST', '/api/v1/feedback', {
      token: pro,
      body: { target: 'anomaly', id: anomalyId, verdict: 'right', kind: 'spike' },
    });
    expect(right.status).toBe(200);
    expect(right.json).toMatchObject({
      targetId: anomalyId,
      sensorId: 'aq-2',
      verdict: 'right',
      kind: 'spike',
    });
    const onPrediction = await gw.call('POST', '/api/v1/feedback', {
      token: pro,
      body: { target: 'prediction', id: `forecast-t1:aq-1:pm25:${T}`, verdict: 'wrong', note: 'rain came' },
    });
    expect(onPrediction.status).toBe(200);
    const before = Number(
      (await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM feedback`))[0]?.n,
    );
    const unknown = await gw.call('POST', '/api/v1/feedback', {
      token: pro,
      body: { target: 'anomaly', id: 'no-such-anomaly', verdict: 'wrong' },
    });
    expect(unknown.status).toBe(404);
    const kindOnPrediction = await gw.call('POST', '/api/v1/feedback', {
      token: pro,
      body: { target: 'prediction', id: `forecast-t1:aq-1:pm25:${T}`, verdict: 'wrong', kind: 'spike' },
    });
    expect(kindOnPrediction.status).toBe(422);
    const badVerdict = await gw.call('POST', '/api/v1/feedback', {
      token: pro,
      body: { target: 'anomaly', id: anomalyId, verdict: 'maybe' },
    });
    expect(badVerdict.status).toBe(422);
    expect(Number((await gw.store.query<{ n: number }>(sql`SELECT count() AS n FROM feedback`))[0]?.n)).toBe(
      before,
    );

    const faults = await gw.call('GET', '/api/v1/faults', { token: pro });
    expect(faults.status).toBe(200);
    expect(faults.json.total).toBe(1);
    expect(faults.json.bySensor).toEqual({ 'aq-2': 1 });
    const spike = faults.json.kinds.find((k: { kind: string }) => k.kind === 'spike');
    expect(spike).toMatchObject({ count: 1, confirmed: 1, rejected: 0 });
    expect(faults.json.kinds.map((k: { kind: string }) => k.kind)).toEqual([
      'spike',
      'stuck',
      'drift',
      'dropout',
      'out_of_range',
    ]);
  });
});
