import { CHANNELS, type Dataset } from '../data/dataset.ts';
import { fitRidge } from '../nn/linear.ts';
import {
  BASE_FEATURES,
  combine,
  type ForecastParams,
  forecastLog,
  forecastParts,
  partsScratch,
} from './model.ts';
import { type NetTrainOptions, trainNet } from './net.ts';
import { buildSamples, type ForecastSamples } from './samples.ts';
import { FEATURE_NAMES, HORIZONS, QUANTILES, TARGETS, WINDOW_HOURS } from './spec.ts';

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
  /** The same, when the caller gives no reference (every reference hour NaN). */
  tuneWithoutReference: ForecastScoreTable;
  /** The slices (origins, epoch hours) the blend and the interval scales were chosen on. */
  calibratedOn: { fromHour: number; toHour: number }[];
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
 * Scores forecasts (log1p quantiles [count × O × 3]) and the two baselines on the same points:
 * every sample and horizon with an observed target. Persistence is the (gap-filled) value at the origin.
 */
export function scoreForecast(
  samples: ForecastSamples,
  stationNames: string[],
  clim: Climatology,
  predictedLog: Float64Array,
): ForecastScoreTable {
  const O = TARGETS.length * HORIZONS;
  const Q = QUANTILES.length;
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
      const station = stationNames[samples.station[i] as number] as string;
      for (const a of acc) {
        const o = t * HORIZONS + a.horizon - 1;
        const y = samples.targets[i * O + o] as number;
        if (Number.isNaN(y)) continue;
        const truth = Math.expm1(y);
        const at = (i * O + o) * Q;
        const p10 = Math.max(0, Math.expm1(predictedLog[at] as number));
        const p50 = Math.max(0, Math.expm1(predictedLog[at + 1] as number));
        const p90 = Math.max(0, Math.expm1(predictedLog[at + 2] as number));
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
  /** Ridge regularisation (× rows). */
  lambda: number;
  /** Origins used for fitting: every `stride`-th hour. */
  stride: number;
  /** The quantile networks' settings (member k gets seed + k). */
  net: Omit<NetTrainOptions, 'knots' | 'horizons' | 'quantiles'>;
  /** How many networks to average. */
  members: number;
  /**
   * Calibrate the blend and the intervals on a second slice too, at the start of the data, with
   * members fitted on the hours after its last outcome: one year's calibration drifted by a year's
   * change of weather (trained to 2015-02, the next year's 24 h coverage was 87%, not 80%).
   */
  crossFit?: boolean;
}

/** Horizon knots of the network: dense where the forecast changes fast, sparse where it settles. */
export const KNOTS = [1, 2, 3, 4, 6, 9, 12, 18, 24, 36, 48, 72];
/**
 * Features the ridge uses: all but the network weather, which only the networks read (in the ridge
 * it made the long horizons worse on the tune slice, where the ridge carries the blend).
 */
export const RIDGE_FEATURES: readonly boolean[] = FEATURE_NAMES.map(
  (name) => !/^ref_(pressure|dewpoint|wind_u|wind_v)_/.test(name),
);
/** Candidate weights of the network's median in the per-horizon blend. */
const BLENDS = [0, 0.25, 0.5, 0.75, 1];

function fitMembers(samples: ForecastSamples, options: ForecastTrainOptions) {
  const F = FEATURE_NAMES.length;
  const O = TARGETS.length * HORIZONS;
  const ridge = fitRidge(
    samples.features,
    samples.targets,
    samples.count,
    F,
    O,
    options.lambda,
    RIDGE_FEATURES,
  );
  const base = new Float64Array(samples.count * TARGETS.length);
  for (let i = 0; i < samples.count; i++)
    BASE_FEATURES.forEach((index, t) => {
      base[i * TARGETS.length + t] = samples.features[i * F + index] as number;
    });
  const nets = Array.from({ length: options.members }, (_, k) =>
    trainNet(samples.features, base, samples.targets, samples.count, ridge.mean, ridge.std, TARGETS.length, {
      ...options.net,
      seed: options.net.seed + k,
      knots: KNOTS,
      horizons: HORIZONS,
      quantiles: QUANTILES,
    }),
  );
  return { mean: ridge.mean, std: ridge.std, ridgeWeights: ridge.weights, ridgeBias: ridge.bias, nets };
}

/** The q-quantile of a sorted array (lower index). */
const quantile = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))] as number;

/** Both members' log1p outputs on a slice: network quantiles [count × O × 3] and ridge [count × O]. */
interface SliceParts {
  samples: ForecastSamples;
  params: ForecastParams;
  netOut: Float64Array;
  ridgeOut: Float64Array;
}

/** Members fitted on one span of origins, and their outputs on a slice they never saw. */
function outOfSample(
  dataset: Dataset,
  options: ForecastTrainOptions,
  fit: { fromHour: number; toHour: number },
  slice: { fromHour: number; toHour: number },
): SliceParts {
  const F = FEATURE_NAMES.length;
  const O = TARGETS.length * HORIZONS;
  const members = fitMembers(buildSamples(dataset, { ...fit, stride: options.stride }), options);
  const samples = buildSamples(dataset, { ...slice, stride: 1 });
  const params: ForecastParams = {
    ...members,
    blend: new Float64Array(O).fill(1),
    scales: new Float64Array(O * 2).fill(1),
  };
  const netOut = new Float64Array(samples.count * O * 3);
  const ridgeOut = new Float64Array(samples.count * O);
  const scratch = partsScratch(params);
  for (let i = 0; i < samples.count; i++) {
    forecastParts(
      params,
      samples.features,
      i * F,
      netOut.subarray(i * O * 3, (i + 1) * O * 3),
      ridgeOut.subarray(i * O, (i + 1) * O),
      scratch,
    );
  }
  return { samples, params, netOut, ridgeOut };
}

