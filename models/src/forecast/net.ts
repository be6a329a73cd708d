import { seededRandom } from '@sensormesh/simulator';
import { shuffle } from '../nn/shuffle.ts';

/**
 * The forecast network: standardised features → one ReLU hidden layer (plus a linear skip from the
 * inputs) → per target, quantile head and horizon knot a change in log1p space from the value at the
 * origin. Horizons between knots are linear interpolations of the knot values, so the 72 horizons
 * share a few parameters and the forecast is smooth in the horizon. The p10/p90 heads are distances
 * below/above the median (absolute values), so quantiles never cross.
 */
export interface ForecastNet {
  inputs: number;
  hidden: number;
  targets: number;
  /** Horizon knots (hours ahead, ascending, the first 1 and the last the longest horizon). */
  knots: number[];
  mean: Float64Array;
  std: Float64Array;
  /** [inputs × hidden] */
  w1: Float64Array;
  b1: Float64Array;
  /** [hidden × heads], heads = targets × 3 × knots (target-major, then head, then knot). */
  w2: Float64Array;
  /** [inputs × heads] */
  ws: Float64Array;
  b2: Float64Array;
}

export const HEADS_PER_TARGET = 3;

/** Linear interpolation of the knots at horizons 1..horizons: [knots × horizons] weights. */
export function knotMatrix(knots: readonly number[], horizons: number): Float64Array {
  const K = knots.length;
  const m = new Float64Array(K * horizons);
  for (let h = 1; h <= horizons; h++) {
    let k = 0;
    while (k < K - 2 && (knots[k + 1] as number) < h) k++;
    const a = knots[k] as number;
    const b = knots[k + 1] as number;
    const frac = Math.min(1, Math.max(0, (h - a) / (b - a)));
    m[k * horizons + h - 1] = 1 - frac;
    m[(k + 1) * horizons + h - 1] = frac;
  }
  return m;
}

/** The sparse form of knotMatrix: per horizon the left knot and its weight (the right gets 1 − w). */
function knotPairs(knots: readonly number[], horizons: number) {
  const m = knotMatrix(knots, horizons);
  const K = knots.length;
  const left = new Int32Array(horizons);
  const weight = new Float64Array(horizons);
  for (let h = 0; h < horizons; h++) {
    let k = 0;
    while (k < K - 1 && (m[k * horizons + h] as number) === 0) k++;
    left[h] = Math.min(k, K - 2);
    weight[h] = m[Math.min(k, K - 2) * horizons + h] as number;
  }
  return { left, weight };
}

/** Knot values (heads) for one standardised-on-the-fly feature row; `hidden` is scratch. */
export function netHeads(
  net: ForecastNet,
  x: ArrayLike<number>,
  offset: number,
  z: Float64Array,
  hidden: Float64Array,
  out: Float64Array,
): void {
  const I = net.inputs;
  const Hd = net.hidden;
  const E = out.length;
  for (let i = 0; i < I; i++)
    z[i] = ((x[offset + i] as number) - (net.mean[i] as number)) / (net.std[i] as number);
  hidden.set(net.b1);
  out.set(net.b2);
  for (let i = 0; i < I; i++) {
    const zi = z[i] as number;
    if (zi === 0) continue;
    const row = i * Hd;
    for (let j = 0; j < Hd; j++) hidden[j] = (hidden[j] as number) + zi * (net.w1[row + j] as number);
    const srow = i * E;
    for (let e = 0; e < E; e++) out[e] = (out[e] as number) + zi * (net.ws[srow + e] as number);
  }
  for (let j = 0; j < Hd; j++) {
    const a = hidden[j] as number;
    if (a <= 0) {
      hidden[j] = 0;
      continue;
    }
    const row = j * E;
    for (let e = 0; e < E; e++) out[e] = (out[e] as number) + a * (net.w2[row + e] as number);
  }
}

/**
 * Log1p-space quantiles [targets × horizons × 3] from heads and the origin's log1p values per
 * target: median = base + centre, p10 = median − |low|, p90 = median + |high|.
 */
