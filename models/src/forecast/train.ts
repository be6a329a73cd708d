import { CHANNELS, type Dataset } from '../data/dataset.ts';
import { fitRidge } from '../nn/linear.ts';
import { type ForecastParams, medianLog } from './model.ts';
import { buildSamples, type ForecastSamples } from './samples.ts';
import { FEATURE_NAMES, HORIZONS, QUANTILES, TARGETS } from './spec.ts';

/** Hour-of-day means of each target per station (and over all stations), µg/m³: the climatology baseline. */
export interface Climatology {
  stations: Record<string, Record<string, number[]>>;
  network: Record<string, number[]>;
}

export interface ForecastTraining {
  params: ForecastParams;
  climatology: Climatology;
  /** Scores on the tune slice of the model fitted without it. */
  tune: ForecastScoreTable;
}

/** MAE/RMSE per method and horizon, and interval coverage, on a set of forecast points. */
export type ForecastScoreTable = Record<
  string,
  {
    horizon: number;
    points: number;
    mae: Record<string, number>;
    rmse: Record<string, number>;
    coverage: number;
  }[]
>;

export const REPORT_HORIZONS = [1, 4, 24, 72] as const;

/** Hour-of-day climatology of the targets over the hours before `toHour`. */
export function climatology(dataset: Dataset, toHour: number): Climatology {
  const C = CHANNELS.length;
  const stations: Climatology['stations'] = {};
  const network: Climatology['network'] = {};
  for (const target of TARGETS) {
    const c = CHANNELS.indexOf(target);
    const all = { sum: new Float64Array(24), count: new Float64Array(24) };
    for (const series of dataset.stations) {
      const own = { sum: new Float64Array(24), count: new Float64Array(24) };
      for (let h = 0; h < dataset.hours && dataset.startHour + h < toHour; h++) {
        const value = series.values[h * C + c] as number;
        if (Number.isNaN(value)) continue;
        const hod = (dataset.startHour + h) % 24;
        for (const acc of [own, all]) {
          acc.sum[hod] = (acc.sum[hod] as number) + value;
          acc.count[hod] = (acc.count[hod] as number) + 1;
        }
      }
      stations[series.station] ??= {};
      (stations[series.station] as Record<string, number[]>)[target] = Array.from(own.sum, (sum, hod) =>
        round(sum / Math.max(1, own.count[hod] as number)),
      );
    }
    network[target] = Array.from(all.sum, (sum, hod) => round(sum / Math.max(1, all.count[hod] as number)));
  }
  return { stations, network };
}

const round = (value: number) => Math.round(value * 1000) / 1000;

/** The climatology value for a station's target at an epoch hour (network-wide for an unknown station). */
export function climatologyAt(clim: Climatology, station: string, target: string, epochHour: number): number {
  const table = clim.stations[station]?.[target] ?? clim.network[target];
  return table?.[epochHour % 24] ?? Number.NaN;
}

/**
 * Scores a forecast model and the two baselines on the same points: every sample and horizon
 * with an observed target. Persistence is the (gap-filled) value at the origin.
 */
