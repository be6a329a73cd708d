import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readStationFile, STATION_METRICS } from '@sensormesh/simulator';

/** Hour in ms: the data and the models work on whole UTC hours. */
export const HOUR_MS = 3_600_000;

/** The channels every model window carries, in this order (the station files' metrics). */
export const CHANNELS: readonly string[] = STATION_METRICS;

/** One station's hourly series on a shared hour grid; NaN where the hour was missing. */
export interface StationSeries {
  station: string;
  /** [hours × CHANNELS.length], row-major by hour. */
  values: Float32Array;
}

/** Every station of a directory on one hour grid starting at `startHour` (epoch hours, UTC). */
export interface Dataset {
  startHour: number;
  hours: number;
  stations: StationSeries[];
}

/** Value of channel `c` at grid hour `h` of a station (NaN when missing or off the grid). */
export function at(dataset: Dataset, s: number, h: number, c: number): number {
  if (h < 0 || h >= dataset.hours) return Number.NaN;
  return (dataset.stations[s] as StationSeries).values[h * CHANNELS.length + c] as number;
}

/** The station CSV files of a directory (`*.csv` or `*.csv.gz`), sorted by name. */
export async function stationFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((name) => /\.csv(\.gz)?$/i.test(name)).sort();
  if (names.length === 0) throw new Error(`no station CSV files (*.csv, *.csv.gz) in ${dir}`);
  return names.map((name) => join(dir, name));
}

/**
 * Reads every station file of `dir` onto one hourly grid. Hours a file lacks stay NaN, so gaps are
 * explicit; the station name comes from the rows, so any file name works.
 */
export async function loadDataset(dir: string): Promise<Dataset> {
  const perFile = await Promise.all(
    (await stationFiles(dir)).map(async (path) => {
      const rows = await Array.fromAsync(readStationFile(path));
      if (rows.length === 0) throw new Error(`${path}: no rows`);
      return rows;
    }),
  );
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const rows of perFile) {
    for (const row of rows) {
      if (row.ts % HOUR_MS !== 0) throw new Error(`station ${row.station}: ts ${row.ts} is not on the hour`);
      first = Math.min(first, row.ts / HOUR_MS);
      last = Math.max(last, row.ts / HOUR_MS);
    }
  }
  const hours = last - first + 1;
  const stations = perFile
    .map((rows) => {
      const values = new Float32Array(hours * CHANNELS.length).fill(Number.NaN);
      for (const row of rows) {
        const h = row.ts / HOUR_MS - first;
        CHANNELS.forEach((metric, c) => {
          const value = row.metrics[metric];
          if (value !== undefined) values[h * CHANNELS.length + c] = value;
        });
      }
      return { station: rows[0]?.station ?? '', values };
    })
    .sort((a, b) => a.station.localeCompare(b.station));
  return { startHour: first, hours, stations };
}

/** The hours [fromHour, fromHour + hours) of a dataset (copies; hours off its grid are NaN). */
export function sliceDataset(dataset: Dataset, fromHour: number, hours: number): Dataset {
  const C = CHANNELS.length;
  const at = fromHour - dataset.startHour;
  return {
    startHour: fromHour,
    hours,
    stations: dataset.stations.map((s) => {
      const values = new Float32Array(hours * C).fill(Number.NaN);
      const from = Math.max(0, at);
      const to = Math.min(dataset.hours, at + hours);
      if (to > from) values.set(s.values.subarray(from * C, to * C), (from - at) * C);
      return { station: s.station, values };
    }),
  };
}