export function headsToLog(
  net: ForecastNet,
  heads: Float64Array,
  base: ArrayLike<number>,
  baseOffset: number,
  horizons: number,
  out: Float64Array,
  pairs = knotPairs(net.knots, horizons),
): void {
  const K = net.knots.length;
  for (let t = 0; t < net.targets; t++) {
    const b = base[baseOffset + t] as number;
    for (let h = 0; h < horizons; h++) {
      const k = pairs.left[h] as number;
      const w = pairs.weight[h] as number;
      const head = (q: number) => {
        const at = (t * HEADS_PER_TARGET + q) * K + k;
        return w * (heads[at] as number) + (1 - w) * (heads[at + 1] as number);
      };
      const median = b + head(0);
      const o = (t * horizons + h) * 3;
      out[o] = median - Math.abs(head(1));
      out[o + 1] = median;
      out[o + 2] = median + Math.abs(head(2));
    }
  }
}

export interface NetTrainOptions {
  hidden: number;
  knots: number[];
  horizons: number;
  quantiles: readonly number[];
  epochs: number;
  batch: number;
  learningRate: number;
  /** L2 penalty on the weights (not biases). */
  decay: number;
  /**
   * Loss weight exp(alpha · prediction): 0 is the pinball loss in log1p space, 1 its gradient in
   * raw units (the MAE the forecast is judged on weighs polluted hours more).
   */
  alpha: number;
  seed: number;
  /** Optional per-row loss weights (e.g. more weight on recent years). */
  rowWeights?: Float64Array;
}

/**
 * Trains the network with Adam on the pinball loss of every observed target (NaN = unobserved),
 * from persistence (all heads start at zero change). Deterministic for a seed.
 */
