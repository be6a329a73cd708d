import type { Prediction } from './streams.ts';

/** "", ".5", ".05", … for the hundredths 0…99 of a number written with at most two decimals. */
const HUNDREDTHS = Array.from({ length: 100 }, (_, f) =>
  f === 0 ? '' : f % 10 === 0 ? `.${f / 10}` : `.${f < 10 ? '0' : ''}${f}`,
);
/** Beyond 10^9 a double's spacing nears a hundredth and its shortest form may drop a digit. */
const MAX_HUNDREDTHS = 1e11;

/**
 * A number exactly as JSON.stringify writes it. Forecast values are rounded to hundredths, and below
 * 10^9 the shortest round-trip form of such a double is its hundredths written with a decimal point
 * (a shorter string would differ by at least 0.01, far more than the double's spacing): written
 * from an integer that way, it costs about half the engine's double-to-shortest conversion.
 */
function jsonNumber(x: number): string {
  const hundredths = Math.round(x * 100);
  if (hundredths / 100 !== x || hundredths > MAX_HUNDREDTHS || hundredths < -MAX_HUNDREDTHS) {
    return JSON.stringify(x);
  }
  if (hundredths < 0) {
    const f = -hundredths % 100;
    return `-${(-hundredths - f) / 100}${HUNDREDTHS[f]}`;
  }
  const f = hundredths % 100;
  return `${(hundredths - f) / 100}${HUNDREDTHS[f]}`;
}

/**
 * A checked Prediction as JSON: the string JSON.stringify gives for the predictor's messages (same
 * keys in the same order), in about half the time. A forecast is 2 × 72 steps of three numbers,
 * and their conversion was most of the predictor's cost per window after scoring (measured: ~9 µs
 * a message with JSON.stringify, ~4.5 here). A message or step with a key the schema does not name
 * (a producer may add fields before consumers know them: README) takes JSON.stringify.
 */
export function encodePrediction(m: Prediction): string {
  const keys = 7 + (m.id === undefined ? 0 : 1) + (m.role === undefined ? 0 : 1);
  if (Object.keys(m).length !== keys) return JSON.stringify(m);
  let json = m.id === undefined ? '{' : `{"id":${JSON.stringify(m.id)},`;
  json += `"sensorId":${JSON.stringify(m.sensorId)},"metric":${JSON.stringify(m.metric)},"ts":${m.ts},"horizons":[`;
  const steps = m.horizons;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as Prediction['horizons'][number];
    if (Object.keys(step).length !== 4) return JSON.stringify(m);
    json += `${i === 0 ? '' : ','}{"minutes":${step.minutes},"p10":${jsonNumber(step.p10)},"p50":${jsonNumber(step.p50)},"p90":${jsonNumber(step.p90)}}`;
  }
  json += `],"model":${JSON.stringify(m.model)},"modelVersion":${JSON.stringify(m.modelVersion)},`;
  if (m.role !== undefined) json += `"role":${JSON.stringify(m.role)},`;
  return `${json}"createdAt":${m.createdAt}}`;
}
