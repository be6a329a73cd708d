import { FAULT_FEATURES, FAULT_METRICS, FAULT_WINDOW, type MetricScale, scaled } from './spec.ts';

/** Every engineered feature is clipped to ±CLIP (an out-of-range value would otherwise dwarf the rest). */
export const CLIP = 50;
const L = FAULT_WINDOW - 1;

/** Masked mean of `v` over hours a..b (inclusive) where `mask` is 1; 0 when none. */
function maskedMean(v: Float64Array, mask: Float64Array, a: number, b: number): number {
  let sum = 0;
  let count = 0;
  for (let t = a; t <= b; t++) {
    sum += (mask[t] as number) * (v[t] as number);
    count += mask[t] as number;
  }
  return sum / Math.max(count, 1);
}

/** Masked range (max − min) over a..b, 0 unless two or more hours are present. */
function maskedRange(v: Float64Array, mask: Float64Array, a: number, b: number): number {
  let lo = 1e9;
  let hi = -1e9;
  let count = 0;
  for (let t = a; t <= b; t++) {
    if (!mask[t]) continue;
    lo = Math.min(lo, v[t] as number);
    hi = Math.max(hi, v[t] as number);
    count++;
  }
  return count >= 2 ? hi - lo : 0;
}

/** Scratch buffers for faultFeatures, reused across calls. */
export function faultScratch() {
  const n = FAULT_WINDOW;
  return {
    m: new Float64Array(n),
    q: new Float64Array(n),
    y: new Float64Array(n),
    r: new Float64Array(n),
    k: new Float64Array(n),
    e: new Float64Array(n),
  };
}

/**
 * The fault model's features of one window: `values` and `reference` are FAULT_WINDOW hours of
 * the metric and of the network reference (NaN = missing), oldest first. The graph computes
 * exactly this (faultGraph); this is the training code's copy and the test's reference.
 */
export function faultFeatures(
  values: ArrayLike<number>,
  valuesOffset: number,
  reference: ArrayLike<number>,
  referenceOffset: number,
  metric: number,
  scale: MetricScale,
  out: Float64Array,
  outOffset: number,
  scratch = faultScratch(),
): void {
  const { m, q, y, r, k, e } = scratch;
  for (let t = 0; t < FAULT_WINDOW; t++) {
    const x = values[valuesOffset + t] as number;
    const ref = reference[referenceOffset + t] as number;
    m[t] = Number.isNaN(x) ? 0 : 1;
    q[t] = Number.isNaN(ref) ? 0 : 1;
    y[t] = m[t] ? scaled(scale, x) : 0;
    r[t] = q[t] ? scaled(scale, ref) : 0;
    k[t] = (m[t] as number) * (q[t] as number);
    e[t] = k[t] ? ((y[t] as number) - (r[t] as number)) / scale.deviation : 0;
  }
  const s = scale.step;
  const xL = values[valuesOffset + L] as number;
  const mL = m[L] as number;
  const f: number[] = [];
  f.push(1 - mL);
  f.push(1 - maskedMean(m, ONES, 48, L));
  f.push(mL && xL > scale.max ? 1 : 0);
  f.push(mL && xL < scale.min ? 1 : 0);
  f.push((mL * (m[L - 1] as number) * ((y[L] as number) - (y[L - 1] as number))) / s);
  f.push(((m[L - 1] as number) * (m[L - 2] as number) * ((y[L - 1] as number) - (y[L - 2] as number))) / s);
  // z against the 24 hours before the scored one, the rolling z-score's own statistic.
  const mu = maskedMean(y, m, L - 24, L - 1);
  let variance = 0;
  let count = 0;
  for (let t = L - 24; t <= L - 1; t++) {
    variance += (m[t] as number) * ((y[t] as number) - mu) ** 2;
    count += m[t] as number;
  }
  const sd = Math.sqrt(variance / Math.max(count, 1));
  f.push(count > 0 ? (mL * ((y[L] as number) - mu)) / (sd + s) : 0);
  f.push(e[L] as number);
  f.push((k[L] as number) * ((e[L] as number) - maskedMean(e, k, L - 6, L - 1)));
  f.push(maskedMean(e, k, L - 5, L) - maskedMean(e, k, 0, 23));
  f.push(maskedMean(e, k, L - 11, L) - maskedMean(e, k, L - 23, L - 12));
  f.push(((q[L] as number) * (q[L - 1] as number) * ((r[L] as number) - (r[L - 1] as number))) / s);
  f.push(q[L] as number);
  // Trailing run of identical raw values (both hours present), the stuck signature.
  let run = 0;
  for (let t = L; t >= 1; t--) {
    const same = m[t] && m[t - 1] && values[valuesOffset + t] === values[valuesOffset + t - 1];
    if (!same) break;
    run++;
  }
  f.push(run / 24);
  f.push(Math.log1p(run));
  f.push(maskedRange(r, q, L - 5, L) / s);
  f.push(maskedRange(y, m, L - 5, L) / s);
  f.push((mL * ((y[L] as number) - (scale.levelMean as number))) / (scale.levelStd as number));
  if (f.length !== FAULT_FEATURES.length) throw new Error('fault feature count');
  f.forEach((value, i) => {
    out[outOffset + i] = Math.max(-CLIP, Math.min(CLIP, value));
  });
  for (let i = 0; i < FAULT_METRICS.length; i++)
    out[outOffset + FAULT_FEATURES.length + i] = i === metric ? 1 : 0;
}

const ONES = new Float64Array(FAULT_WINDOW).fill(1);