export function trainNet(
  x: Float64Array,
  base: Float64Array,
  y: Float64Array,
  rows: number,
  mean: Float64Array,
  std: Float64Array,
  targets: number,
  options: NetTrainOptions,
): ForecastNet {
  const I = mean.length;
  const Hd = options.hidden;
  const K = options.knots.length;
  const Hz = options.horizons;
  const E = targets * HEADS_PER_TARGET * K;
  const random = seededRandom(options.seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const net: ForecastNet = {
    inputs: I,
    hidden: Hd,
    targets,
    knots: options.knots,
    mean,
    std,
    w1: Float64Array.from({ length: I * Hd }, () => gaussian() * Math.sqrt(2 / I)),
    b1: new Float64Array(Hd),
    w2: Float64Array.from({ length: Hd * E }, () => gaussian() * 0.01),
    ws: new Float64Array(I * E),
    b2: new Float64Array(E),
  };
  // Interval heads start at a plausible half-width, growing with the horizon.
  for (let t = 0; t < targets; t++)
    for (let q = 1; q < 3; q++)
      for (let k = 0; k < K; k++)
        net.b2[(t * 3 + q) * K + k] = 0.1 + 0.1 * Math.sqrt(options.knots[k] as number);
  const pairs = knotPairs(options.knots, Hz);
  const params = [net.w1, net.b1, net.w2, net.ws, net.b2];
  const decays = [true, false, true, true, false];
  const grads = params.map((p) => new Float64Array(p.length));
  const m1 = params.map((p) => new Float64Array(p.length));
  const m2 = params.map((p) => new Float64Array(p.length));
  const [gw1, gb1, gw2, gws, gb2] = grads as [
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  const z = new Float64Array(I);
  const hidden = new Float64Array(Hd);
  const heads = new Float64Array(E);
  const dHeads = new Float64Array(E);
  const dh = new Float64Array(Hd);
  const pred = new Float64Array(targets * Hz * 3);
  const O = targets * Hz;
  const [q10, q50, q90] = options.quantiles as [number, number, number];
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  const stepsPerEpoch = Math.ceil(rows / options.batch);
  const totalSteps = stepsPerEpoch * options.epochs;
  let step = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    shuffle(order, random);
    for (let start = 0; start < rows; start += options.batch) {
      for (const g of grads) g.fill(0);
      const end = Math.min(rows, start + options.batch);
      let count = 0;
      for (let b = start; b < end; b++) {
        const r = order[b] as number;
        const rowWeight = options.rowWeights ? (options.rowWeights[r] as number) : 1;
        netHeads(net, x, r * I, z, hidden, heads);
        headsToLog(net, heads, base, r * targets, Hz, pred, pairs);
        dHeads.fill(0);
        for (let t = 0; t < targets; t++) {
          for (let h = 0; h < Hz; h++) {
            const yv = y[r * O + t * Hz + h] as number;
            if (Number.isNaN(yv)) continue;
            count++;
            const o = (t * Hz + h) * 3;
            const lo = pred[o] as number;
            const md = pred[o + 1] as number;
            const hi = pred[o + 2] as number;
            const weight = rowWeight * (options.alpha === 0 ? 1 : Math.exp(options.alpha * Math.min(md, 7)));
            // d pinball / d prediction = weight · (1[y < pred] − q)
            const gLo = weight * ((yv < lo ? 1 : 0) - q10);
            const gMd = weight * ((yv < md ? 1 : 0) - q50);
            const gHi = weight * ((yv < hi ? 1 : 0) - q90);
            const k = pairs.left[h] as number;
            const w = pairs.weight[h] as number;
            const at = (q: number) => (t * 3 + q) * K + k;
            const low = w * (heads[at(1)] as number) + (1 - w) * (heads[at(1) + 1] as number);
            const high = w * (heads[at(2)] as number) + (1 - w) * (heads[at(2) + 1] as number);
            const gCentre = gLo + gMd + gHi;
            const gLow = -gLo * Math.sign(low);
            const gHigh = gHi * Math.sign(high);
            dHeads[at(0)] = (dHeads[at(0)] as number) + w * gCentre;
            dHeads[at(0) + 1] = (dHeads[at(0) + 1] as number) + (1 - w) * gCentre;
            dHeads[at(1)] = (dHeads[at(1)] as number) + w * gLow;
            dHeads[at(1) + 1] = (dHeads[at(1) + 1] as number) + (1 - w) * gLow;
            dHeads[at(2)] = (dHeads[at(2)] as number) + w * gHigh;
            dHeads[at(2) + 1] = (dHeads[at(2) + 1] as number) + (1 - w) * gHigh;
          }
        }
        for (let e = 0; e < E; e++) gb2[e] = (gb2[e] as number) + (dHeads[e] as number);
        dh.fill(0);
        for (let j = 0; j < Hd; j++) {
          const a = hidden[j] as number;
          if (a <= 0) continue;
          const row = j * E;
          let back = 0;
          for (let e = 0; e < E; e++) {
            const d = dHeads[e] as number;
            gw2[row + e] = (gw2[row + e] as number) + a * d;
            back += (net.w2[row + e] as number) * d;
          }
          dh[j] = back;
        }
        for (let j = 0; j < Hd; j++) gb1[j] = (gb1[j] as number) + (dh[j] as number);
        for (let i = 0; i < I; i++) {
          const zi = z[i] as number;
          if (zi === 0) continue;
          const row = i * Hd;
          for (let j = 0; j < Hd; j++) gw1[row + j] = (gw1[row + j] as number) + zi * (dh[j] as number);
          const srow = i * E;
          for (let e = 0; e < E; e++) gws[srow + e] = (gws[srow + e] as number) + zi * (dHeads[e] as number);
        }
      }
      step++;
      const decayed = options.learningRate * (1 - (0.9 * (step - 1)) / totalSteps);
      const lr = (decayed * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step);
      const scale = 1 / Math.max(1, count);
      params.forEach((param, p) => {
        const g = grads[p] as Float64Array;
        const a = m1[p] as Float64Array;
        const v = m2[p] as Float64Array;
        const l2 = decays[p] ? options.decay : 0;
        for (let k = 0; k < param.length; k++) {
          const gk = (g[k] as number) * scale + l2 * (param[k] as number);
          a[k] = 0.9 * (a[k] as number) + 0.1 * gk;
          v[k] = 0.999 * (v[k] as number) + 0.001 * gk * gk;
          param[k] = (param[k] as number) - (lr * (a[k] as number)) / (Math.sqrt(v[k] as number) + 1e-8);
        }
      });
    }
  }
  return net;
}
