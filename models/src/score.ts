import { AppError } from '@sensormesh/errors';
import * as ort from 'onnxruntime-node';
import { CHANNELS } from './data/dataset.ts';
import { FAULT_IO } from './fault/graph.ts';
import { FAULT_CLASSES, FAULT_METRICS, FAULT_WINDOW } from './fault/spec.ts';
import { FORECAST_IO } from './forecast/graph.ts';
import {
  HORIZONS,
  QUANTILES,
  REFERENCE_CHANNELS,
  REFERENCE_WIDTHS,
  TARGETS,
  WINDOW_HOURS,
} from './forecast/spec.ts';

const HOUR_MS = 3_600_000;

/**
 * Without this, onnxruntime's worker threads spin for a while after every run waiting for more
 * work: on a 2-core machine they took the other core from the JS thread packing the next batch
 * (packing ran 1.6× slower) and from the session's own next run (12.2 vs 16.2 µs per forecast
 * window at batch 256, measured side by side), and a predictor holds up to four sessions.
 */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

/** One forecast request: the hourly window ending at the origin hour, CHANNELS order per row. */
export interface ForecastWindow {
  /** The origin hour (the last row's hour), UTC epoch ms on the hour. */
  originTs: number;
  /** WINDOW_HOURS rows of CHANNELS values, oldest first, no gaps. */
  values: ArrayLike<ArrayLike<number>>;
  /**
   * Optional network reference for the same hours: WINDOW_HOURS rows of REFERENCE_CHANNELS values
   * (the median of the other sensors' PM2.5 and PM10, the mean of their pressure, dew point, wind
   * u and v), `null` where unknown; rows of the first 2 alone (the older form) leave the weather
   * unknown. Without it the model uses the sensor's own values (valid, a little less accurate).
   */
  reference?: ArrayLike<ArrayLike<number | null>>;
}

/** p10/p50/p90 per horizon (index 0 = 1 h ahead), µg/m³. */
export type Forecast = Record<(typeof TARGETS)[number], { p10: number; p50: number; p90: number }[]>;

function invalid(message: string, details: Record<string, unknown>): AppError {
  return new AppError('VALIDATION_FAILED', message, { details });
}

/** Checks and packs forecast windows into the graph's input tensors; names the first bad value. */
export function packForecastWindows(windows: readonly ForecastWindow[]): {
  window: Float32Array;
  origin: Float32Array;
  reference: Float32Array;
} {
  const C = CHANNELS.length;
  const R = REFERENCE_CHANNELS.length;
  const window = new Float32Array(windows.length * WINDOW_HOURS * C);
  const origin = new Float32Array(windows.length);
  const reference = new Float32Array(windows.length * WINDOW_HOURS * R).fill(Number.NaN);
  windows.forEach((w, i) => {
    if (!Number.isInteger(w.originTs) || w.originTs % HOUR_MS !== 0) {
      throw invalid(`window ${i}: originTs must be a UTC epoch ms on the hour`, {
        window: i,
        originTs: w.originTs,
      });
    }
    if (w.values.length !== WINDOW_HOURS) {
      throw invalid(`window ${i}: expected ${WINDOW_HOURS} hourly rows, got ${w.values.length}`, {
        window: i,
        expected: WINDOW_HOURS,
        got: w.values.length,
      });
    }
    for (let h = 0; h < WINDOW_HOURS; h++) {
      const row = w.values[h] as ArrayLike<number>;
      if (row.length !== C) {
        throw invalid(
          `window ${i} row ${h}: expected ${C} values (${CHANNELS.join(', ')}), got ${row.length}`,
          {
            window: i,
            row: h,
            expected: C,
            got: row.length,
          },
        );
      }
      for (let c = 0; c < C; c++) {
        const value = row[c] as number;
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          throw invalid(`window ${i} row ${h}: ${CHANNELS[c]} is ${String(value)}, not a finite number`, {
            window: i,
            row: h,
            metric: CHANNELS[c],
          });
        }
        window[(i * WINDOW_HOURS + h) * C + c] = value;
      }
    }
    origin[i] = w.originTs / HOUR_MS;
    if (w.reference === undefined) return;
    if (w.reference.length !== WINDOW_HOURS) {
      throw invalid(
        `window ${i}: reference must hold ${WINDOW_HOURS} hourly rows, got ${w.reference.length}`,
        {
          window: i,
          field: 'reference',
          expected: WINDOW_HOURS,
          got: w.reference.length,
        },
      );
    }
    for (let h = 0; h < WINDOW_HOURS; h++) {
      const row = w.reference[h] as ArrayLike<number | null>;
      if (!REFERENCE_WIDTHS.includes(row.length)) {
        throw invalid(
          `window ${i} reference row ${h}: expected ${REFERENCE_WIDTHS.join(' or ')} values (${REFERENCE_CHANNELS.join(', ')}), got ${row.length}`,
          { window: i, field: 'reference', row: h, expected: REFERENCE_WIDTHS, got: row.length },
        );
      }
      for (let r = 0; r < row.length; r++) {
        const value = row[r];
        // null is "unknown that hour"; NaN or Infinity is a caller's bug.
        if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) {
          throw invalid(
            `window ${i} reference row ${h}: ${REFERENCE_CHANNELS[r]} is ${String(value)}; use null for unknown`,
            { window: i, field: 'reference', row: h, metric: REFERENCE_CHANNELS[r] },
          );
        }
        if (value !== null) reference[(i * WINDOW_HOURS + h) * R + r] = value;
      }
    }
  });
  return { window, origin, reference };
}

