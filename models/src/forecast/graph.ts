import { CHANNELS } from '../data/dataset.ts';
import { GraphBuilder, int } from '../onnx/graph.ts';
import { DataType } from '../onnx/proto.ts';
import { BASE_FEATURES, type ForecastParams, SELECTION_BLOCKS, selectionMatrix } from './model.ts';
import { HEADS_PER_TARGET, knotMatrix } from './net.ts';
import {
  CALENDAR_FEATURES,
  FEATURE_NAMES,
  HORIZONS,
  IN,
  QUANTILES,
  REFERENCE_CHANNELS,
  TARGETS,
  WINDOW_FEATURES,
  WINDOW_HOURS,
  YEAR_HOURS,
} from './spec.ts';

/** Graph input and output names, part of the model's contract (the card repeats them). */
export const FORECAST_IO = {
  window: 'window',
  originHour: 'origin_hour',
  reference: 'reference',
  forecast: 'forecast',
} as const;

/**
 * The forecast graph: raw window and reference → transformed channels → lags and means (one MatMul
 * with a selection matrix) + calendar one-hots → standardise → quantile network and ridge → blended
 * median, scaled network distances to p10/p90 → expm1.
 */
export function forecastGraph(
  params: ForecastParams,
  doc: string,
  metadata: Record<string, string>,
): Uint8Array {
  const g = new GraphBuilder('sensormesh_forecast');
  const window = g.input(FORECAST_IO.window, DataType.FLOAT, ['N', WINDOW_HOURS, CHANNELS.length]);
  const origin = g.input(FORECAST_IO.originHour, DataType.FLOAT, ['N', 1]);
  const reference = g.input(FORECAST_IO.reference, DataType.FLOAT, [
    'N',
    WINDOW_HOURS,
    REFERENCE_CHANNELS.length,
  ]);
  const pick = (indices: number[]) =>
    g.op('Gather', [window, g.intConst(indices, [indices.length])], { axis: int(2) });
  const one = g.floatConst([1], [1]);
  const log1p = (x: string) => g.op('Log', [g.op('Add', [g.op('Relu', [x]), one])]);

  // Transformed channels in TRANSFORMED order (see transformHour).
  const pollutants = log1p(pick([IN.pm25, IN.pm10, IN.so2, IN.no2, IN.co, IN.o3]));
  const weather = pick([IN.temp, IN.pressure, IN.dewpoint]);
  const rain = log1p(pick([IN.rain]));
  const speed = pick([IN.windSpeed]);
  const radians = g.op('Mul', [pick([IN.windDir]), g.floatConst([Math.PI / 180], [1])]);
  const u = g.op('Mul', [speed, g.op('Sin', [radians])]);
  const v = g.op('Mul', [speed, g.op('Cos', [radians])]);
  const spread = g.op('Sub', [pick([IN.temp]), pick([IN.dewpoint])]);
  // Reference hours the caller does not know (NaN) take the sensor's own value (see transformHour).
  const refPick = (indices: number[]) =>
    g.op('Gather', [reference, g.intConst(indices, [indices.length])], { axis: int(2) });
  const refPm = refPick([0, 1]);
  const own = log1p(pick([IN.pm25, IN.pm10]));
  const ref = g.op('Where', [g.op('IsNaN', [refPm]), own, log1p(refPm)]);
  const gap = g.op('Sub', [ref, own]);
  // The network's weather (pressure, dew point, wind u/v means); unknown hours take the own values.
  const refWeather = refPick([2, 3, 4, 5]);
  const ownWeather = g.op('Concat', [pick([IN.pressure, IN.dewpoint]), u, v], { axis: int(2) });
  const netWeather = g.op('Where', [g.op('IsNaN', [refWeather]), ownWeather, refWeather]);
  if (REFERENCE_CHANNELS.join() !== 'pm25,pm10,pressure,dewpoint,wind_u,wind_v')
    throw new Error('the graph reads the reference channels in this order');
  // Lags and means: one MatMul per block of transformed channels (SELECTION_BLOCKS).
  const blocks = [
    g.op('Concat', [pollutants, weather, rain, speed, u, v, spread, ref, gap], { axis: int(2) }),
    netWeather,
  ];
  if (blocks.length !== SELECTION_BLOCKS.length) throw new Error('one graph block per selection block');
  const windowFeatures = g.op(
    'Concat',
    SELECTION_BLOCKS.map((block, b) => {
      const T = block.channels[1] - block.channels[0];
      const flat = g.op('Reshape', [blocks[b] as string, g.intConst([-1, WINDOW_HOURS * T], [2])]);
      return g.op('MatMul', [
        flat,
        g.floatConst(selectionMatrix(block), [WINDOW_HOURS * T, block.features[1] - block.features[0]]),
      ]);
    }),
    { axis: int(1) },
  );

  // Calendar: hour-of-day and weekday one-hots, seasonal harmonics (see calendarFeatures).
  const hour = g.op('Mod', [origin, g.floatConst([24], [1])], { fmod: int(1) });
  const hourOneHot = g.op('Cast', [g.op('Equal', [hour, g.floatConst(range(24), [1, 24])])], {
    to: int(DataType.FLOAT),
  });
  const day = g.op('Floor', [g.op('Div', [origin, g.floatConst([24], [1])])]);
  const weekday = g.op('Mod', [day, g.floatConst([7], [1])], { fmod: int(1) });
  const weekdayOneHot = g.op('Cast', [g.op('Equal', [weekday, g.floatConst(range(7), [1, 7])])], {
    to: int(DataType.FLOAT),
  });
  const phase = g.op('Mul', [
    g.op('Mod', [origin, g.floatConst([YEAR_HOURS], [1])], { fmod: int(1) }),
    g.floatConst([(2 * Math.PI) / YEAR_HOURS], [1]),
  ]);
  const phase2 = g.op('Mul', [phase, g.floatConst([2], [1])]);
  const season = g.op(
    'Concat',
    [g.op('Sin', [phase]), g.op('Cos', [phase]), g.op('Sin', [phase2]), g.op('Cos', [phase2])],
    { axis: int(1) },
  );
  const features = g.op('Concat', [windowFeatures, hourOneHot, weekdayOneHot, season], { axis: int(1) });
  if (WINDOW_FEATURES.length + CALENDAR_FEATURES.length !== FEATURE_NAMES.length)
    throw new Error('feature count');

  const F = FEATURE_NAMES.length;
  const T = TARGETS.length;
  const O = T * HORIZONS;
  const standard = g.op('Mul', [
    g.op('Sub', [features, g.floatConst(params.mean, [1, F])]),
    g.floatConst(
      params.std.map((s) => 1 / s),
      [1, F],
    ),
  ]);
  const base = g.op('Reshape', [
    g.op('Gather', [features, g.intConst(BASE_FEATURES, [T])], { axis: int(1) }),
    g.intConst([-1, T, 1], [3]),
  ]);

  // Each quantile network: heads = ReLU layer + linear skip, per target × head × knot; knots →
  // horizons; then the members' median and distances are averaged (see forecastParts).
  const share = g.floatConst([1 / params.nets.length], [1]);
  const average = (terms: string[]) =>
    g.op('Mul', [terms.reduce((sum, term) => g.op('Add', [sum, term])), share]);
  const members = params.nets.map((net) => {
    const E = net.b2.length;
    const K = net.knots.length;
    let heads = g.op('Add', [
      g.op('MatMul', [standard, g.floatConst(net.ws, [F, E])]),
      g.floatConst(net.b2, [1, E]),
    ]);
    if (net.hidden > 0) {
      const hidden = g.op('Relu', [
        g.op('Add', [
          g.op('MatMul', [standard, g.floatConst(net.w1, [F, net.hidden])]),
          g.floatConst(net.b1, [1, net.hidden]),
        ]),
      ]);
      heads = g.op('Add', [heads, g.op('MatMul', [hidden, g.floatConst(net.w2, [net.hidden, E])])]);
    }
    const perHorizon = g.op('MatMul', [
      g.op('Reshape', [heads, g.intConst([-1, T, HEADS_PER_TARGET, K], [4])]),
      g.floatConst(knotMatrix(net.knots, HORIZONS), [K, HORIZONS]),
    ]);
    const head = (q: number) => g.op('Gather', [perHorizon, g.intConst([q], [])], { axis: int(2) });
    return { centre: head(0), low: g.op('Abs', [head(1)]), high: g.op('Abs', [head(2)]) };
  });
  const netMedian = g.op('Add', [base, average(members.map((m) => m.centre))]);
  const netLow = average(members.map((m) => m.low));
  const netHigh = average(members.map((m) => m.high));
  const ridge = g.op('Reshape', [
    g.op('Add', [
      g.op('MatMul', [standard, g.floatConst(params.ridgeWeights, [F, O])]),
      g.floatConst(params.ridgeBias, [1, O]),
    ]),
    g.intConst([-1, T, HORIZONS], [3]),
  ]);
  const median = g.op('Add', [
    g.op('Mul', [netMedian, g.floatConst(params.blend, [1, T, HORIZONS])]),
    g.op('Mul', [
      ridge,
      g.floatConst(
        params.blend.map((b) => 1 - b),
        [1, T, HORIZONS],
      ),
    ]),
  ]);
  const scale = (side: number) =>
    g.floatConst(
      Array.from({ length: O }, (_, o) => params.scales[o * 2 + side] as number),
      [1, T, HORIZONS],
    );
  const p10 = g.op('Sub', [median, g.op('Mul', [netLow, scale(0)])]);
  const p90 = g.op('Add', [median, g.op('Mul', [netHigh, scale(1)])]);
  const column = (x: string) => g.op('Reshape', [x, g.intConst([-1, T, HORIZONS, 1], [4])]);
  const quantiles = g.op('Concat', [column(p10), column(median), column(p90)], { axis: int(3) });
  if (QUANTILES.length !== 3) throw new Error('the graph writes p10, p50, p90');
  g.op('Relu', [g.op('Sub', [g.op('Exp', [quantiles]), one])], {}, { outputs: [FORECAST_IO.forecast] });
  g.output(FORECAST_IO.forecast, DataType.FLOAT, ['N', T, HORIZONS, QUANTILES.length]);
  return g.encode({ opsets: { '': 17 }, doc, metadata });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
