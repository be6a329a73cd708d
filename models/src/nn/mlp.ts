import { seededRandom } from '@sensormesh/simulator';
import { shuffle } from './shuffle.ts';

/** A one-hidden-layer ReLU network with softmax outputs on standardised inputs. */
export interface Mlp {
  inputs: number;
  hidden: number;
  outputs: number;
  mean: Float64Array;
  std: Float64Array;
  /** [inputs × hidden] */
  w1: Float64Array;
  b1: Float64Array;
  /** [hidden × outputs] */
  w2: Float64Array;
  b2: Float64Array;
}

/** Class probabilities for one input row, the arithmetic the graph repeats. */
export function mlpForward(
  net: Mlp,
  x: ArrayLike<number>,
  offset: number,
  hidden: Float64Array,
  out: Float64Array,
): void {
  const { inputs, outputs } = net;
  hidden.set(net.b1);
  for (let i = 0; i < inputs; i++) {
    const z = ((x[offset + i] as number) - (net.mean[i] as number)) / (net.std[i] as number);
    if (z === 0) continue;
    const row = i * net.hidden;
    for (let j = 0; j < net.hidden; j++) hidden[j] = (hidden[j] as number) + z * (net.w1[row + j] as number);
  }
  for (let j = 0; j < net.hidden; j++) if ((hidden[j] as number) < 0) hidden[j] = 0;
  out.set(net.b2);
  for (let j = 0; j < net.hidden; j++) {
    const a = hidden[j] as number;
    if (a === 0) continue;
    const row = j * outputs;
    for (let o = 0; o < outputs; o++) out[o] = (out[o] as number) + a * (net.w2[row + o] as number);
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let o = 0; o < outputs; o++) max = Math.max(max, out[o] as number);
  let total = 0;
  for (let o = 0; o < outputs; o++) {
    out[o] = Math.exp((out[o] as number) - max);
    total += out[o] as number;
  }
  for (let o = 0; o < outputs; o++) out[o] = (out[o] as number) / total;
}

export interface MlpTrainOptions {
  hidden: number;
  epochs: number;
  batch: number;
  learningRate: number;
  seed: number;
  /** Per-class loss weight (rare classes up). */
  classWeights: number[];
}

/**
 * Trains the classifier with Adam on weighted cross-entropy; deterministic for a seed (He init
 * and shuffles from one seeded PRNG). `mean`/`std` standardise the inputs.
 */
export function trainMlp(
  x: Float64Array,
  labels: Int8Array,
  rows: number,
  inputs: number,
  outputs: number,
  mean: Float64Array,
  std: Float64Array,
  options: MlpTrainOptions,
): Mlp {
  const random = seededRandom(options.seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const H = options.hidden;
  const net: Mlp = {
    inputs,
    hidden: H,
    outputs,
    mean,
    std,
    w1: Float64Array.from({ length: inputs * H }, () => gaussian() * Math.sqrt(2 / inputs)),
    b1: new Float64Array(H),
    w2: Float64Array.from({ length: H * outputs }, () => gaussian() * Math.sqrt(1 / H)),
    b2: new Float64Array(outputs),
  };
  const params = [net.w1, net.b1, net.w2, net.b2];
  const grads = params.map((p) => new Float64Array(p.length));
  const m1 = params.map((p) => new Float64Array(p.length));
  const m2 = params.map((p) => new Float64Array(p.length));
  const [gw1, gb1, gw2, gb2] = grads as [Float64Array, Float64Array, Float64Array, Float64Array];
  const z = new Float64Array(inputs);
  const hidden = new Float64Array(H);
  const probs = new Float64Array(outputs);
  const dh = new Float64Array(H);
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  let step = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    shuffle(order, random);
    for (let start = 0; start < rows; start += options.batch) {
      for (const g of grads) g.fill(0);
      const end = Math.min(rows, start + options.batch);
      let weightSum = 0;
      for (let b = start; b < end; b++) {
        const r = order[b] as number;
        const label = labels[r] as number;
        const weight = options.classWeights[label] as number;
        weightSum += weight;
        mlpForward(net, x, r * inputs, hidden, probs);
        for (let i = 0; i < inputs; i++)
          z[i] = ((x[r * inputs + i] as number) - (mean[i] as number)) / (std[i] as number);
        // d(weighted CE)/d logits = weight · (p − onehot)
        for (let o = 0; o < outputs; o++) probs[o] = weight * ((probs[o] as number) - (o === label ? 1 : 0));
        dh.fill(0);
        for (let j = 0; j < H; j++) {
          const a = hidden[j] as number;
          const row = j * outputs;
          let back = 0;
          for (let o = 0; o < outputs; o++) {
            gw2[row + o] = (gw2[row + o] as number) + a * (probs[o] as number);
            back += (net.w2[row + o] as number) * (probs[o] as number);
          }
          dh[j] = a > 0 ? back : 0;
        }
        for (let o = 0; o < outputs; o++) gb2[o] = (gb2[o] as number) + (probs[o] as number);
        for (let i = 0; i < inputs; i++) {
          const zi = z[i] as number;
          if (zi === 0) continue;
          const row = i * H;
          for (let j = 0; j < H; j++) gw1[row + j] = (gw1[row + j] as number) + zi * (dh[j] as number);
        }
        for (let j = 0; j < H; j++) gb1[j] = (gb1[j] as number) + (dh[j] as number);
      }
      step++;
      const lr = (options.learningRate * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step);
      params.forEach((param, p) => {
        const g = grads[p] as Float64Array;
        const a = m1[p] as Float64Array;
        const v = m2[p] as Float64Array;
        for (let k = 0; k < param.length; k++) {
          const gk = (g[k] as number) / weightSum;
          a[k] = 0.9 * (a[k] as number) + 0.1 * gk;
          v[k] = 0.999 * (v[k] as number) + 0.001 * gk * gk;
          param[k] = (param[k] as number) - (lr * (a[k] as number)) / (Math.sqrt(v[k] as number) + 1e-8);
        }
      });
    }
  }
  return net;
}
