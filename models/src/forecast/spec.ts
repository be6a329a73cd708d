import { CHANNELS } from '../data/dataset.ts';

/**
 * The forecast model's feature definition, shared by the TypeScript training code and the ONNX
 * graph builder so the two cannot drift apart: every feature is a lag or a block mean of one
 * transformed channel, i.e. a linear function of the transformed window, plus calendar features.
 */

/** Hours of history the model reads; the last row is the forecast origin. */
export const WINDOW_HOURS = 72;
/** Horizons 1..72 h ahead of the origin. */
export const HORIZONS = 72;
/** Forecast targets, in output order. */
export const TARGETS = ['pm25', 'pm10'] as const;
/** Output quantiles, in output order. */
export const QUANTILES = [0.1, 0.5, 0.9] as const;

const ch = (metric: string) => {
  const index = CHANNELS.indexOf(metric);
  if (index < 0) throw new Error(`no channel ${metric}`);
  return index;
};
/** Input channel indices the transforms read. */
export const IN = {
  pm25: ch('pm25'),
  pm10: ch('pm10'),
  so2: ch('so2'),
  no2: ch('no2'),
  co: ch('co'),
  o3: ch('o3'),
  temp: ch('temp'),
  pressure: ch('pressure'),
  dewpoint: ch('dewpoint'),
  rain: ch('rain'),
  windSpeed: ch('wind_speed'),
  windDir: ch('wind_dir'),
};

/**
 * Transformed channels: pollutants and rain as log1p of the non-negative value (their spread grows
 * with their level), wind as the vector components, and the dew-point spread (a humidity proxy).
 */
export const TRANSFORMED = [
  'log_pm25',
  'log_pm10',
  'log_so2',
  'log_no2',
  'log_co',
  'log_o3',
  'temp',
  'pressure',
  'dewpoint',
  'log_rain',
  'wind_speed',
  'wind_u',
  'wind_v',
  'dewpoint_spread',
  'log_ref_pm25',
  'log_ref_pm10',
  'ref_gap_pm25',
  'ref_gap_pm10',
  'ref_pressure',
  'ref_dewpoint',
  'ref_wind_u',
  'ref_wind_v',
] as const;
export type Transformed = (typeof TRANSFORMED)[number];

/**
 * The optional reference input, per hour: the median of the *other* sensors' PM2.5 and PM10 (the
 * network reference the fault model reads too) and the network's weather, the mean over every
 * reporting sensor of pressure, dew point and wind as u/v components (the wind averaged as a
 * vector, never as degrees; see networkMean). NaN where fewer than two others report: the sensor's
 * own value stands in, which makes the reference features say "the network is where I am".
 */
export const REFERENCE_CHANNELS = ['pm25', 'pm10', 'pressure', 'dewpoint', 'wind_u', 'wind_v'] as const;
export type ReferenceChannel = (typeof REFERENCE_CHANNELS)[number];
/** How each reference channel summarises the other sensors. */
export const REFERENCE_KINDS: readonly ('median' | 'mean')[] = REFERENCE_CHANNELS.map((name) =>
  name === 'pm25' || name === 'pm10' ? 'median' : 'mean',
);
/**
 * Reference widths a caller may send: the first 2 channels (PM2.5, PM10: the reference of the
 * models before the network weather) or all of them. A model takes the first channels it declares.
 */
export const REFERENCE_WIDTHS: readonly number[] = [2, REFERENCE_CHANNELS.length];

/**
 * One sensor's own value of every reference channel in one raw hour (CHANNELS order), written to
 * `out[outOffset + r]`; NaN where unknown (wind u/v need both speed and direction).
 */
export function referenceValues(
  raw: ArrayLike<number>,
  offset: number,
  out: Float64Array,
  outOffset = 0,
): void {
  const speed = raw[offset + IN.windSpeed] as number;
  const radians = ((raw[offset + IN.windDir] as number) * Math.PI) / 180;
  out[outOffset] = raw[offset + IN.pm25] as number;
  out[outOffset + 1] = raw[offset + IN.pm10] as number;
  out[outOffset + 2] = raw[offset + IN.pressure] as number;
  out[outOffset + 3] = raw[offset + IN.dewpoint] as number;
  out[outOffset + 4] = speed * Math.sin(radians);
  out[outOffset + 5] = speed * Math.cos(radians);
}

