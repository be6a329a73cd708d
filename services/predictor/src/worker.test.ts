import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Anomaly, type FaultShadowVerdict, type Prediction, readings } from '@sensormesh/bus';
import {
  CHANNELS,
  ForecastScorer,
  type ModelCard,
  REFERENCE_CHANNELS,
  REFERENCE_KINDS,
  referenceValues,
} from '@sensormesh/models';
import { listModelVersions, type ModelVersionRow, putModelVersions } from '@sensormesh/store';
import { useServers } from '@sensormesh/testkit';
import { DEFAULT_MODELS_DIR } from './registry.ts';
import { beijingSlice, SLICE_START } from './test-support/beijing.ts';
import { HOUR_MS, predictorWorld } from './test-support/harness.ts';

const servers = useServers({ redis: true, clickhouse: true });
let world: Awaited<ReturnType<typeof predictorWorld>>;
let slice: Awaited<ReturnType<typeof beijingSlice>>;
let scorer: ForecastScorer;
let card: ModelCard;
const H0 = SLICE_START / HOUR_MS;
const ids = () => slice.map((s) => `aq-${s.station}`);

/**
 * The network reference the predictor sends with a window (REFERENCE_CHANNELS): the other
 * stations' median PM and the network's mean pressure, dew point and wind u/v (over every station,
 * own included; unknown under two others) per hour, for the window's last hour only over the
 * stations whose hour had closed by then (`closed`).
 */
function referenceOf(
  station: string,
  from: number,
  to: number,
  closed: ReadonlySet<string>,
): (number | null)[][] {
  const median = (xs: number[]) => {
    if (xs.length < 2) return null;
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  };
  const own = new Float64Array(REFERENCE_CHANNELS.length);
  return Array.from({ length: to - from }, (_, i) => {
    const reporting = slice.filter((s) => from + i < to - 1 || closed.has(`aq-${s.station}`));
    const values = reporting.map((s) => {
      referenceValues(s.hours[from + i] as number[], 0, own);
      return { station: s.station, values: Array.from(own) };
    });
    const others = values.filter((v) => v.station !== station);
    return REFERENCE_CHANNELS.map((_, r) => {
      if (REFERENCE_KINDS[r] === 'median') return median(others.map((v) => v.values[r] as number));
      if (others.length < 2) return null;
      return values.reduce((sum, v) => sum + (v.values[r] as number), 0) / values.length;
    });
  });
}

/** Sensors whose `hour` had closed when `sensorId`'s did (passes run in order, one at a time). */
function closedBy(sensorId: string, hour: number): Set<string> {
  const closed = new Set<string>();
  for (const pass of world.passes) {
    for (const d of pass.due) if (d.hour === hour) closed.add(d.sensorId);
    if (pass.due.some((d) => d.sensorId === sensorId && d.hour === hour)) break;
  }
  return closed;
}

async function streamMessages<T>(stream: string): Promise<T[]> {
  const entries = await world.redis.xrange(stream, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1] as string) as T);
}

beforeAll(async () => {
  world = await predictorWorld({ redisUrl: servers.redis.url, clickhouseUrl: servers.clickhouse.url });
  slice = await beijingSlice();
  scorer = await ForecastScorer.load(`${DEFAULT_MODELS_DIR}/forecast.onnx`);
  card = JSON.parse(await Bun.file(`${DEFAULT_MODELS_DIR}/forecast.card.json`).text());
}, 30_000);
afterAll(async () => {
  await scorer?.release();
  await world?.close();
});

