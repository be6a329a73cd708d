import { CHANNELS } from '../data/dataset.ts';
import { GraphBuilder, int } from '../onnx/graph.ts';
import { DataType } from '../onnx/proto.ts';
import { type ForecastParams, selectionMatrix } from './model.ts';
import {
  CALENDAR_FEATURES,
  FEATURE_NAMES,
  HORIZONS,
  IN,
  QUANTILES,
  TARGETS,
  TRANSFORMED,
  WINDOW_FEATURES,
  WINDOW_HOURS,
  YEAR_HOURS,
} from './spec.ts';

/** Graph input and output names, part of the model's contract (the card repeats them). */
export const FORECAST_IO = { window: 'window', originHour: 'origin_hour', forecast: 'forecast' } as const;

/**
 * The forecast graph: raw window → transformed channels → lags and means (one MatMul with a
 * selection matrix) + calendar one-hots → standardise → linear → quantile offsets → expm1.
 */
export function forecastGraph(
  params: ForecastParams,
  doc: string,
  metadata: Record<string, string>,
): Uint8Array {
  const g = new GraphBuilder('sensormesh_forecast');
  const window = g.input(FORECAST_IO.window, DataType.FLOAT, ['N', WINDOW_HOURS, CHANNELS.length]);
  const origin = g.input(FORECAST_IO.originHour, DataType.FLOAT, ['N', 1]);
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
  const transformed = g.op('Concat', [pollutants, weather, rain, speed, u, v, spread], { axis: int(2) });
  const flat = g.op('Reshape', [transformed, g.intConst([-1, WINDOW_HOURS * TRANSFORMED.length], [2])]);
  const windowFeatures = g.op('MatMul', [
    flat,
    g.floatConst(selectionMatrix(), [WINDOW_HOURS * TRANSFORMED.length, WINDOW_FEATURES.length]),
  ]);

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
  const O = TARGETS.length * HORIZONS;
  const standard = g.op('Mul', [
    g.op('Sub', [features, g.floatConst(params.mean, [1, F])]),
    g.floatConst(
      params.std.map((s) => 1 / s),
      [1, F],
    ),
  ]);
  const median = g.op('Add', [
    g.op('MatMul', [standard, g.floatConst(params.weights, [F, O])]),
    g.floatConst(params.bias, [1, O]),
  ]);
  const shaped = g.op('Reshape', [median, g.intConst([-1, TARGETS.length, HORIZONS, 1], [4])]);
  const quantiles = g.op('Add', [
    shaped,
    g.floatConst(params.offsets, [1, TARGETS.length, HORIZONS, QUANTILES.length]),
  ]);
  g.op('Relu', [g.op('Sub', [g.op('Exp', [quantiles]), one])], {}, { outputs: [FORECAST_IO.forecast] });
  g.output(FORECAST_IO.forecast, DataType.FLOAT, ['N', TARGETS.length, HORIZONS, QUANTILES.length]);
  return g.encode({ opsets: { '': 17 }, doc, metadata });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
