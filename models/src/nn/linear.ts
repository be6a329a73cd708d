/** Column means and standard deviations of a row-major matrix (std 1 for constant columns). */
export function standardiser(
  x: Float64Array,
  rows: number,
  cols: number,
): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(cols);
  const std = new Float64Array(cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) mean[j] = (mean[j] as number) + (x[i * cols + j] as number);
  for (let j = 0; j < cols; j++) mean[j] = (mean[j] as number) / rows;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const d = (x[i * cols + j] as number) - (mean[j] as number);
      std[j] = (std[j] as number) + d * d;
    }
  }
  for (let j = 0; j < cols; j++) {
    const s = Math.sqrt((std[j] as number) / rows);
    std[j] = s > 1e-9 ? s : 1;
  }
  return { mean, std };
}

/** Solves (A + λI) W = B in place by Cholesky; A is n×n symmetric positive semi-definite, B n×m. */
export function choleskySolve(
  a: Float64Array,
  b: Float64Array,
  n: number,
  m: number,
  lambda: number,
): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = (a[i * n + j] as number) + (i === j ? lambda : 0);
      for (let k = 0; k < j; k++) sum -= (l[i * n + k] as number) * (l[j * n + k] as number);
      if (i === j) {
        if (sum <= 0) throw new Error('ridge system is not positive definite: raise lambda');
        l[i * n + i] = Math.sqrt(sum);
      } else l[i * n + j] = sum / (l[j * n + j] as number);
    }
  }
  const w = new Float64Array(b);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let sum = w[i * m + c] as number;
      for (let k = 0; k < i; k++) sum -= (l[i * n + k] as number) * (w[k * m + c] as number);
      w[i * m + c] = sum / (l[i * n + i] as number);
    }
    for (let i = n - 1; i >= 0; i--) {
      let sum = w[i * m + c] as number;
      for (let k = i + 1; k < n; k++) sum -= (l[k * n + i] as number) * (w[k * m + c] as number);
      w[i * m + c] = sum / (l[i * n + i] as number);
    }
  }
  return w;
}

/**
 * Ridge regression of every output column on standardised features with an intercept. Rows
 * whose target is NaN are skipped for that output only, by filling them with the prediction of
 * the output's mean (zero residual after centring), which leaves the closed form intact.
 */
export function fitRidge(
  x: Float64Array,
  y: Float64Array,
  rows: number,
  cols: number,
  outputs: number,
  lambda: number,
  /** Columns the ridge may use (all when omitted): the others get weight 0 but are standardised. */
  use?: readonly boolean[],
): { mean: Float64Array; std: Float64Array; weights: Float64Array; bias: Float64Array } {
  const { mean, std } = standardiser(x, rows, cols);
  const yMean = new Float64Array(outputs);
  const yCount = new Float64Array(outputs);
  for (let i = 0; i < rows; i++) {
    for (let o = 0; o < outputs; o++) {
      const v = y[i * outputs + o] as number;
      if (!Number.isNaN(v)) {
        yMean[o] = (yMean[o] as number) + v;
        yCount[o] = (yCount[o] as number) + 1;
      }
    }
  }
  for (let o = 0; o < outputs; o++) yMean[o] = (yMean[o] as number) / Math.max(1, yCount[o] as number);
  const gram = new Float64Array(cols * cols);
  const cross = new Float64Array(cols * outputs);
  const z = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++)
      z[j] = use && !use[j] ? 0 : ((x[i * cols + j] as number) - (mean[j] as number)) / (std[j] as number);
    for (let j = 0; j < cols; j++) {
      const zj = z[j] as number;
      if (zj === 0) continue;
      for (let k = 0; k <= j; k++)
        gram[j * cols + k] = (gram[j * cols + k] as number) + zj * (z[k] as number);
      for (let o = 0; o < outputs; o++) {
        const v = y[i * outputs + o] as number;
        if (!Number.isNaN(v))
          cross[j * outputs + o] = (cross[j * outputs + o] as number) + zj * (v - (yMean[o] as number));
      }
    }
  }
  for (let j = 0; j < cols; j++)
    for (let k = 0; k < j; k++) gram[k * cols + j] = gram[j * cols + k] as number;
  const weights = choleskySolve(gram, cross, cols, outputs, lambda * rows);
  return { mean, std, weights, bias: yMean };
}
