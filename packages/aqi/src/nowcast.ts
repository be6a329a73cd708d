import { usable } from './units.ts';

/** Options of the NowCast; the defaults are EPA's for PM2.5 and PM10. */
export interface NowcastOptions {
  /** Hours in the window (EPA: 12). */
  hours?: number;
  /** Lowest weight factor (EPA PM: 0.5, which approximates a 3-hour average when air changes fast). */
  minWeight?: number;
}

/**
 * EPA's PM NowCast from hourly means, **newest first** (`hourly[0]` is the most recent hour, `c1`
 * in EPA's notation). Missing hours are `null`/`undefined` (or non-finite/negative) and keep their
 * place, so an hour's weight still depends on how long ago it was. Valid only when at least two
 * of the three most recent hours have data; otherwise `null`.
 *
 * w* = min/max over the window's valid hours; w = max(w*, minWeight) (1 when max is 0);
 * NowCast = Σ wⁱ⁻¹·cᵢ / Σ wⁱ⁻¹ over valid hours. The result is not truncated: the index table
 * truncates it (PM2.5 to 0.1 µg/m³, PM10 to 1 µg/m³), as AirNow does.
 */
export function nowcast(
  hourly: readonly (number | null | undefined)[],
  options: NowcastOptions = {},
): number | null {
  const hours = options.hours ?? 12;
  const minWeight = options.minWeight ?? 0.5;
  const window = hourly.slice(0, hours);
  const recentValid = window.slice(0, 3).filter(usable).length;
  if (recentValid < 2) return null;
  const valid = window.filter(usable);
  const max = Math.max(...valid);
  const min = Math.min(...valid);
  const weight = max === 0 ? 1 : Math.max(min / max, minWeight);
  let sum = 0;
  let weights = 0;
  window.forEach((value, age) => {
    if (!usable(value)) return;
    const factor = weight ** age;
    sum += factor * value;
    weights += factor;
  });
  return sum / weights;
}
