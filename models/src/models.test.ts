import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '@sensormesh/errors';
import { seededRandom } from '@sensormesh/simulator';
import { CHANNELS, type Dataset, loadDataset, sliceDataset } from './data/dataset.ts';
import { fillForward } from './data/gaps.ts';
import { injectFaults } from './data/inject.ts';
import { evaluateJudged } from './evaluate.ts';
import { faultFeatures } from './fault/features.ts';
import { metricReferences, metricSeries } from './fault/samples.ts';
import { FAULT_CLASSES, FAULT_FEATURE_NAMES, FAULT_METRICS, FAULT_WINDOW } from './fault/spec.ts';
import { FORECAST_IO } from './forecast/graph.ts';
import { forecastReference } from './forecast/model.ts';
import { referenceSeries } from './forecast/samples.ts';
import { HORIZONS, REFERENCE_CHANNELS, TARGETS, WINDOW_HOURS } from './forecast/spec.ts';
import { calibrate, trainForecast } from './forecast/train.ts';
import { mlpForward } from './nn/mlp.ts';
import { GraphBuilder, int } from './onnx/graph.ts';
import { DataType } from './onnx/proto.ts';
import { FaultScorer, ForecastScorer } from './score.ts';
import { FAULT_FILE, FORECAST_FILE, trainAll } from './train.ts';

const DATA = new URL('../../../shared/data/beijing/train', import.meta.url).pathname;
const HOUR_MS = 3_600_000;

/** Three stations' last ~5 months: enough for a quick model and a tune slice. */
async function slice(): Promise<Dataset> {
  const full = await loadDataset(DATA);
  const hours = 150 * 24;
  const from = full.hours - hours;
  const C = CHANNELS.length;
  return {
    startHour: full.startHour + from,
    hours,
    stations: full.stations
      .slice(0, 4)
      .map((s) => ({ station: s.station, values: s.values.slice(from * C) })),
  };
}

let dir: string;
let dataset: Dataset;
let trained: Awaited<ReturnType<typeof trainAll>>;
let forecast: ForecastScorer;
let faults: FaultScorer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sensormesh-models-'));
  dataset = await slice();
  trained = await trainAll(dataset, {
    dataLabel: 'test slice',
    outDir: dir,
    seed: 5,
    tuneMonths: 1,
    quick: true,
  });
  forecast = await ForecastScorer.load(join(dir, FORECAST_FILE));
  faults = await FaultScorer.load(join(dir, FAULT_FILE), trained.faults.threshold);
}, 60_000);

afterAll(async () => {
  await forecast?.release();
  await faults?.release();
  await rm(dir, { recursive: true, force: true });
});

const windowAt = (s: number, h: number) => {
  const C = CHANNELS.length;
  const R = REFERENCE_CHANNELS.length;
  const filled = fillForward((dataset.stations[s] as Dataset['stations'][number]).values);
  const flat = filled.slice((h - WINDOW_HOURS + 1) * C, (h + 1) * C);
  const rows = Array.from({ length: WINDOW_HOURS }, (_, r) => Array.from(flat.subarray(r * C, (r + 1) * C)));
  const refFlat = (referenceSeries(dataset)[s] as Float32Array).slice(
    (h - WINDOW_HOURS + 1) * R,
    (h + 1) * R,
  );
  const reference = Array.from({ length: WINDOW_HOURS }, (_, r) =>
    Array.from(refFlat.subarray(r * R, (r + 1) * R), (v) => (Number.isNaN(v) ? null : v)),
  );
  return { flat, rows, refFlat, reference, originTs: (dataset.startHour + h) * HOUR_MS };
};

