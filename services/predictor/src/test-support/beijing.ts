import { join } from 'node:path';
import { CHANNELS } from '@sensormesh/models';
import { readStationFile } from '@sensormesh/simulator';

const HOUR_MS = 3_600_000;
const DATA = new URL('../../../../../shared/data/beijing/train', import.meta.url).pathname;
const STATIONS = ['Aotizhongxin', 'Changping', 'Dingling', 'Dongsi', 'Guanyuan', 'Gucheng'];

/** First hour of a stretch where these six stations report every channel for 80 hours. */
export const SLICE_START = Date.UTC(2015, 0, 8, 11);
export const SLICE_HOURS = 82;

/** Real hourly rows of six Beijing stations (CHANNELS order), 80 complete hours from SLICE_START. */
export async function beijingSlice(): Promise<{ station: string; hours: number[][] }[]> {
  const end = SLICE_START + SLICE_HOURS * HOUR_MS;
  return Promise.all(
    STATIONS.map(async (station) => {
      const hours: number[][] = [];
      const path = join(DATA, `PRSA_Data_${station}_20130301-20160229.csv.gz`);
      for await (const row of readStationFile(path)) {
        if (row.ts < SLICE_START || row.ts >= end) continue;
        hours[(row.ts - SLICE_START) / HOUR_MS] = CHANNELS.map((metric) => row.metrics[metric] as number);
      }
      if (hours.length !== SLICE_HOURS || hours.some((h) => !h || h.some((v) => !Number.isFinite(v)))) {
        throw new Error(`${station}: the slice is not complete`);
      }
      return { station: station.toLowerCase(), hours };
    }),
  );
}
