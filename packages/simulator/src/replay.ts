import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readStationFile, type StationRecord } from './beijing-csv.ts';
import { type Clock, systemClock } from './clock.ts';
import { type Station, stationOfFile, stationSensorId } from './stations.ts';

/** What one device sends: the metrics of one instant. */
export interface DeviceReading {
  sensorId: string;
  ts: number;
  metrics: Record<string, number>;
}

/** One replayed data hour: every station that has it, re-timed to the same wall-clock ts. */
export interface ReplayStep {
  ts: number;
  /** The original data hour (UTC epoch ms). */
  dataTs: number;
  /** How many times the data set has wrapped around so far. */
  loop: number;
  readings: DeviceReading[];
}

/** How to replay the station files. */
export interface ReplayOptions {
  /** Directory holding `PRSA_Data_<Station>_….csv.gz` files. */
  dir: string;
  /** Data time per wall time: 3600 = one data hour per second. */
  speed: number;
  /** Start over at the end, with timestamps still increasing (default true). */
  loop?: boolean;
  /** Skip data hours before this UTC epoch ms. */
  fromDataTs?: number;
  /** Only these station slugs (default all found). */
  stations?: readonly string[];
  clock?: Clock;
  signal?: AbortSignal;
}

const HOUR_MS = 3_600_000;
/** Fastest useful speed: 1 ms of wall time per data hour keeps timestamps strictly increasing. */
export const MAX_SPEED = HOUR_MS;

/** The station files in `dir` we know the stations of, sorted by station. */
export async function stationFiles(
  dir: string,
  only?: readonly string[],
): Promise<Array<{ station: Station; path: string }>> {
  const found = (await readdir(dir))
    .map((name) => ({ station: stationOfFile(name), path: join(dir, name) }))
    .filter((file): file is { station: Station; path: string } => file.station !== undefined)
    .filter((file) => !only || only.includes(file.station.slug))
    .sort((a, b) => a.station.name.localeCompare(b.station.name));
  if (found.length === 0) throw new Error(`no Beijing station files (PRSA_Data_*.csv.gz) in ${dir}`);
  return found;
}

/** Merges the station streams hour by hour; a station missing an hour just sits that hour out. */
async function* hours(
  files: ReadonlyArray<{ station: Station; path: string }>,
  fromDataTs: number,
): AsyncGenerator<{ dataTs: number; readings: DeviceReading[] }> {
  const sources = files.map(({ station, path }) => ({
    sensorId: stationSensorId(station),
    records: readStationFile(path),
    head: undefined as StationRecord | undefined,
  }));
  const advance = async (source: (typeof sources)[number]) => {
    let next = await source.records.next();
    while (!next.done && next.value.ts < fromDataTs) next = await source.records.next();
    source.head = next.done ? undefined : next.value;
  };
  try {
    await Promise.all(sources.map(advance));
    for (;;) {
      const live = sources.filter((source) => source.head !== undefined);
      if (live.length === 0) return;
      const dataTs = Math.min(...live.map((source) => (source.head as StationRecord).ts));
      const due = live.filter((source) => source.head?.ts === dataTs);
      const readings = due
        .map((source) => ({
          sensorId: source.sensorId,
          ts: dataTs,
          metrics: (source.head as StationRecord).metrics,
        }))
        .filter((reading) => Object.keys(reading.metrics).length > 0); // an all-NA hour sends nothing
      await Promise.all(due.map(advance));
      yield { dataTs, readings };
    }
  } finally {
    // A consumer that stops early must not leave twelve gunzip streams open.
    await Promise.all(sources.map((source) => source.records.return(undefined)));
  }
}

/**
 * Replays the station files as live devices. Data time is compressed by `speed` and anchored at the
 * moment the replay starts: data hour h is sent at start + (h - first hour) / speed, stamped with
 * that wall time, so the newest replayed hour is always "now", never in the future and always
 * within retention. At the end it wraps around (one step after the last hour) and carries on.
 */
export async function* replay(options: ReplayOptions): AsyncGenerator<ReplayStep> {
  if (!(options.speed > 0 && options.speed <= MAX_SPEED)) {
    throw new Error(`speed must be in (0, ${MAX_SPEED}], got ${options.speed}`);
  }
  const clock = options.clock ?? systemClock;
  const files = await stationFiles(options.dir, options.stations);
  const wallStart = clock.now();
  let wallOffset = 0; // wall ms consumed by earlier loops
  for (let loop = 0; ; loop++) {
    let first: number | undefined;
    let last: number | undefined;
    for await (const hour of hours(files, options.fromDataTs ?? 0)) {
      first ??= hour.dataTs;
      last = hour.dataTs;
      const ts = wallStart + wallOffset + Math.round((hour.dataTs - first) / options.speed);
      await clock.sleep(ts - clock.now(), options.signal);
      if (options.signal?.aborted) return;
      yield {
        ts,
        dataTs: hour.dataTs,
        loop,
        readings: hour.readings.map((reading) => ({ ...reading, ts })),
      };
    }
    if (first === undefined || last === undefined || options.loop === false) return;
    wallOffset += Math.round((last - first + HOUR_MS) / options.speed);
  }
}