describe('trained on a slice, exported, scored by onnxruntime', () => {
  test('the forecast graph gives the training code’s own outputs', async () => {
    const picks = [
      [0, 500],
      [1, 1800],
      [3, 3000],
    ] as const;
    const windows = picks.map(([s, h]) => windowAt(s, h));
    // The first window leaves the reference out (all unknown), the others give the network's.
    const scored = await forecast.score(
      windows.map((w, i) => ({
        originTs: w.originTs,
        values: w.rows,
        ...(i > 0 ? { reference: w.reference } : {}),
      })),
    );
    expect(windows[1]?.reference.flat().some((v) => v !== null)).toBe(true);
    windows.forEach((w, i) => {
      const want = forecastReference(
        trained.forecast.params,
        w.flat,
        w.originTs / HOUR_MS,
        i > 0 ? w.refFlat : undefined,
      );
      const got = scored[i];
      expect(got?.pm25).toHaveLength(72);
      got?.pm25.forEach((q, h) => {
        for (const [k, value] of [q.p10, q.p50, q.p90].entries()) {
          const expected = want[h * 3 + k] as number;
          expect(Math.abs(value - expected)).toBeLessThan(1e-3 * (1 + expected));
        }
        expect(q.p10).toBeLessThanOrEqual(q.p50);
        expect(q.p50).toBeLessThanOrEqual(q.p90);
      });
      got?.pm10.forEach((q, h) => {
        expect(Math.abs(q.p50 - (want[(72 + h) * 3 + 1] as number))).toBeLessThan(
          1e-3 * (1 + (want[(72 + h) * 3 + 1] as number)),
        );
      });
    });
  });

  test('the fault graph gives the training code’s own probabilities, gaps and injected faults included', async () => {
    const injection = injectFaults(dataset, trained.faults.scales, { seed: 9, meanGapHours: 100 });
    const series = metricSeries(injection.dataset);
    const references = metricReferences(injection.dataset);
    const features = new Float64Array(FAULT_FEATURE_NAMES.length);
    const hidden = new Float64Array(trained.faults.net.hidden);
    const probs = new Float64Array(FAULT_CLASSES.length);
    const cases = injection.faults.slice(0, 40).map((fault) => ({
      mi: FAULT_METRICS.indexOf(fault.metric as (typeof FAULT_METRICS)[number]),
      s: injection.dataset.stations.findIndex((st) => st.station === fault.station),
      h: Math.max(FAULT_WINDOW - 1, fault.to - 1),
    }));
    expect(new Set(injection.faults.slice(0, 40).map((f) => f.kind)).size).toBe(5);
    const windows = cases.map(({ mi, s, h }) => {
      const values = Array.from(
        ((series[mi] as Float32Array[])[s] as Float32Array).subarray(h - FAULT_WINDOW + 1, h + 1),
        (v) => (Number.isNaN(v) ? null : v),
      );
      const reference = Array.from(
        ((references[mi] as Float32Array[])[s] as Float32Array).subarray(h - FAULT_WINDOW + 1, h + 1),
        (v) => (Number.isNaN(v) ? null : v),
      );
      return { metric: FAULT_METRICS[mi] as string, values, reference };
    });
    const verdicts = await faults.score(windows);
    cases.forEach(({ mi, s, h }, i) => {
      const start = h - FAULT_WINDOW + 1;
      const metricScale = trained.faults.scales[mi];
      if (!metricScale) throw new Error('no scale');
      faultFeatures(
        series[mi]?.[s] as Float32Array,
        start,
        references[mi]?.[s] as Float32Array,
        start,
        mi,
        metricScale,
        features,
        0,
      );
      mlpForward(trained.faults.net, features, 0, hidden, probs);
      FAULT_CLASSES.forEach((name, k) => {
        expect(Math.abs((verdicts[i]?.probabilities[name] as number) - (probs[k] as number))).toBeLessThan(
          1e-4,
        );
      });
    });
  });

  test('each model has a card naming its inputs in order, its hash and its training range', async () => {
    const card = await Bun.file(join(dir, 'forecast.card.json')).json();
    expect(card.inputs[0].order).toEqual([...CHANNELS]);
    expect(card.sha256).toBe(
      new Bun.CryptoHasher('sha256').update(await Bun.file(join(dir, FORECAST_FILE)).bytes()).digest('hex'),
    );
    expect(card.training.from).toBe(new Date(dataset.startHour * HOUR_MS).toISOString());
    const faultCard = await Bun.file(join(dir, 'faults.card.json')).json();
    expect(faultCard.outputs[0].order).toEqual([...FAULT_CLASSES]);
    expect(faultCard.details.threshold).toBe(trained.faults.threshold);
  });

  test('training is deterministic for a seed: the same ONNX bytes twice', async () => {
    const again = await mkdtemp(join(tmpdir(), 'sensormesh-models-'));
    try {
      await trainAll(dataset, {
        dataLabel: 'test slice',
        outDir: again,
        seed: 5,
        tuneMonths: 1,
        quick: true,
      });
      for (const file of [FORECAST_FILE, FAULT_FILE]) {
        expect(await Bun.file(join(again, file)).bytes()).toEqual(await Bun.file(join(dir, file)).bytes());
      }
    } finally {
      await rm(again, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('calibration across slices (crossFit)', () => {
  /** A slice whose outcomes spread as N(0, sigma²) in log space around a median of 0, net distances 1. */
  const slice = (count: number, sigma: number, seed: number) => {
    const O = TARGETS.length * HORIZONS;
    const random = seededRandom(seed);
    const targets = Float64Array.from({ length: count * O }, () => {
      const gaussian = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      return sigma * gaussian;
    });
    const netOut = new Float64Array(count * O * 3);
    for (let k = 0; k < count * O; k++) {
      netOut[k * 3] = -1;
      netOut[k * 3 + 2] = 1;
    }
    return { samples: { count, targets }, netOut, ridgeOut: new Float64Array(count * O) };
  };
  const below = (parts: ReturnType<typeof slice>[], scale: number, o: number) => {
    const O = TARGETS.length * HORIZONS;
    let n = 0;
    let under = 0;
    for (const { samples } of parts)
      for (let i = 0; i < samples.count; i++) {
        n++;
        if ((samples.targets[i * O + o] as number) < -scale) under++;
      }
    return under / n;
  };

  test('the interval scales put 10% below p10 over both slices, not over either alone', () => {
    const calm = slice(2_000, 1, 1);
    const wild = slice(2_000, 3, 2);
    const { scales } = calibrate([calm, wild]);
    const alone = calibrate([calm]).scales;
    for (const o of [0, 23, 71, 72 + 23]) {
      const scale = scales[o * 2] as number;
      // One calm slice alone: its own 10% (z 1.28), far too narrow for the wild one.
      expect(alone[o * 2] as number).toBeCloseTo(1.28, 0);
      expect(scale).toBeGreaterThan(1.5);
      expect(scale).toBeLessThan(3.8);
      expect(below([calm, wild], scale, o)).toBeCloseTo(0.1, 2);
      expect(below([calm], alone[o * 2] as number, o)).toBeCloseTo(0.1, 2);
      expect(below([wild], alone[o * 2] as number, o)).toBeGreaterThan(0.3);
    }
  });

  test('trainForecast calibrates on the tune slice and the first slice of the same length', () => {
    const end = dataset.startHour + dataset.hours - 1;
    const tuneFromHour = end - 30 * 24;
    const options = {
      tuneFromHour,
      lambda: 1e-4,
      stride: 6,
      members: 1,
      net: { hidden: 4, epochs: 1, batch: 256, learningRate: 1e-3, decay: 1e-4, alpha: 1, seed: 5 },
    };
    const both = trainForecast(dataset, { ...options, crossFit: true });
    expect(both.calibratedOn).toEqual([
      { fromHour: tuneFromHour, toHour: end },
      { fromHour: dataset.startHour, toHour: dataset.startHour + 30 * 24 },
    ]);
    const one = trainForecast(dataset, options);
    expect(one.calibratedOn).toEqual([{ fromHour: tuneFromHour, toHour: end }]);
    // The first slice's outcomes moved the interval scales (the members fitted first are the same).
    expect(Array.from(both.params.scales)).not.toEqual(Array.from(one.params.scales));
    // Too little after the first slice for its members (under half a slice): the tune slice alone.
    const short = sliceDataset(dataset, dataset.startHour, 75 * 24);
    const shortEnd = short.startHour + short.hours - 1;
    expect(
      trainForecast(short, { ...options, tuneFromHour: shortEnd - 50 * 24, crossFit: true }).calibratedOn,
    ).toHaveLength(1);
  }, 60_000);
});

describe('evaluateJudged', () => {
  test('scores judged forecasts as the predictor would make them, over every observed hour after the origin', async () => {
    const C = CHANNELS.length;
    const s = 1;
    const h = 1800;
    const w = windowAt(s, h);
    const [got] = await forecast.score([{ originTs: w.originTs, values: w.rows, reference: w.reference }]);
    const own = dataset.stations[s] as Dataset['stations'][number];
    let abs = 0;
    let points = 0;
    got?.pm10.forEach((q, k) => {
      const truth = own.values[(h + k + 1) * C + CHANNELS.indexOf('pm10')] as number;
      if (Number.isNaN(truth)) return;
      abs += Math.abs(q.p50 - truth);
      points++;
    });
    expect(points).toBeGreaterThan(60);
    const judged = await evaluateJudged(forecast, dataset, [
      { station: own.station, target: 'pm10', originHour: w.originTs / HOUR_MS },
      // Left out: an unknown station, a metric the model does not forecast, no whole window.
      { station: 'nowhere', target: 'pm10', originHour: w.originTs / HOUR_MS },
      { station: own.station, target: 'so2', originHour: w.originTs / HOUR_MS },
      { station: own.station, target: 'pm10', originHour: dataset.startHour + 10 },
    ]);
    expect(judged.forecasts).toBe(1);
    expect(judged.points).toBe(points);
    expect(judged.mae as number).toBeCloseTo(abs / points, 2);
    expect(await evaluateJudged(forecast, dataset, [])).toEqual({ forecasts: 0, points: 0, mae: null });
  });
});

describe('sliceDataset', () => {
  test('copies the hours asked for and leaves hours off the grid NaN', () => {
    const C = CHANNELS.length;
    const part = sliceDataset(dataset, dataset.startHour - 2, 5);
    expect(part.startHour).toBe(dataset.startHour - 2);
    expect(part.hours).toBe(5);
    const own = dataset.stations[0] as Dataset['stations'][number];
    const got = part.stations[0] as Dataset['stations'][number];
    expect(got.values.subarray(0, 2 * C).every(Number.isNaN)).toBe(true);
    expect(Array.from(got.values.subarray(2 * C))).toEqual(Array.from(own.values.subarray(0, 3 * C)));
    got.values[2 * C] = -1;
    expect(own.values[0]).not.toBe(-1);
  });
});

describe('bad windows get a clear VALIDATION_FAILED error', () => {
  const rejects = async (run: () => Promise<unknown>, message: RegExp) => {
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('VALIDATION_FAILED');
    expect((error as AppError).message).toMatch(message);
  };

  test('forecast: wrong window length, wrong row width, NaN, origin off the hour', async () => {
    const w = windowAt(0, 500);
    await rejects(
      () => forecast.score([{ originTs: w.originTs, values: w.rows.slice(1) }]),
      /expected 72 hourly rows, got 71/,
    );
    await rejects(
      () => forecast.score([{ originTs: w.originTs, values: [...w.rows.slice(1), [1, 2, 3]] }]),
      /row 71: expected 12 values/,
    );
    const withNaN = w.rows.map((row) => [...row]);
    (withNaN[10] as number[])[0] = Number.NaN;
    await rejects(
      () => forecast.score([{ originTs: w.originTs, values: withNaN }]),
      /window 0 row 10: pm25 is NaN/,
    );
    await rejects(() => forecast.score([{ originTs: w.originTs + 1, values: w.rows }]), /on the hour/);
  });

  test('forecast: a reference of the wrong length or width, or with NaN (null is the way to say unknown)', async () => {
    const w = windowAt(0, 500);
    const score = (reference: (number | null)[][]) => () =>
      forecast.score([{ originTs: w.originTs, values: w.rows, reference }]);
    await rejects(score(w.reference.slice(2)), /reference must hold 72 hourly rows, got 70/);
    await rejects(
      score([...w.reference.slice(1), [40]]),
      /reference row 71: expected 2 or 6 values \(pm25, pm10, pressure, dewpoint, wind_u, wind_v\)/,
    );
    const withNaN = w.reference.map((row) => [...row]);
    (withNaN[3] as (number | null)[])[1] = Number.NaN;
    await rejects(score(withNaN), /window 0 reference row 3: pm10 is NaN; use null/);
    const unknown = w.reference.map((row) => row.map(() => null));
    const [withNulls, without] = await forecast.score([
      { originTs: w.originTs, values: w.rows, reference: unknown },
      { originTs: w.originTs, values: w.rows },
    ]);
    expect(withNulls).toEqual(without as NonNullable<typeof without>);
  });

  test('forecast: the older 2-channel reference (PM alone) leaves the network weather unknown', async () => {
    const w = windowAt(1, 1800);
    const pmOnly = w.reference.map((row) => row.slice(0, 2));
    const weatherUnknown = w.reference.map((row) => [...row.slice(0, 2), null, null, null, null]);
    const [short, long, full] = await forecast.score([
      { originTs: w.originTs, values: w.rows, reference: pmOnly },
      { originTs: w.originTs, values: w.rows, reference: weatherUnknown },
      { originTs: w.originTs, values: w.rows, reference: w.reference },
    ]);
    expect(short).toEqual(long as NonNullable<typeof long>);
    expect(full).not.toEqual(short as NonNullable<typeof short>);
  });

  test('an older model whose reference input has 2 channels, or none, gets what it declares', async () => {
    for (const width of [2, 0]) {
      // A stand-in older model: every forecast value is the last hour's reference PM2.5 (or 7).
      const g = new GraphBuilder('older');
      g.input(FORECAST_IO.window, DataType.FLOAT, ['N', WINDOW_HOURS, CHANNELS.length]);
      const origin = g.input(FORECAST_IO.originHour, DataType.FLOAT, ['N', 1]);
      let value = g.op('Add', [g.op('Mul', [origin, g.floatConst([0], [1])]), g.floatConst([7], [1])]);
      if (width > 0) {
        const reference = g.input(FORECAST_IO.reference, DataType.FLOAT, ['N', WINDOW_HOURS, width]);
        const last = g.op('Gather', [reference, g.intConst([WINDOW_HOURS - 1], [])], { axis: int(1) });
        value = g.op('Gather', [last, g.intConst([0], [1])], { axis: int(1) });
      }
      g.op(
        'Expand',
        [g.op('Reshape', [value, g.intConst([-1, 1, 1, 1], [4])]), g.intConst([1, 2, HORIZONS, 3], [4])],
        {},
        { outputs: [FORECAST_IO.forecast] },
      );
      g.output(FORECAST_IO.forecast, DataType.FLOAT, ['N', 2, HORIZONS, 3]);
      const older = await ForecastScorer.load(g.encode({ opsets: { '': 17 }, doc: 'older', metadata: {} }));
      try {
        expect(older.referenceWidth).toBe(width);
        const w = windowAt(1, 1800);
        const [scored] = await older.score([
          { originTs: w.originTs, values: w.rows, reference: w.reference },
        ]);
        const want = width > 0 ? Math.fround(w.reference[WINDOW_HOURS - 1]?.[0] as number) : 7;
        expect(scored?.pm10[40]?.p50).toBe(want);
        const R = REFERENCE_CHANNELS.length;
        const packed = await older.scorePacked(
          new Float32Array(w.flat),
          new Float32Array([w.originTs / HOUR_MS]),
          new Float32Array(w.refFlat.length).fill(3).map((v, k) => (k % R === 0 ? 11 : v)),
        );
        expect(packed[0]).toBe(width > 0 ? 11 : 7);
      } finally {
        await older.release();
      }
    }
  });

  test('faults: unknown metric, wrong length, NaN (null is the way to say missing)', async () => {
    const values = Array.from({ length: FAULT_WINDOW }, (_, i): number | null => 50 + i);
    await rejects(() => faults.score([{ metric: 'noise', values }]), /not noise/);
    await rejects(
      () => faults.score([{ metric: 'pm25', values: values.slice(2) }]),
      /must hold 72 hourly values, got 70/,
    );
    const bad = [...values];
    bad[5] = Number.NaN;
    await rejects(() => faults.score([{ metric: 'pm25', values: bad }]), /values\[5\] is NaN; use null/);
  });
});

describe('the committed models', () => {
  const MODELS = new URL('../', import.meta.url).pathname;

  test('the fault model calls a missing last hour a dropout and a steady series clean', async () => {
    const card = await Bun.file(join(MODELS, 'faults.card.json')).json();
    const committed = await FaultScorer.load(join(MODELS, FAULT_FILE), card.details.threshold);
    try {
      const steady = Array.from({ length: FAULT_WINDOW }, (_, i): number | null => 60 + 10 * Math.sin(i / 4));
      const missing = [...steady];
      missing[FAULT_WINDOW - 1] = null;
      const [gap, clean] = await committed.score([
        { metric: 'pm25', values: missing, reference: steady },
        { metric: 'pm25', values: steady, reference: steady },
      ]);
      expect(gap?.kind).toBe('dropout');
      expect(clean?.fault).toBe(false);
    } finally {
      await committed.release();
    }
  });

  test('the forecast card’s hash is the committed ONNX file’s', async () => {
    const card = await Bun.file(join(MODELS, 'forecast.card.json')).json();
    const bytes = await Bun.file(join(MODELS, FORECAST_FILE)).bytes();
    expect(card.sha256).toBe(new Bun.CryptoHasher('sha256').update(bytes).digest('hex'));
  });
});
