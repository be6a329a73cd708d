import { METRICS } from '@sensormesh/readings';
import type { DeviceReading } from './replay.ts';

/** The faults a simulated device can be told to show. */
export const FAULT_KINDS = ['stuck', 'spike', 'drift', 'dropout'] as const;
/** One of the fault kinds. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One requested fault: `kind:sensor[/metric][@start][+duration][=magnitude]`, times relative to the run start. */
export interface FaultSpec {
  kind: FaultKind;
  sensorId: string;
  /** The metric it hits; dropout without one silences the whole device. */
  metric?: string;
  startMs: number;
  /** 0 for a spike means one reading: the first at or after the start. */
  durationMs: number;
  /** Spike: added to the value; drift: offset reached at the window's end. */
  magnitude?: number;
  spec: string;
}

/** What a fault really did, one JSON line per fault in the ground-truth file. */
export interface FaultTruth {
  kind: FaultKind;
  sensorId: string;
  metric: string | null;
  /** The window in reading timestamps (epoch ms), end exclusive. */
  from: number;
  to: number;
  fromIso: string;
  toIso: string;
  magnitude: number | null;
  /** Readings the fault changed (or suppressed), with the first and last of their timestamps. */
  affected: number;
  firstTs: number | null;
  lastTs: number | null;
  spec: string;
}

const DEFAULT_DURATION_MS = 5 * 60_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const FAULT =
  /^(stuck|spike|drift|dropout):([A-Za-z0-9._-]+)(?:\/([a-z][a-z0-9_]*))?(?:@([^+=]+))?(?:\+([^=]+))?(?:=(-?[\d.]+))?$/;

/** Parses `90`, `90s`, `5m`, `1h`, `250ms` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (e.g. 90s, 5m, 1h)`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 's'] as number));
}

/** Parses a comma-separated fault list, naming the first bad entry and why. */
export function parseFaults(text: string): FaultSpec[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((spec) => {
      const match = FAULT.exec(spec);
      if (!match) {
        throw new Error(`fault "${spec}": expected kind:sensor[/metric][@start][+duration][=magnitude]`);
      }
      const [, kind, sensorId, metric, start, duration, magnitude] = match;
      if (kind !== 'dropout' && !metric) throw new Error(`fault "${spec}": ${kind} needs a /metric`);
      if (magnitude !== undefined && (kind === 'stuck' || kind === 'dropout')) {
        throw new Error(`fault "${spec}": ${kind} takes no =magnitude`);
      }
      const fallback = kind === 'spike' ? 0 : DEFAULT_DURATION_MS;
      return {
        kind: kind as FaultKind,
        sensorId: sensorId as string,
        ...(metric ? { metric } : {}),
        startMs: start ? parseDuration(start) : 0,
        durationMs: duration ? parseDuration(duration) : fallback,
        ...(magnitude !== undefined ? { magnitude: Number(magnitude) } : {}),
        spec,
      };
    });
}

/** Default spike and drift size: a fifth of the metric's plausible range, so it stands out yet passes ingest. */
function defaultMagnitude(metric: string): number {
  const spec = METRICS[metric];
  if (!spec) throw new Error(`metric ${metric} is not in the catalogue: give the fault a =magnitude`);
  return (spec.max - spec.min) / 5;
}

const clamp = (metric: string, value: number) => {
  const spec = METRICS[metric];
  return spec ? Math.min(spec.max, Math.max(spec.min, value)) : value;
};

/**
 * Applies faults to readings on their way out and records exactly what each did. The run start
 * (the first reading's ts) anchors every window; a window closes when its device sends past it,
 * and `close()` reports whatever is still open.
 */
export function faultInjector(specs: readonly FaultSpec[], onTruth: (truth: FaultTruth) => void) {
  const faults = specs.map((spec) => ({
    spec,
    from: 0,
    to: 0,
    magnitude:
      spec.metric && (spec.kind === 'spike' || spec.kind === 'drift')
        ? (spec.magnitude ?? defaultMagnitude(spec.metric))
        : undefined,
    /** Stuck: the last value before the window, then the value it holds. */
    held: undefined as number | undefined,
    affected: [] as number[],
    open: true,
  }));
  type Fault = (typeof faults)[number];
  let started = false;

  function report(fault: Fault): void {
    fault.open = false;
    const { spec } = fault;
    if (fault.to === Number.MAX_SAFE_INTEGER) fault.to = fault.from; // a spike that never found its reading
    onTruth({
      kind: spec.kind,
      sensorId: spec.sensorId,
      metric: spec.metric ?? null,
      from: fault.from,
      to: fault.to,
      fromIso: new Date(fault.from).toISOString(),
      toIso: new Date(fault.to).toISOString(),
      magnitude: fault.magnitude ?? null,
      affected: fault.affected.length,
      firstTs: fault.affected[0] ?? null,
      lastTs: fault.affected.at(-1) ?? null,
      spec: spec.spec,
    });
  }

  // Changes `metrics` for a reading inside the window; says whether it hit and whether to send.
  function hit(fault: Fault, metrics: Record<string, number>, ts: number): { hit: boolean; send: boolean } {
    const { kind, metric } = fault.spec;
    if (metric === undefined) return { hit: true, send: false }; // a whole-device dropout
    const value = metrics[metric];
    if (value === undefined) return { hit: false, send: true }; // an NA hour stays missing
    if (kind === 'dropout') {
      delete metrics[metric];
      return { hit: true, send: Object.keys(metrics).length > 0 };
    }
    if (kind === 'stuck') {
      fault.held ??= value;
      metrics[metric] = fault.held;
    } else if (kind === 'spike') {
      metrics[metric] = clamp(metric, value + (fault.magnitude as number));
    } else {
      const share = (ts - fault.from) / (fault.to - fault.from);
      metrics[metric] = clamp(metric, value + (fault.magnitude as number) * share);
    }
    return { hit: true, send: true };
  }

  return {
    /** The reading as the faulty device sends it, or undefined when it sends nothing. */
    apply(reading: DeviceReading): DeviceReading | undefined {
      if (!started) {
        started = true;
        for (const fault of faults) {
          fault.from = reading.ts + fault.spec.startMs;
          // A single spike's window stays open until a reading carries its metric.
          fault.to =
            fault.spec.durationMs === 0 ? Number.MAX_SAFE_INTEGER : fault.from + fault.spec.durationMs;
        }
      }
      let metrics: Record<string, number> | undefined;
      let send = true;
      for (const fault of faults) {
        if (!fault.open || fault.spec.sensorId !== reading.sensorId) continue;
        if (reading.ts < fault.from) {
          const value = fault.spec.metric === undefined ? undefined : reading.metrics[fault.spec.metric];
          if (fault.spec.kind === 'stuck' && value !== undefined) fault.held = value;
          continue;
        }
        if (reading.ts >= fault.to) {
          report(fault);
          continue;
        }
        metrics ??= { ...reading.metrics };
        const result = hit(fault, metrics, reading.ts);
        send &&= result.send;
        if (!result.hit) continue;
        fault.affected.push(reading.ts);
        if (fault.spec.durationMs === 0) {
          fault.to = reading.ts + 1;
          report(fault);
        }
      }
      if (!send) return undefined;
      return metrics ? { ...reading, metrics } : reading;
    },
    /** Reports every fault still open (the run is over). */
    close(): void {
      for (const fault of faults) if (fault.open) report(fault);
    },
  };
}