/**
 * A network weather channel from the sum and count over every sensor that reported that hour (own
 * included: the network's weather is one value per hour, so the predictor computes it once per
 * hour rather than once per sensor), NaN when fewer than two *other* sensors reported, as for the
 * medians. `ownReports`: whether the sensor's own value was among them.
 */
export function networkMean(sum: number, count: number, ownReports: boolean): number {
  return count - (ownReports ? 1 : 0) < 2 ? Number.NaN : sum / count;
}

/**
 * Maps one raw hour (CHANNELS order) and its reference (REFERENCE_CHANNELS order, NaN = unknown)
 * to the transformed channels (TRANSFORMED order).
 */
export function transformHour(
  raw: ArrayLike<number>,
  offset: number,
  reference: ArrayLike<number>,
  referenceOffset: number,
  out: Float64Array,
  outOffset: number,
) {
  const get = (c: number) => raw[offset + c] as number;
  const log1p = (value: number) => Math.log1p(Math.max(value, 0));
  const radians = (get(IN.windDir) * Math.PI) / 180;
  out[outOffset] = log1p(get(IN.pm25));
  out[outOffset + 1] = log1p(get(IN.pm10));
  out[outOffset + 2] = log1p(get(IN.so2));
  out[outOffset + 3] = log1p(get(IN.no2));
  out[outOffset + 4] = log1p(get(IN.co));
  out[outOffset + 5] = log1p(get(IN.o3));
  out[outOffset + 6] = get(IN.temp);
  out[outOffset + 7] = get(IN.pressure);
  out[outOffset + 8] = get(IN.dewpoint);
  out[outOffset + 9] = log1p(get(IN.rain));
  out[outOffset + 10] = get(IN.windSpeed);
  out[outOffset + 11] = get(IN.windSpeed) * Math.sin(radians);
  out[outOffset + 12] = get(IN.windSpeed) * Math.cos(radians);
  out[outOffset + 13] = get(IN.temp) - get(IN.dewpoint);
  for (let r = 0; r < 2; r++) {
    const value = reference[referenceOffset + r] as number;
    const own = out[outOffset + r] as number;
    const ref = Number.isNaN(value) ? own : log1p(value);
    out[outOffset + 14 + r] = ref;
    out[outOffset + 16 + r] = ref - own;
  }
  // Network weather: pressure, dew point, wind u, wind v; unknown hours take the own value.
  const owns = [7, 8, 11, 12];
  for (let k = 0; k < 4; k++) {
    const value = reference[referenceOffset + 2 + k] as number;
    out[outOffset + 18 + k] = Number.isNaN(value) ? (out[outOffset + (owns[k] as number)] as number) : value;
  }
}

/** One window feature: the mean of a transformed channel over hours `from..to` back from the origin (0 = origin). */
export interface WindowFeature {
  name: string;
  channel: number;
  from: number;
  to: number;
}

const lags = (name: Transformed, hours: number[]): WindowFeature[] =>
  hours.map((lag) => ({ name: `${name}_lag${lag}`, channel: TRANSFORMED.indexOf(name), from: lag, to: lag }));
const means = (name: Transformed, blocks: [number, number][]): WindowFeature[] =>
  blocks.map(([from, to]) => ({
    name: `${name}_mean${from}_${to}`,
    channel: TRANSFORMED.indexOf(name),
    from,
    to,
  }));

/** The window features, in model input order. */
export const WINDOW_FEATURES: readonly WindowFeature[] = [
  ...lags('log_pm25', [0, 1, 2, 3, 4, 6, 9, 12, 18, 23, 47, 71]),
  ...means('log_pm25', [
    [0, 5],
    [0, 11],
    [0, 23],
    [24, 47],
    [48, 71],
  ]),
  ...lags('log_pm10', [0, 1, 2, 3, 6, 12, 23]),
  ...means('log_pm10', [
    [0, 5],
    [0, 23],
    [24, 71],
  ]),
  ...(['log_so2', 'log_no2', 'log_co', 'log_o3'] as const).flatMap((name) => [
    ...lags(name, [0, 1, 3]),
    ...means(name, [
      [0, 5],
      [0, 23],
    ]),
  ]),
  ...(['temp', 'pressure', 'dewpoint', 'dewpoint_spread'] as const).flatMap((name) => [
    ...lags(name, [0, 3, 6, 12, 23]),
    ...means(name, [[0, 23]]),
  ]),
  ...lags('log_rain', [0]),
  ...means('log_rain', [
    [0, 5],
    [0, 23],
  ]),
  ...(['wind_speed', 'wind_u', 'wind_v'] as const).flatMap((name) => [
    ...lags(name, [0, 1, 2, 3, 6]),
    ...means(name, [
      [0, 5],
      [0, 11],
      [0, 23],
    ]),
  ]),
  ...lags('log_ref_pm25', [0, 1, 2, 3, 6, 12]),
  ...lags('log_ref_pm10', [0, 1, 3, 6, 12, 23]),
  ...lags('ref_gap_pm25', [0]),
  ...means('ref_gap_pm25', [[0, 5]]),
  ...lags('ref_gap_pm10', [0]),
  ...(['ref_pressure', 'ref_dewpoint', 'ref_wind_u', 'ref_wind_v'] as const).flatMap((name) => [
    ...lags(name, [0, 3, 6, 12, 24]),
    ...means(name, [[0, 5]]),
  ]),
];

