import { seededRandom } from '@sensormesh/simulator';
import { shuffle } from './shuffle.ts';

/** A linear model on standardised features: out = bias + ((x − mean) / std) · weights. */
export interface LinearModel {
  mean: Float64Array;
  std: Float64Array;
  /** [features × outputs] */
  weights: Float64Array;
  bias: Float64Array;
}

export interface MedianFitOptions {
  epochs: number;
  batch: number;
  learningRate: number;
  seed: number;
}

/**
 * Refines a log-link linear model so expm1(output) minimises the absolute error in raw units
 * (the MAE the forecasts are judged on), with Adam from a ridge start. In raw units the loss
 * weighs the polluted hours that dominate the MAE, which a log-space fit under-weights.
 */
export function fitRawMedian(
  model: LinearModel,
  x: Float64Array,
  y: Float64Array,
  rows: number,
  options: MedianFitOptions,
): LinearModel {
  const cols = model.mean.length;
  const outputs = model.bias.length;
  const weights = new Float64Array(model.weights);
  const bias = new Float64Array(model.bias);
  const params = [weights, bias];
  const m = params.map((p) => new Float64Array(p.length));
  const v = params.map((p) => new Float64Array(p.length));
  const gW = new Float64Array(weights.length);
  const gB = new Float64Array(bias.length);
  const z = new Float64Array(cols);
  const out = new Float64Array(outputs);
  const random = seededRandom(options.seed);
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  let step = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    shuffle(order, random);
    for (let start = 0; start < rows; start += options.batch) {
      gW.fill(0);
      gB.fill(0);
      const end = Math.min(rows, start + options.batch);
      for (let b = start; b < end; b++) {
        const r = order[b] as number;
        for (let j = 0; j < cols; j++)
          z[j] = ((x[r * cols + j] as number) - (model.mean[j] as number)) / (model.std[j] as number);
        out.set(bias);
        for (let j = 0; j < cols; j++) {
          const zj = z[j] as number;
          if (zj === 0) continue;
          const row = j * outputs;
          for (let o = 0; o < outputs; o++) out[o] = (out[o] as number) + zj * (weights[row + o] as number);
        }
        for (let o = 0; o < outputs; o++) {
          const target = y[r * outputs + o] as number;
          if (Number.isNaN(target)) {
            out[o] = 0;
            continue;
          }
          // d|expm1(target) − expm1(out)| / d out, scaled by 1/(1+expm1(target)) ≈ a relative error
          // so one smoggy hour does not swamp a batch; the sign still follows the raw-unit median.
          const e = Math.exp(out[o] as number);
          const sign = e - 1 > Math.expm1(target) ? 1 : -1;
          out[o] = (sign * e) / Math.sqrt(Math.exp(target));
        }
        for (let o = 0; o < outputs; o++) gB[o] = (gB[o] as number) + (out[o] as number);
        for (let j = 0; j < cols; j++) {
          const zj = z[j] as number;
          if (zj === 0) continue;
          const row = j * outputs;
          for (let o = 0; o < outputs; o++) gW[row + o] = (gW[row + o] as number) + zj * (out[o] as number);
        }
      }
      step++;
      const n = end - start;
      const lr = (options.learningRate * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step);
      [gW, gB].forEach((g, p) => {
        const param = params[p] as Float64Array;
        const mp = m[p] as Float64Array;
        const vp = v[p] as Float64Array;
        for (let k = 0; k < param.length; k++) {
          const gk = (g[k] as number) / n;
          mp[k] = 0.9 * (mp[k] as number) + 0.1 * gk;
          vp[k] = 0.999 * (vp[k] as number) + 0.001 * gk * gk;
          param[k] = (param[k] as number) - (lr * (mp[k] as number)) / (Math.sqrt(vp[k] as number) + 1e-8);
        }
      });
    }
  }
  return { mean: model.mean, std: model.std, weights, bias };
}
