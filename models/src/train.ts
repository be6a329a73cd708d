import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cardMarkdown, type ModelCard, sha256 } from './card.ts';
import { CHANNELS, type Dataset, HOUR_MS } from './data/dataset.ts';
import { MAX_FILL_HOURS } from './data/gaps.ts';
import { FAULT_IO, faultGraph } from './fault/graph.ts';
import { FAULT_CLASSES, FAULT_FEATURE_NAMES, FAULT_METRICS, FAULT_WINDOW } from './fault/spec.ts';
import { type FaultTraining, trainFaults } from './fault/train.ts';
import { FORECAST_IO, forecastGraph } from './forecast/graph.ts';
import {
  FEATURE_NAMES,
  HORIZONS,
  QUANTILES,
  REFERENCE_CHANNELS,
  TARGETS,
  WINDOW_HOURS,
} from './forecast/spec.ts';
import { type ForecastTraining, KNOTS, trainForecast } from './forecast/train.ts';

export const FORECAST_FILE = 'forecast.onnx';
export const FAULT_FILE = 'faults.onnx';
export const OPSET = 17;

export interface TrainOptions {
  dataLabel: string;
  outDir: string;
  seed: number;
  /** Months at the end of the data kept for tuning. */
  tuneMonths: number;
  /** Smaller and faster settings (tests). */
  quick?: boolean;
}

const iso = (hour: number) => new Date(hour * HOUR_MS).toISOString();

/** Trains both models on a dataset and writes each ONNX file with its card (JSON + Markdown). */
export async function trainAll(dataset: Dataset, options: TrainOptions) {
  const end = dataset.startHour + dataset.hours;
  const endDate = new Date(end * HOUR_MS);
  const tuneFromHour =
    Date.UTC(endDate.getUTCFullYear(), endDate.getUTCMonth() - options.tuneMonths, endDate.getUTCDate()) /
    HOUR_MS;
  const forecast = trainForecast(dataset, {
    tuneFromHour,
    lambda: 1e-4,
    // Every hour: with every 2nd hour the odd hours of the day would never be seen in training.
    stride: options.quick ? 6 : 1,
    members: 2,
    crossFit: !options.quick,
    net: {
      hidden: options.quick ? 8 : 32,
      epochs: options.quick ? 1 : 4,
      batch: 256,
      learningRate: 1e-3,
      decay: 1e-4,
      alpha: 1,
      seed: options.seed,
    },
  });
  const faults = trainFaults(dataset, {
    tuneFromHour,
    seed: options.seed,
    hidden: options.quick ? 16 : 32,
    epochs: options.quick ? 1 : 4,
    cleanShare: options.quick ? 0.05 : 0.15,
  });
  await mkdir(options.outDir, { recursive: true });
  const training = {
    data: options.dataLabel,
    from: iso(dataset.startHour),
    to: iso(end - 1),
    tuneFrom: iso(tuneFromHour),
    seed: options.seed,
    command: 'bun run train',
  };
  const forecastCard = await writeForecast(forecast, training, options.outDir);
  const faultCard = await writeFaults(faults, training, options.outDir);
  return { forecast, faults, forecastCard, faultCard };
}

async function writeCard(
  outDir: string,
  file: string,
  bytes: Uint8Array,
  card: Omit<ModelCard, 'sha256' | 'file'>,
) {
  await Bun.write(join(outDir, file), bytes);
  const full: ModelCard = { ...card, file, sha256: sha256(bytes) };
  const base = file.replace(/\.onnx$/, '');
  await Bun.write(join(outDir, `${base}.card.json`), `${JSON.stringify(full, null, 2)}\n`);
  await Bun.write(join(outDir, `${base}.card.md`), cardMarkdown(full));
  return full;
}

/**
 * 2: the reference input carries the network's weather (6 channels, was 2). 3: blend and intervals
 * calibrated on two slices (crossFit).
 */
const FORECAST_GENERATION = 3;