describe('predictor worker (real Redis and ClickHouse)', () => {
  test('a sensor-hour closes with its next reading: forecasts on `predictions` for that sensor and hour, as the model gives on the same window', async () => {
    // 71 hours of history in ClickHouse (where a start rebuilds from), hour 71 over the bus.
    for (const s of slice) await world.storeHours(`aq-${s.station}`, H0, s.hours.slice(0, 71));
    const clock = { now: (H0 + 71) * HOUR_MS + 10 * 60_000 };
    const { predictor } = await world.start(clock);
    expect(predictor.status().sensors).toBe(6);
    // Three readings in hour 71 whose mean is the data's hourly value, then one in hour 72.
    for (const s of slice)
      await world.publishHours(`aq-${s.station}`, H0 + 71, [s.hours[71] as number[]], [-1, 0, 1]);
    for (const s of slice) await world.publishHours(`aq-${s.station}`, H0 + 72, [s.hours[72] as number[]]);
    const result = await world.scored(ids().map((sensorId) => ({ sensorId, hour: H0 + 71 })));
    expect(result.forecasts).toBe(6);
    expect(result.skipped).toEqual([]);

    const onStream = await streamMessages<Prediction>('predictions');
    const ts = (H0 + 71) * HOUR_MS;
    expect(onStream).toHaveLength(12); // 6 sensors × PM2.5 and PM10
    const dongsi = onStream.find((p) => p.sensorId === 'aq-dongsi' && p.metric === 'pm25') as Prediction;
    expect(dongsi).toMatchObject({ ts, modelVersion: card.version, role: 'active' });
    expect(dongsi.id).toBe(`${card.version}:aq-dongsi:pm25:${ts}`);
    expect(dongsi.horizons).toHaveLength(72);
    expect(dongsi.horizons[0]?.minutes).toBe(60);
    const station = slice.find((s) => s.station === 'dongsi') as (typeof slice)[number];
    const [expected] = await scorer.score([
      {
        originTs: ts,
        values: station.hours.slice(0, 72),
        reference: referenceOf('dongsi', 0, 72, closedBy('aq-dongsi', H0 + 71)),
      },
    ]);
    dongsi.horizons.forEach((step, h) => {
      const want = expected?.pm25[h] as { p10: number; p50: number; p90: number };
      expect(step.p50).toBeCloseTo(want.p50, 1);
      expect(step.p10).toBeCloseTo(want.p10, 1);
      expect(step.p90).toBeCloseTo(want.p90, 1);
      expect(step.p10).toBeLessThanOrEqual(step.p50);
      expect(step.p50).toBeLessThanOrEqual(step.p90);
    });
    await predictor.stop();
  }, 30_000);

  test('a restarted predictor rebuilds its windows from ClickHouse and forecasts the next hour at once', async () => {
    // The writer stored hour 71 meanwhile; hour 72 is still open in Redis (one reading so far).
    for (const s of slice) await world.storeHours(`aq-${s.station}`, H0 + 71, [s.hours[71] as number[]]);
    const clock = { now: (H0 + 72) * HOUR_MS + 30 * 60_000 };
    const outputs = async () =>
      Promise.all(['predictions', 'anomalies'].map((stream) => world.redis.xlen(stream)));
    const [before, passes] = [await outputs(), world.passes.length];
    const { predictor } = await world.start(clock);
    expect(predictor.status().sensors).toBe(6);
    // The start's warm-up pass over every sensor's newest hour published nothing and closed nothing.
    expect(await outputs()).toEqual(before);
    expect(world.passes.length).toBe(passes);
    for (const s of slice) await world.publishHours(`aq-${s.station}`, H0 + 73, [s.hours[73] as number[]]);
    const result = await world.scored(ids().map((sensorId) => ({ sensorId, hour: H0 + 72 })));
    expect(result.forecasts).toBe(6);
    const station = slice.find((s) => s.station === 'gucheng') as (typeof slice)[number];
    const [expected] = await scorer.score([
      {
        originTs: (H0 + 72) * HOUR_MS,
        values: station.hours.slice(1, 73),
        reference: referenceOf('gucheng', 1, 73, closedBy('aq-gucheng', H0 + 72)),
      },
    ]);
    const got = result.predictions.find(
      (p) => p.sensorId === 'aq-gucheng' && p.metric === 'pm10',
    ) as Prediction;
    expect(got.horizons[23]?.p50).toBeCloseTo(expected?.pm10[23]?.p50 as number, 1);
    await predictor.stop();
  }, 30_000);

  test('an injected PM2.5 spike on one station is flagged on `anomalies`; its neighbours are not', async () => {
    const clock = { now: (H0 + 74) * HOUR_MS };
    const { predictor } = await world.start(clock);
    for (const s of slice) await world.publishHours(`aq-${s.station}`, H0 + 74, [s.hours[74] as number[]]);
    await world.scored(ids().map((sensorId) => ({ sensorId, hour: H0 + 73 })));
    const pm25 = CHANNELS.indexOf('pm25');
    // Hour 75: Dongsi's PM2.5 reads 700 µg/m³ above the real value while the others read the air.
    for (const s of slice) {
      const row = [...(s.hours[75] as number[])];
      if (s.station === 'dongsi') row[pm25] = (row[pm25] as number) + 700;
      await world.publishHours(`aq-${s.station}`, H0 + 75, [row]);
    }
    for (const s of slice) await world.publishHours(`aq-${s.station}`, H0 + 76, [s.hours[76] as number[]]);
    const result = await world.scored(ids().map((sensorId) => ({ sensorId, hour: H0 + 75 })));
    const ts = (H0 + 75) * HOUR_MS;
    const flagged = result.anomalies.filter((a) => a.ts === ts && a.metric === 'pm25');
    expect(flagged.map((a) => `${a.sensorId}/${a.metric}/${a.kind}`)).toEqual(['aq-dongsi/pm25/spike']);
    const onStream = (await streamMessages<Anomaly>('anomalies')).filter(
      (a) => a.ts === ts && a.metric === 'pm25',
    );
    expect(onStream).toHaveLength(1);
    expect(onStream[0]).toMatchObject({ sensorId: 'aq-dongsi', metric: 'pm25', kind: 'spike' });
    expect(onStream[0]?.score).toBeGreaterThan(0.9);
    await predictor.stop();
  }, 30_000);

  test('two replicas share the group: every sensor-hour is scored exactly once', async () => {
    const clock = { now: (H0 + 77) * HOUR_MS };
    const a = await world.start(clock, { PREDICTOR_BATCH_SIZE: '2' });
    const b = await world.start(clock, { PREDICTOR_BATCH_SIZE: '2' });
    await world.redis.del('predictions');
    for (const s of slice)
      await world.publishHours(`aq-${s.station}`, H0 + 77, [
        s.hours[77] as number[],
        s.hours[78] as number[],
      ]);
    const wanted = ids().flatMap((sensorId) => [
      { sensorId, hour: H0 + 76 },
      { sensorId, hour: H0 + 77 },
    ]);
    const { passes } = await world.scored(wanted);
    const due = passes.flatMap((p) =>
      p.due.filter((d) => d.hour >= H0 + 76).map((d) => `${d.sensorId}@${d.hour}`),
    );
    // Each hour closed on exactly one replica, whichever read the reading that closed it.
    expect(due.sort()).toEqual(wanted.map((w) => `${w.sensorId}@${w.hour}`).sort());
    const onStream = await streamMessages<Prediction>('predictions');
    expect(onStream).toHaveLength(wanted.length * 2);
    expect(new Set(onStream.map((p) => p.id)).size).toBe(onStream.length);
    const pending = (await world.redis.xpending(readings.name, 'predictor')) as [number];
    expect(pending[0]).toBe(0);
    await a.predictor.stop();
    await b.predictor.stop();
  }, 30_000);
  test('a shadow version from the registry is scored beside the active one and published as role shadow', async () => {
    const rows = await listModelVersions(world.store)();
    const active = rows.find((r) => r.task === 'forecast' && r.status === 'active') as ModelVersionRow;
    await putModelVersions(world.store)([
      { ...active, version: 'shadow-1', status: 'shadow', source: 'upload', updatedAt: Date.now() },
    ]);
    const clock = { now: (H0 + 79) * HOUR_MS };
    const { predictor } = await world.start(clock);
    expect(predictor.status().models).toMatchObject({ forecast: active.version, forecastShadow: 'shadow-1' });
    for (const s of slice) await world.publishHours(`aq-${s.station}`, H0 + 79, [s.hours[79] as number[]]);
    const result = await world.scored(ids().map((sensorId) => ({ sensorId, hour: H0 + 78 })));
    const ts = (H0 + 78) * HOUR_MS;
    const roles = result.predictions
      .filter((p) => p.ts === ts && p.metric === 'pm25')
      .map((p) => `${p.role}:${p.modelVersion}`);
    expect(roles.filter((r) => r === 'shadow:shadow-1')).toHaveLength(6);
    expect(roles.filter((r) => r === `active:${active.version}`)).toHaveLength(6);
    // Same bytes under both versions: the same numbers, told apart by version and id.
    const pair = result.predictions.filter(
      (p) => p.ts === ts && p.sensorId === 'aq-dongsi' && p.metric === 'pm25',
    );
    expect(new Set(pair.map((p) => p.id)).size).toBe(2);
    expect(pair[0]?.horizons[5]?.p50).toBe(pair[1]?.horizons[5]?.p50 as number);
    await putModelVersions(world.store)([
      { ...active, version: 'shadow-1', status: 'retired', source: 'upload', updatedAt: Date.now() + 1 },
    ]);
    await predictor.stop();
  }, 30_000);

  test('a pass whose publishing fails leaves its hours due: a later sweep scores them again, from the same sums, once', async () => {
    const clock = { now: (H0 + 80) * HOUR_MS + 60_000 };
    const { predictor } = await world.start(clock, { PREDICTOR_RETRY_MS: '60000' });
    // `predictions` is not a stream for a while: every XADD to it fails (WRONGTYPE).
    await world.redis.del('predictions');
    await world.redis.set('predictions', 'not a stream');
    for (const s of slice) await world.publishHours(`aq-${s.station}`, H0 + 80, [s.hours[80] as number[]]);
    const wanted = ids().map((sensorId) => ({ sensorId, hour: H0 + 79 }));
    const failures = await world.failed(wanted);
    expect(String(failures[0]?.error)).toContain('publishing to stream predictions failed');
    // The fold acked the readings with their sums: nothing is redelivered, nothing counted twice.
    const [pending] = (await world.redis.xpending(readings.name, 'predictor')) as [number];
    expect(pending).toBe(0);
    await world.redis.del('predictions');

    // Before the retry time the hours are not taken again; after it, they are forecast.
    expect((await predictor.sweep(clock.now + 59_000)).forecasts).toBe(0);
    const retried = await predictor.sweep(clock.now + 60_000);
    expect(retried.forecasts).toBe(6);
    const ts = (H0 + 79) * HOUR_MS;
    const onStream = await streamMessages<Prediction>('predictions');
    expect(
      onStream
        .filter((p) => p.ts === ts)
        .map((p) => p.id)
        .sort(),
    ).toEqual(
      ids()
        .flatMap((sensorId) =>
          ['pm25', 'pm10'].map((metric) => `${card.version}:${sensorId}:${metric}:${ts}`),
        )
        .sort(),
    );
    const retry = world.passes.at(-1);
    const dongsi = retry?.due.find((d) => d.sensorId === 'aq-dongsi');
    const row = slice.find((s) => s.station === 'dongsi')?.hours[79] as number[];
    expect(dongsi?.means[CHANNELS.indexOf('pm25')]).toBeCloseTo(row[CHANNELS.indexOf('pm25')] as number, 3);
    // Done: a later sweep has nothing to retry.
    expect(await predictor.sweep(clock.now + 600_000)).toMatchObject({ forecasts: 0, predictions: [] });
    await predictor.stop();
  }, 30_000);

  test('too little data means no forecast, with the reason: a new sensor, a sensor without the weather channels', async () => {
    const clock = { now: (H0 + 77) * HOUR_MS };
    const { predictor } = await world.start(clock);
    const rows = slice[0]?.hours.slice(0, 3) as number[][];
    await world.publishHours('aq-new', H0 + 74, rows);
    // Only PM: the model also reads the weather, which this sensor does not measure.
    const pmOnly = rows.map((row) => row.map((v, c) => (c < 2 ? v : Number.NaN)));
    await world.publishHours('pm-only', H0 + 74, pmOnly);
    await world.scored(['aq-new', 'pm-only'].map((sensorId) => ({ sensorId, hour: H0 + 75 })));
    // Both go quiet after hour 76: a sweep after the grace closes their last hour.
    const result = await predictor.sweep((H0 + 77) * HOUR_MS + 120_000);
    expect(result.forecasts).toBe(0);
    const reasons = Object.fromEntries(result.skipped.map((s) => [s.sensorId, s.reason]));
    expect(reasons).toMatchObject({ 'aq-new': 'short_history', 'pm-only': 'missing_metric' });
    await predictor.stop();
  }, 30_000);
  test('a fault shadow from the registry is scored in the same pass; its flags go to fault-shadow-verdicts, never to `anomalies`', async () => {
    const rows = await listModelVersions(world.store)();
    const active = rows.find((r) => r.task === 'faults' && r.status === 'active') as ModelVersionRow;
    // The same ONNX under another version: it must flag exactly what the active version flags.
    await putModelVersions(world.store)([
      { ...active, version: 'faults-shadow-1', status: 'shadow', source: 'upload', updatedAt: Date.now() },
    ]);
    await world.redis.del('anomalies', 'fault-shadow-verdicts');
    const clock = { now: (H0 + 81) * HOUR_MS };
    const { predictor } = await world.start(clock);
    expect(predictor.status().models).toMatchObject({
      faults: active.version,
      faultsShadow: 'faults-shadow-1',
    });
    const pm25 = CHANNELS.indexOf('pm25');
    // Hour 81 (the slice's last): Changping's PM2.5 reads 700 µg/m³ high (Dongsi's window
    // still holds its hour-75 spike, which makes a second one look less odd). It closes hour 80; a sweep after
    // the grace closes hour 81 itself.
    for (const s of slice) {
      const row = [...(s.hours[81] as number[])];
      if (s.station === 'changping') row[pm25] = (row[pm25] as number) + 700;
      await world.publishHours(`aq-${s.station}`, H0 + 81, [row]);
    }
    await world.scored(ids().map((sensorId) => ({ sensorId, hour: H0 + 80 })));
    const swept = await predictor.sweep((H0 + 82) * HOUR_MS + 120_000);
    const ts = (H0 + 81) * HOUR_MS;
    expect(swept.anomalies.filter((a) => a.ts === ts && a.metric === 'pm25').map((a) => a.sensorId)).toEqual([
      'aq-changping',
    ]);
    // The same pass produced both models' verdicts on the spike.
    const spike = swept.shadowFaults.find(
      (v) => v.sensorId === 'aq-changping' && v.metric === 'pm25' && v.ts === ts,
    );
    expect(spike).toMatchObject({
      id: `faults-shadow-1:aq-changping:pm25:${ts}`,
      shadowVersion: 'faults-shadow-1',
      shadow: { kind: 'spike' },
      activeVersion: active.version,
      active: { kind: 'spike' },
    });
    expect(spike?.shadow.score).toBe(spike?.active?.score as number);

    // Over every pass this predictor ran: a verdict for each active flag, none the shadow alone raised.
    const passes = world.passes.filter((p) => p.due.some((d) => d.hour >= H0 + 80));
    const verdicts = passes.flatMap((p) => p.result.shadowFaults);
    const flagged = passes.flatMap((p) => p.result.anomalies);
    expect(verdicts.map((v) => `${v.sensorId}/${v.metric}/${v.ts}/${v.active?.kind}`).sort()).toEqual(
      flagged.map((a) => `${a.sensorId}/${a.metric}/${a.ts}/${a.kind}`).sort(),
    );
    expect(verdicts.every((v) => v.shadow.kind === v.active?.kind)).toBe(true);

    // Users read `anomalies`: only the active version is there. The shadow's verdicts have a stream of their own.
    const onAnomalies = await streamMessages<Anomaly>('anomalies');
    expect(onAnomalies.length).toBe(flagged.length);
    expect(onAnomalies.every((a) => a.modelVersion === active.version)).toBe(true);
    const onShadow = await streamMessages<FaultShadowVerdict>('fault-shadow-verdicts');
    expect(onShadow.map((v) => v.id).sort()).toEqual(verdicts.map((v) => v.id).sort());

    await putModelVersions(world.store)([
      {
        ...active,
        version: 'faults-shadow-1',
        status: 'retired',
        source: 'upload',
        updatedAt: Date.now() + 1,
      },
    ]);
    await predictor.stop();
  }, 30_000);
});