/** Calendar features of the origin hour (UTC): hour-of-day one-hot, day-of-week one-hot, seasonal harmonics. */
export const CALENDAR_FEATURES: readonly string[] = [
  ...Array.from({ length: 24 }, (_, h) => `hour_${h}`),
  ...Array.from({ length: 7 }, (_, d) => `weekday_${d}`),
  'season_sin1',
  'season_cos1',
  'season_sin2',
  'season_cos2',
];

/** Mean tropical year in hours: the seasonal phase of an epoch hour. */
export const YEAR_HOURS = 8765.8128;

/** Writes the calendar features of an origin (epoch hours, UTC) into `out` at `offset`. */
export function calendarFeatures(epochHour: number, out: Float64Array, offset: number): void {
  for (let i = 0; i < CALENDAR_FEATURES.length; i++) out[offset + i] = 0;
  const hour = ((epochHour % 24) + 24) % 24;
  // 1970-01-01 was a Thursday; index 0 = the day of epoch day 0, so the one-hot is just day mod 7.
  const weekday = ((Math.floor(epochHour / 24) % 7) + 7) % 7;
  out[offset + hour] = 1;
  out[offset + 24 + weekday] = 1;
  // Reduced mod the year first, as the graph does, so float32 keeps the phase precise.
  const phase = (2 * Math.PI * (epochHour % YEAR_HOURS)) / YEAR_HOURS;
  out[offset + 31] = Math.sin(phase);
  out[offset + 32] = Math.cos(phase);
  out[offset + 33] = Math.sin(2 * phase);
  out[offset + 34] = Math.cos(2 * phase);
}

/** Every input feature name, in order. */
export const FEATURE_NAMES: readonly string[] = [...WINDOW_FEATURES.map((f) => f.name), ...CALENDAR_FEATURES];

/** A reference window with every hour unknown: the features then fall back on the sensor's own values. */
export const NO_REFERENCE: Float32Array = new Float32Array(WINDOW_HOURS * REFERENCE_CHANNELS.length).fill(
  Number.NaN,
);

/**
 * Features of one complete window (WINDOW_HOURS × CHANNELS, oldest first, no NaN) ending at
 * `originHour`, with its reference window (WINDOW_HOURS × REFERENCE_CHANNELS, NaN = unknown).
 * `scratch` holds the transformed window (WINDOW_HOURS × TRANSFORMED).
 */
export function windowFeatures(
  window: ArrayLike<number>,
  windowOffset: number,
  reference: ArrayLike<number>,
  referenceOffset: number,
  originHour: number,
  out: Float64Array,
  outOffset: number,
  scratch = new Float64Array(WINDOW_HOURS * TRANSFORMED.length),
): void {
  const T = TRANSFORMED.length;
  const R = REFERENCE_CHANNELS.length;
  for (let h = 0; h < WINDOW_HOURS; h++)
    transformHour(
      window,
      windowOffset + h * CHANNELS.length,
      reference,
      referenceOffset + h * R,
      scratch,
      h * T,
    );
  WINDOW_FEATURES.forEach((feature, i) => {
    let sum = 0;
    for (let back = feature.from; back <= feature.to; back++) {
      sum += scratch[(WINDOW_HOURS - 1 - back) * T + feature.channel] as number;
    }
    out[outOffset + i] = sum / (feature.to - feature.from + 1);
  });
  calendarFeatures(originHour, out, outOffset + WINDOW_FEATURES.length);
}