export function scoreForecast(
  params: ForecastParams,
  samples: ForecastSamples,
  stationNames: string[],
  clim: Climatology,
  predictedLog?: Float64Array,
): ForecastScoreTable {
  const F = FEATURE_NAMES.length;
  const O = TARGETS.length * HORIZONS;
  const Q = QUANTILES.length;
  const median = new Float64Array(O);
  const table: ForecastScoreTable = {};
  TARGETS.forEach((target, t) => {
    const acc = REPORT_HORIZONS.map((horizon) => ({
      horizon,
      n: 0,
      abs: { model: 0, persistence: 0, climatology: 0 },
      sq: { model: 0, persistence: 0, climatology: 0 },
      covered: 0,
    }));
    for (let i = 0; i < samples.count; i++) {
      if (predictedLog) median.set(predictedLog.subarray(i * O, (i + 1) * O));
      else medianLog(params, samples.features, i * F, median);
      const station = stationNames[samples.station[i] as number] as string;
      for (const a of acc) {
        const o = t * HORIZONS + a.horizon - 1;
        const y = samples.targets[i * O + o] as number;
        if (Number.isNaN(y)) continue;
        const truth = Math.expm1(y);
        const m = median[o] as number;
        const p10 = Math.max(0, Math.expm1(m + (params.offsets[o * Q] as number)));
        const p50 = Math.max(0, Math.expm1(m + (params.offsets[o * Q + 1] as number)));
        const p90 = Math.max(0, Math.expm1(m + (params.offsets[o * Q + 2] as number)));
        const guesses = {
          model: p50,
          persistence: samples.last[i * TARGETS.length + t] as number,
          climatology: climatologyAt(clim, station, target, (samples.origin[i] as number) + a.horizon),
        };
        a.n++;
        for (const [method, guess] of Object.entries(guesses) as [keyof typeof guesses, number][]) {
          a.abs[method] += Math.abs(guess - truth);
          a.sq[method] += (guess - truth) ** 2;
        }
        if (truth >= p10 && truth <= p90) a.covered++;
      }
    }
    table[target] = acc.map((a) => ({
      horizon: a.horizon,
      points: a.n,
      mae: mapValues(a.abs, (sum) => round(sum / a.n)),
      rmse: mapValues(a.sq, (sum) => round(Math.sqrt(sum / a.n))),
      coverage: round(a.covered / a.n),
    }));
  });
  return table;
}

const mapValues = <T extends Record<string, number>>(o: T, f: (v: number) => number) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)])) as Record<keyof T, number>;

export interface ForecastTrainOptions {
  /** First origin of the tune slice (epoch hours); earlier data fits, the slice calibrates. */
  tuneFromHour: number;
  lambda: number;
  /** Origins used for fitting: every `stride`-th hour. */
  stride: number;
}

/**
 * Fits the forecast: ridge on log targets (closed form) with origins before the tune slice,
 * interval offsets from that model's log residual quantiles on the tune slice, then the final
 * ridge on every training year with the same regularisation (the offsets stay).
 */
export function trainForecast(dataset: Dataset, options: ForecastTrainOptions): ForecastTraining {
  const F = FEATURE_NAMES.length;
  const O = TARGETS.length * HORIZONS;
  const end = dataset.startHour + dataset.hours - 1;
  // Fit origins stop HORIZONS before the slice, so no fitted target falls inside it.
  const fit = buildSamples(dataset, {
    fromHour: dataset.startHour,
    toHour: options.tuneFromHour - HORIZONS - 1,
    stride: options.stride,
  });
  const first = fitRidge(fit.features, fit.targets, fit.count, F, O, options.lambda);
  const tune = buildSamples(dataset, { fromHour: options.tuneFromHour, toHour: end, stride: 1 });
  const predicted = new Float64Array(tune.count * O);
  const median = new Float64Array(O);
  const zeroOffsets = new Float64Array(O * QUANTILES.length);
  for (let i = 0; i < tune.count; i++) {
    medianLog({ ...first, offsets: zeroOffsets }, tune.features, i * F, median);
    predicted.set(median, i * O);
  }
  const offsets = new Float64Array(O * QUANTILES.length);
  const residuals: number[] = [];
  for (let o = 0; o < O; o++) {
    residuals.length = 0;
    for (let i = 0; i < tune.count; i++) {
      const y = tune.targets[i * O + o] as number;
      if (!Number.isNaN(y)) residuals.push(y - (predicted[i * O + o] as number));
    }
    residuals.sort((a, b) => a - b);
    QUANTILES.forEach((q, k) => {
      // The median stays the model's own; p10/p90 are the residual quantiles (never crossing it).
      const value = q === 0.5 ? 0 : (residuals[Math.floor(q * (residuals.length - 1))] as number);
      offsets[o * QUANTILES.length + k] = q < 0.5 ? Math.min(0, value) : Math.max(0, value);
    });
  }
  const clim = climatology(dataset, options.tuneFromHour);
  const names = dataset.stations.map((s) => s.station);
  const tuneScores = scoreForecast({ ...first, offsets }, tune, names, clim, predicted);
  const all = buildSamples(dataset, { fromHour: dataset.startHour, toHour: end, stride: options.stride });
  const final = fitRidge(all.features, all.targets, all.count, F, O, options.lambda);
  return {
    params: { ...final, offsets },
    climatology: climatology(dataset, end + 1),
    tune: tuneScores,
  };
}
