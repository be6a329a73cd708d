import { usable } from './units.ts';

type Hours = readonly (number | null | undefined)[];

/**
 * The mean of the newest `hours` hourly means (newest first), or `null` when fewer than
 * `minValid` of them have data (EPA and CPCB both ask for 75% of an average's hours: 6 of 8,
 * 18 of 24; CPCB's 24-hour averages need 16).
 */
export function meanOver(hourly: Hours | undefined, hours: number, minValid: number): number | null {
  const valid = (hourly ?? []).slice(0, hours).filter(usable);
  if (valid.length < minValid || valid.length === 0) return null;
  return valid.reduce((sum, value) => sum + value, 0) / valid.length;
}

/**
 * The 1-hour value for current conditions: the newest hour, or the one before it while the newest
 * has no data yet (a sensor reporting every few minutes can start an hour empty). Never older.
 */
export function latestHour(hourly: Hours | undefined): number | null {
  const [current, previous] = hourly ?? [];
  if (usable(current)) return current;
  return usable(previous) ? previous : null;
}
