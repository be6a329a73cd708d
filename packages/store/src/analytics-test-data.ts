/**
 * Test data and hand computations for the analytics queries: a month of two real Beijing stations
 * (../shared/data/beijing) as readings, and the same statistics computed in plain TypeScript.
 */
import { join } from 'node:path';
import { readStationFile } from '@sensormesh/simulator';
import type { ReadingRow } from './queries/readings.ts';

export const BEIJING_DIR = join(
  import.meta.dir,
  '..',
  '..',
  '..',
  '..',
  'shared',
  'data',
  'beijing',
  'train',
);
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const BEIJING_OFFSET = 8 * HOUR;

/** Every reading of the stations whose UTC time is in [from, to). */
export async function loadStations(
  stations: readonly string[],
  from: number,
  to: number,
): Promise<ReadingRow[]> {
  const rows: ReadingRow[] = [];
  for (const station of stations) {
    const file = join(BEIJING_DIR, `PRSA_Data_${station}_20130301-20160229.csv.gz`);
    for await (const record of readStationFile(file)) {
      if (record.ts < from || record.ts >= to) continue;
      for (const [metric, value] of Object.entries(record.metrics)) {
        rows.push({
          sensorId: `aq-beijing-${station.toLowerCase()}`,
          metric,
          ts: record.ts,
          value,
          receivedAt: record.ts,
          source: 'beijing',
        });
      }
    }
  }
  return rows;
}

/** Statistics of a group of values, computed directly. */
export interface HandStats {
  count: number;
  sum: number;
  min: number;
  max: number;
  values: number[];
}

/** Groups readings by a key and computes count, sum, min, max and the sorted values of each group. */
export function groupStats<K>(rows: readonly ReadingRow[], key: (row: ReadingRow) => K | undefined) {
  const groups = new Map<K, HandStats>();
  for (const row of rows) {
    const k = key(row);
    if (k === undefined) continue;
    let group = groups.get(k);
    if (!group) {
      group = { count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, values: [] };
      groups.set(k, group);
    }
    group.count++;
    group.sum += row.value;
    group.min = Math.min(group.min, row.value);
    group.max = Math.max(group.max, row.value);
    group.values.push(row.value);
  }
  for (const group of groups.values()) group.values.sort((a, b) => a - b);
  return groups;
}

/** True when `estimate` lies between the exact quantiles at q − tolerance and q + tolerance. */
export function withinRank(
  sorted: readonly number[],
  q: number,
  estimate: number,
  tolerance = 0.05,
): boolean {
  const n = sorted.length;
  const lo = sorted[Math.floor(Math.max(0, q - tolerance) * (n - 1))] as number;
  const hi = sorted[Math.ceil(Math.min(1, q + tolerance) * (n - 1))] as number;
  return estimate >= lo && estimate <= hi;
}

/** |a − b| within 1e-9 of b's magnitude (sums in another order differ in the last bits). */
export const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/** Pearson's r, two-pass. */
export function pearson(pairs: readonly (readonly [number, number])[]): number {
  const n = pairs.length;
  const mx = pairs.reduce((sum, [x]) => sum + x, 0) / n;
  const my = pairs.reduce((sum, [, y]) => sum + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Hourly averages of one sensor's metric, by UTC hour start. */
export function hourlyMeans(
  rows: readonly ReadingRow[],
  sensorId: string,
  metric: string,
): Map<number, number> {
  const stats = groupStats(rows, (row) =>
    row.sensorId === sensorId && row.metric === metric ? Math.floor(row.ts / HOUR) * HOUR : undefined,
  );
  return new Map([...stats].map(([hour, group]) => [hour, group.sum / group.count]));
}

/**
 * A synthetic sensor at 15-second cadence for three hours from `start`, so range edges that are
 * not whole hours or minutes have readings in them.
 */
export function fineReadings(sensorId: string, start: number): ReadingRow[] {
  return Array.from({ length: 720 }, (_, i) => ({
    sensorId,
    metric: 'pm25',
    ts: start + i * 15_000,
    value: ((i * 37) % 211) + (i % 7) / 4,
    receivedAt: start,
    source: 'fine',
  }));
}