function writeForecast(result: ForecastTraining, training: ModelCard['training'], outDir: string) {
  // The generation changes with the graph's inputs or features, so a registry that holds an older
  // forecast under the same seed and data (it seeds only versions it lacks) takes the new one.
  const version = `forecast-g${FORECAST_GENERATION}-${training.seed}-${training.to.slice(0, 10)}`;
  const bytes = forecastGraph(result.params, 'PM2.5/PM10 forecast, 1–72 h, p10/p50/p90', { version });
  return writeCard(outDir, FORECAST_FILE, bytes, {
    name: 'sensormesh-forecast',
    version,
    task: 'forecast',
    opset: OPSET,
    family: `Mean of ${result.params.nets.length} quantile networks (${FEATURE_NAMES.length} features → ${result.params.nets[0]?.hidden} ReLU + linear skip → p10/p50/p90 change from the origin in log1p space at horizon knots ${KNOTS.join(', ')} h, pinball loss weighted to µg/m³, Adam) blended per horizon with a ridge on log1p targets; features engineered in the graph, including the network reference (median PM of the other sensors, the network's mean weather: the latter read by the networks only); blend and interval scales chosen on the tune slice and, cross-fitted, a first slice of the same length (details.calibratedOn)`,
    inputs: [
      {
        name: FORECAST_IO.window,
        type: 'float32',
        shape: ['N', WINDOW_HOURS, CHANNELS.length],
        description: `The last ${WINDOW_HOURS} hourly means, oldest first, the last row being the forecast origin hour; no NaN (gaps up to ${MAX_FILL_HOURS} h forward-filled by the caller, longer gaps: no forecast). Channels in catalogue units (µg/m³, °C, hPa, mm, m/s, degrees).`,
        order: CHANNELS,
      },
      {
        name: FORECAST_IO.originHour,
        type: 'float32',
        shape: ['N', 1],
        description: 'The origin hour as epoch hours (UTC ms / 3,600,000), for the calendar features.',
      },
      {
        name: FORECAST_IO.reference,
        type: 'float32',
        shape: ['N', WINDOW_HOURS, REFERENCE_CHANNELS.length],
        description:
          'The same hours of the network reference: per hour the median of the other sensors’ raw PM2.5 and PM10, and the network’s weather: the mean over every reporting sensor (own included) of pressure (hPa), dew point (°C) and wind as u = speed·sin(direction), v = speed·cos(direction) (m/s; averaged as vectors, never as degrees). NaN when fewer than two other sensors report (wind: with both speed and direction) or no neighbours are known. NaN hours take the sensor’s own value, so an all-NaN reference is valid (less accurate, see details.withoutReference). A caller with the PM channels alone sends NaN for the weather.',
        order: REFERENCE_CHANNELS,
      },
    ],
    outputs: [
      {
        name: FORECAST_IO.forecast,
        type: 'float32',
        shape: ['N', TARGETS.length, HORIZONS, QUANTILES.length],
        description: 'µg/m³ at origin + 1 … 72 h; quantiles p10, p50, p90 (never crossing).',
        order: [...TARGETS],
      },
    ],
    normalisation:
      'In the graph: pollutants, rain and the reference PM as log1p(max(x, 0)), wind as u/v components, dew-point spread, reference PM minus own, the network weather as is (own values where unknown); lags and block means of those; hour-of-day and weekday one-hots (UTC) and seasonal harmonics; standardised with the training means and deviations stored in the graph. Output = expm1(log1p quantiles), ≥ 0.',
    training,
    metrics: result.tune,
    details: {
      features: FEATURE_NAMES,
      horizons: HORIZONS,
      quantiles: QUANTILES,
      targets: TARGETS,
      maxFillHours: MAX_FILL_HOURS,
      knots: KNOTS,
      blend: Array.from(result.params.blend),
      calibratedOn: result.calibratedOn.map((slice) => ({
        from: iso(slice.fromHour),
        to: iso(slice.toHour),
      })),
      withoutReference: result.tuneWithoutReference,
      climatology: result.climatology,
    },
  });
}

function writeFaults(result: FaultTraining, training: ModelCard['training'], outDir: string) {
  const version = `faults-${training.seed}-${training.to.slice(0, 10)}`;
  const bytes = faultGraph(result.net, result.scales, 'Sensor fault classifier per metric-hour', { version });
  return writeCard(outDir, FAULT_FILE, bytes, {
    name: 'sensormesh-faults',
    version,
    task: 'faults',
    opset: OPSET,
    family: `MLP (${FAULT_FEATURE_NAMES.length} → ${result.net.hidden} ReLU → ${FAULT_CLASSES.length} softmax) on engineered window features computed in the graph, trained with Adam on faults injected into real data`,
    inputs: [
      {
        name: FAULT_IO.values,
        type: 'float32',
        shape: ['N', FAULT_WINDOW],
        description: `One metric's last ${FAULT_WINDOW} hourly values, oldest first, the last being the hour scored; NaN = no reading that hour.`,
      },
      {
        name: FAULT_IO.reference,
        type: 'float32',
        shape: ['N', FAULT_WINDOW],
        description:
          'The same hours of the network reference: the median of the other sensors’ values of that metric (NaN when fewer than two report, or no neighbours).',
      },
      {
        name: FAULT_IO.metric,
        type: 'int64',
        shape: ['N'],
        description: 'Index of the metric in this order.',
        order: FAULT_METRICS,
      },
    ],
    outputs: [
      {
        name: FAULT_IO.probabilities,
        type: 'float32',
        shape: ['N', FAULT_CLASSES.length],
        description: `Class probabilities; flag the hour when p(none) < ${result.threshold} and name the most likely other class.`,
        order: FAULT_CLASSES,
      },
    ],
    normalisation:
      'In the graph: y = gain·asinh(x / knee) per metric (table in details.scales), changes and deviations from the reference in units of the metric’s typical step and deviation, trailing run of identical values, range flags; clipped to ±50 and standardised.',
    training,
    metrics: result.tune,
    details: {
      classes: FAULT_CLASSES,
      threshold: result.threshold,
      scales: result.scales,
      features: FAULT_FEATURE_NAMES,
    },
  });
}