/** Scores forecast windows with the ONNX forecast model, all windows in one run. */
export class ForecastScorer {
  /**
   * Reference channels the model takes (the first of REFERENCE_CHANNELS): 0 for a model without
   * the reference input, 2 for one from before the network weather (PM2.5, PM10), else all.
   */
  readonly referenceWidth: number;

  private constructor(readonly session: ort.InferenceSession) {
    const input = session.inputMetadata.find((m) => m.name === FORECAST_IO.reference);
    const declared = input && 'shape' in input ? input.shape[2] : undefined;
    this.referenceWidth = !input ? 0 : typeof declared === 'number' ? declared : REFERENCE_CHANNELS.length;
  }

  /** Loads a model from a path or its bytes. */
  static async load(model: string | Uint8Array): Promise<ForecastScorer> {
    const session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, SESSION_OPTIONS)
        : await ort.InferenceSession.create(model, SESSION_OPTIONS);
    return new ForecastScorer(session);
  }

  /**
   * Raw outputs for packed inputs: [N × TARGETS × HORIZONS × QUANTILES] µg/m³ (the fast path).
   * `reference` is [N × WINDOW_HOURS × W], W of REFERENCE_WIDTHS (the first W REFERENCE_CHANNELS),
   * NaN = unknown; omitted = all unknown. The model gets the first channels it takes (channels it
   * takes beyond W are unknown), so an older model (2 channels, or no reference input) is fed right.
   */
  async scorePacked(
    window: Float32Array,
    origin: Float32Array,
    reference?: Float32Array,
  ): Promise<Float32Array> {
    const n = origin.length;
    const R = this.referenceWidth;
    const feeds: Record<string, ort.Tensor> = {
      [FORECAST_IO.window]: new ort.Tensor('float32', window, [n, WINDOW_HOURS, CHANNELS.length]),
      [FORECAST_IO.originHour]: new ort.Tensor('float32', origin, [n, 1]),
    };
    if (R > 0) {
      feeds[FORECAST_IO.reference] = new ort.Tensor('float32', referenceFor(reference, n, R), [
        n,
        WINDOW_HOURS,
        R,
      ]);
    }
    const result = await this.session.run(feeds);
    return (result[FORECAST_IO.forecast] as ort.Tensor).data as Float32Array;
  }

  /** Validates and scores windows; a bad window throws a VALIDATION_FAILED AppError naming it. */
  async score(windows: readonly ForecastWindow[]): Promise<Forecast[]> {
    if (windows.length === 0) return [];
    const { window, origin, reference } = packForecastWindows(windows);
    const raw = await this.scorePacked(window, origin, reference);
    const Q = QUANTILES.length;
    return windows.map((_, i) => {
      const forecast = {} as Forecast;
      TARGETS.forEach((target, t) => {
        forecast[target] = Array.from({ length: HORIZONS }, (_, h) => {
          const at = ((i * TARGETS.length + t) * HORIZONS + h) * Q;
          return { p10: raw[at] as number, p50: raw[at + 1] as number, p90: raw[at + 2] as number };
        });
      });
      return forecast;
    });
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** A packed reference ([n × WINDOW_HOURS × W], W inferred) as the R channels a model takes. */
function referenceFor(reference: Float32Array | undefined, n: number, R: number): Float32Array {
  const W = reference && n > 0 ? reference.length / (n * WINDOW_HOURS) : 0;
  if (reference && W === R) return reference;
  const out = new Float32Array(n * WINDOW_HOURS * R).fill(Number.NaN);
  if (!reference || W === 0) return out;
  const keep = Math.min(W, R);
  for (let row = 0; row < n * WINDOW_HOURS; row++)
    for (let r = 0; r < keep; r++) out[row * R + r] = reference[row * W + r] as number;
  return out;
}

/** One fault request: a metric's hourly values (null = no reading) and, if known, the network reference. */
export interface FaultWindow {
  metric: string;
  values: ArrayLike<number | null>;
  reference?: ArrayLike<number | null>;
}

/** A fault verdict: the class probabilities and, when flagged, the kind. */
export interface FaultVerdict {
  fault: boolean;
  kind: (typeof FAULT_CLASSES)[number];
  score: number;
  probabilities: Record<(typeof FAULT_CLASSES)[number], number>;
}

/** Scores metric windows with the ONNX fault model; `threshold` comes from the model card. */
export class FaultScorer {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly threshold: number,
  ) {}

  static async load(model: string | Uint8Array, threshold: number): Promise<FaultScorer> {
    const session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, SESSION_OPTIONS)
        : await ort.InferenceSession.create(model, SESSION_OPTIONS);
    return new FaultScorer(session, threshold);
  }

  /** Raw probabilities for packed inputs: [N × FAULT_CLASSES]. */
  async scorePacked(
    values: Float32Array,
    reference: Float32Array,
    metric: BigInt64Array,
  ): Promise<Float32Array> {
    const n = metric.length;
    const result = await this.session.run({
      [FAULT_IO.values]: new ort.Tensor('float32', values, [n, FAULT_WINDOW]),
      [FAULT_IO.reference]: new ort.Tensor('float32', reference, [n, FAULT_WINDOW]),
      [FAULT_IO.metric]: new ort.Tensor('int64', metric, [n]),
    });
    return (result[FAULT_IO.probabilities] as ort.Tensor).data as Float32Array;
  }

  /** Validates and scores windows; a bad window throws a VALIDATION_FAILED AppError naming it. */
  async score(windows: readonly FaultWindow[]): Promise<FaultVerdict[]> {
    if (windows.length === 0) return [];
    const n = windows.length;
    const values = new Float32Array(n * FAULT_WINDOW);
    const reference = new Float32Array(n * FAULT_WINDOW).fill(Number.NaN);
    const metric = new BigInt64Array(n);
    windows.forEach((w, i) => {
      const index = FAULT_METRICS.indexOf(w.metric as (typeof FAULT_METRICS)[number]);
      if (index < 0)
        throw invalid(`window ${i}: the fault model knows ${FAULT_METRICS.join(', ')}, not ${w.metric}`, {
          window: i,
          metric: w.metric,
        });
      metric[i] = BigInt(index);
      for (const [name, series, out] of [
        ['values', w.values, values],
        ['reference', w.reference, reference],
      ] as const) {
        if (series === undefined) continue;
        if (series.length !== FAULT_WINDOW) {
          throw invalid(
            `window ${i}: ${name} must hold ${FAULT_WINDOW} hourly values, got ${series.length}`,
            {
              window: i,
              field: name,
              expected: FAULT_WINDOW,
              got: series.length,
            },
          );
        }
        for (let h = 0; h < FAULT_WINDOW; h++) {
          const value = series[h];
          // null is "no reading" (a dropout is one of the answers); NaN or Infinity is a caller's bug.
          if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) {
            throw invalid(`window ${i}: ${name}[${h}] is ${String(value)}; use null for a missing hour`, {
              window: i,
              field: name,
              hour: h,
            });
          }
          out[i * FAULT_WINDOW + h] = value === null ? Number.NaN : value;
        }
      }
    });
    const probs = await this.scorePacked(values, reference, metric);
    const K = FAULT_CLASSES.length;
    return windows.map((_, i) => {
      const p = Object.fromEntries(
        FAULT_CLASSES.map((name, k) => [name, probs[i * K + k] as number]),
      ) as FaultVerdict['probabilities'];
      const fault = p.none < this.threshold;
      let kind: FaultVerdict['kind'] = 'none';
      if (fault) {
        kind = FAULT_CLASSES.slice(1).reduce((a, b) => (p[b] > p[a] ? b : a));
      }
      return { fault, kind, score: 1 - p.none, probabilities: p };
    });
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
