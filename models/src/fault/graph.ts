import type { Mlp } from '../nn/mlp.ts';
import { GraphBuilder, int, ints } from '../onnx/graph.ts';
import { DataType } from '../onnx/proto.ts';
import { CLIP } from './features.ts';
import { FAULT_CLASSES, FAULT_FEATURE_NAMES, FAULT_METRICS, FAULT_WINDOW, type MetricScale } from './spec.ts';

/** Graph input and output names, part of the model's contract (the card repeats them). */
export const FAULT_IO = {
  values: 'values',
  reference: 'reference',
  metric: 'metric',
  probabilities: 'probabilities',
} as const;

const SCALE_COLUMNS = ['knee', 'gain', 'step', 'deviation', 'levelMean', 'levelStd', 'min', 'max'] as const;

/**
 * The fault graph: the features of faultFeatures computed from the raw windows (NaN = missing)
 * with the metric's scales gathered from a table, then the MLP and a softmax.
 */
export function faultGraph(
  net: Mlp,
  scales: readonly MetricScale[],
  doc: string,
  metadata: Record<string, string>,
): Uint8Array {
  const g = new GraphBuilder('sensormesh_faults');
  const W = FAULT_WINDOW;
  const L = W - 1;
  const values = g.input(FAULT_IO.values, DataType.FLOAT, ['N', W]);
  const reference = g.input(FAULT_IO.reference, DataType.FLOAT, ['N', W]);
  const metric = g.input(FAULT_IO.metric, DataType.INT64, ['N']);
  const c = (value: number) => g.floatConst([value], [1]);
  const zero = c(0);
  const oneC = c(1);
  const float = (x: string) => g.op('Cast', [x], { to: int(DataType.FLOAT) });
  const mul = (...xs: string[]) => xs.slice(1).reduce((a, b) => g.op('Mul', [a, b]), xs[0] as string);
  const add = (a: string, b: string) => g.op('Add', [a, b]);
  const sub = (a: string, b: string) => g.op('Sub', [a, b]);
  const div = (a: string, b: string) => g.op('Div', [a, b]);
  const slice = (x: string, a: number, b: number) =>
    g.op('Slice', [x, g.intConst([a], [1]), g.intConst([b + 1], [1]), g.intConst([1], [1])]);
  const col = (x: string, t: number) => slice(x, t, t);
  const sumAxis = g.intConst([1], [1]);
  const rsum = (x: string) => g.op('ReduceSum', [x, sumAxis], { keepdims: int(1) });
  const maskedMean = (v: string, mask: string, a: number, b: number) =>
    div(rsum(mul(slice(v, a, b), slice(mask, a, b))), g.op('Max', [rsum(slice(mask, a, b)), oneC]));
  const maskedRange = (v: string, mask: string, a: number, b: number) => {
    const present = g.op('Cast', [slice(mask, a, b)], { to: int(DataType.BOOL) });
    const hi = g.op('ReduceMax', [g.op('Where', [present, slice(v, a, b), c(-1e9)])], {
      axes: ints([1]),
      keepdims: int(1),
    });
    const lo = g.op('ReduceMin', [g.op('Where', [present, slice(v, a, b), c(1e9)])], {
      axes: ints([1]),
      keepdims: int(1),
    });
    return mul(sub(hi, lo), float(g.op('GreaterOrEqual', [rsum(slice(mask, a, b)), c(2)])));
  };

  // Per-metric scales, gathered by the metric index.
  const table = g.floatConst(
    scales.flatMap((scale) => SCALE_COLUMNS.map((key) => scale[key])),
    [scales.length, SCALE_COLUMNS.length],
  );
  const rows = g.op('Gather', [table, metric], { axis: int(0) });
  const scale = Object.fromEntries(
    SCALE_COLUMNS.map((key, i) => [key, g.op('Gather', [rows, g.intConst([i], [1])], { axis: int(1) })]),
  ) as Record<(typeof SCALE_COLUMNS)[number], string>;

  const series = (raw: string) => {
    const missing = g.op('IsNaN', [raw]);
    const mask = float(g.op('Not', [missing]));
    const x = g.op('Where', [missing, zero, raw]);
    const y = mul(scale.gain, g.op('Asinh', [div(x, scale.knee)]), mask);
    return { mask, x, y };
  };
  const own = series(values);
  const ref = series(reference);
  const m = own.mask;
  const q = ref.mask;
  const y = own.y;
  const r = ref.y;
  const k = mul(m, q);
  const e = mul(div(sub(y, r), scale.deviation), k);
  const s = scale.step;
  const at = (x: string, t: number) => col(x, t);

  const features: string[] = [];
  features.push(sub(oneC, at(m, L)));
  features.push(sub(oneC, g.op('ReduceMean', [slice(m, L - 23, L)], { axes: ints([1]), keepdims: int(1) })));
  features.push(mul(at(m, L), float(g.op('Greater', [at(own.x, L), scale.max]))));
  features.push(mul(at(m, L), float(g.op('Less', [at(own.x, L), scale.min]))));
  features.push(div(mul(at(m, L), at(m, L - 1), sub(at(y, L), at(y, L - 1))), s));
  features.push(div(mul(at(m, L - 1), at(m, L - 2), sub(at(y, L - 1), at(y, L - 2))), s));
  const mu = maskedMean(y, m, L - 24, L - 1);
  const count = rsum(slice(m, L - 24, L - 1));
  const variance = div(
    rsum(mul(slice(m, L - 24, L - 1), g.op('Pow', [sub(slice(y, L - 24, L - 1), mu), c(2)]))),
    g.op('Max', [count, oneC]),
  );
  const sd = g.op('Sqrt', [variance]);
  features.push(
    mul(div(mul(at(m, L), sub(at(y, L), mu)), add(sd, s)), float(g.op('Greater', [count, zero]))),
  );
  features.push(at(e, L));
  features.push(mul(at(k, L), sub(at(e, L), maskedMean(e, k, L - 6, L - 1))));
  features.push(sub(maskedMean(e, k, L - 5, L), maskedMean(e, k, 0, 23)));
  features.push(sub(maskedMean(e, k, L - 11, L), maskedMean(e, k, L - 23, L - 12)));
  features.push(div(mul(at(q, L), at(q, L - 1), sub(at(r, L), at(r, L - 1))), s));
  features.push(at(q, L));
  // Trailing run of identical values: count the hours after the last change (reverse cumulative sum of changes is 0).
  const same = mul(
    slice(m, 1, L),
    slice(m, 0, L - 1),
    float(g.op('Equal', [slice(own.x, 1, L), slice(own.x, 0, L - 1)])),
  );
  const changesAfter = g.op('CumSum', [sub(oneC, same), g.intConst([1], [])], { reverse: int(1) });
  const run = rsum(float(g.op('Equal', [changesAfter, zero])));
  features.push(div(run, c(24)));
  features.push(g.op('Log', [add(run, oneC)]));
  features.push(div(maskedRange(r, q, L - 5, L), s));
  features.push(div(maskedRange(y, m, L - 5, L), s));
  features.push(mul(at(m, L), div(sub(at(y, L), scale.levelMean), scale.levelStd)));
  const engineered = g.op('Clip', [g.op('Concat', features, { axis: int(1) }), c(-CLIP), c(CLIP)]);
  const oneHot = float(
    g.op('Equal', [
      g.op('Unsqueeze', [metric, g.intConst([1], [1])]),
      g.intConst(
        FAULT_METRICS.map((_, i) => i),
        [1, FAULT_METRICS.length],
      ),
    ]),
  );
  const input = g.op('Concat', [engineered, oneHot], { axis: int(1) });
  const F = FAULT_FEATURE_NAMES.length;
  const standard = mul(
    sub(input, g.floatConst(net.mean, [1, F])),
    g.floatConst(
      net.std.map((v) => 1 / v),
      [1, F],
    ),
  );
  const hidden = g.op('Relu', [
    add(
      g.op('MatMul', [standard, g.floatConst(net.w1, [F, net.hidden])]),
      g.floatConst(net.b1, [1, net.hidden]),
    ),
  ]);
  const logits = add(
    g.op('MatMul', [hidden, g.floatConst(net.w2, [net.hidden, net.outputs])]),
    g.floatConst(net.b2, [1, net.outputs]),
  );
  g.op('Softmax', [logits], { axis: int(1) }, { outputs: [FAULT_IO.probabilities] });
  g.output(FAULT_IO.probabilities, DataType.FLOAT, ['N', FAULT_CLASSES.length]);
  return g.encode({ opsets: { '': 17 }, doc, metadata });
}