/**
 * Per target and horizon, over every slice's points: the blend weight with the least MAE in µg/m³
 * and the interval scales that put 10% of outcomes below p10 and 10% above p90.
 */
export function calibrate(
  slices: readonly {
    samples: Pick<ForecastSamples, 'count' | 'targets'>;
    netOut: Float64Array;
    ridgeOut: Float64Array;
  }[],
): { blend: Float64Array; scales: Float64Array } {
  const O = TARGETS.length * HORIZONS;
  const Q = QUANTILES.length;
  const blend = new Float64Array(O);
  const scales = new Float64Array(O * 2);
  const below: number[] = [];
  const above: number[] = [];
  for (let o = 0; o < O; o++) {
    let best = Number.POSITIVE_INFINITY;
    for (const b of BLENDS) {
      let sum = 0;
      for (const { samples, netOut, ridgeOut } of slices) {
        for (let i = 0; i < samples.count; i++) {
          const y = samples.targets[i * O + o] as number;
          if (Number.isNaN(y)) continue;
          const median =
            b * (netOut[(i * O + o) * 3 + 1] as number) + (1 - b) * (ridgeOut[i * O + o] as number);
          sum += Math.abs(Math.expm1(median) - Math.expm1(y));
        }
      }
      if (sum < best) {
        best = sum;
        blend[o] = b;
      }
    }
    below.length = 0;
    above.length = 0;
    const b = blend[o] as number;
    for (const { samples, netOut, ridgeOut } of slices) {
      for (let i = 0; i < samples.count; i++) {
        const y = samples.targets[i * O + o] as number;
        if (Number.isNaN(y)) continue;
        const at = (i * O + o) * 3;
        const md = netOut[at + 1] as number;
        const median = b * md + (1 - b) * (ridgeOut[i * O + o] as number);
        // How many of the network's distances the outcome lies below / above the median.
        below.push((median - y) / Math.max(1e-6, md - (netOut[at] as number)));
        above.push((y - median) / Math.max(1e-6, (netOut[at + 2] as number) - md));
      }
    }
    below.sort((x, y) => x - y);
    above.sort((x, y) => x - y);
    scales[o * 2] = Math.max(0, quantile(below, 1 - (QUANTILES[0] as number)));
    scales[o * 2 + 1] = Math.max(0, quantile(above, QUANTILES[Q - 1] as number));
  }
  return { blend, scales };
}

/**
 * Fits the forecast: both members on origins before the tune slice, scored on the slice; with
 * `crossFit`, also members on origins after a slice of the same length at the start of the data,
 * scored on that one. Over the slices' points, per target and horizon, the blend weight and the
 * interval scales (calibrate); then both members again on every training year with the same
 * settings (blend and scales stay). The reported scores are the tune slice's.
 */
export function trainForecast(dataset: Dataset, options: ForecastTrainOptions): ForecastTraining {
  const F = FEATURE_NAMES.length;
  const O = TARGETS.length * HORIZONS;
  const end = dataset.startHour + dataset.hours - 1;
  // Fit origins stop HORIZONS before the slice, so no fitted target falls inside it.
  const latest = outOfSample(
    dataset,
    options,
    { fromHour: dataset.startHour, toHour: options.tuneFromHour - HORIZONS - 1 },
    { fromHour: options.tuneFromHour, toHour: end },
  );
  const slices = [latest];
  const calibratedOn = [{ fromHour: options.tuneFromHour, toHour: end }];
  const earliestEnd = dataset.startHour + (end - options.tuneFromHour);
  // Fit windows start after the slice's last outcome, so its members never read an hour it scores.
  const fitFrom = earliestEnd + HORIZONS + WINDOW_HOURS;
  // Only when those members have at least half a slice's length of hours to fit on.
  if (options.crossFit && end - fitFrom >= (end - options.tuneFromHour) / 2) {
    const earliest = { fromHour: dataset.startHour, toHour: earliestEnd };
    slices.push(outOfSample(dataset, options, { fromHour: fitFrom, toHour: end }, earliest));
    calibratedOn.push(earliest);
  }
  const { blend, scales } = calibrate(slices);
  const { samples: tune, netOut, ridgeOut, params: firstParams } = latest;
  const scratch = partsScratch(firstParams);
  const predicted = new Float64Array(tune.count * O * 3);
  for (let i = 0; i < tune.count; i++) {
    combine(
      blend,
      scales,
      netOut.subarray(i * O * 3, (i + 1) * O * 3),
      ridgeOut.subarray(i * O, (i + 1) * O),
      predicted,
      i * O * 3,
    );
  }
  const clim = climatology(dataset, options.tuneFromHour);
  const names = dataset.stations.map((s) => s.station);
  const tuneScores = scoreForecast(tune, names, clim, predicted);
  const alone = buildSamples(dataset, {
    fromHour: options.tuneFromHour,
    toHour: end,
    stride: 1,
    withoutReference: true,
  });
  const aloneParams = { ...firstParams, blend, scales };
  const alonePredicted = new Float64Array(alone.count * O * 3);
  for (let i = 0; i < alone.count; i++)
    forecastLog(aloneParams, alone.features, i * F, alonePredicted, i * O * 3, scratch);
  const all = buildSamples(dataset, { fromHour: dataset.startHour, toHour: end, stride: options.stride });
  const final = fitMembers(all, options);
  return {
    params: { ...final, blend, scales },
    climatology: climatology(dataset, end + 1),
    tune: tuneScores,
    tuneWithoutReference: scoreForecast(alone, names, clim, alonePredicted),
    calibratedOn,
  };
}
