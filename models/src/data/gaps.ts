import { CHANNELS } from './dataset.ts';

/** Longest run of missing hours a window may have filled in; longer gaps mean no forecast. */
export const MAX_FILL_HOURS = 6;

/**
 * Forward-fills each channel of an hourly series ([hours × CHANNELS], NaN = missing) across gaps
 * of at most `maxGap` hours, the one gap policy shared by training, evaluation and serving. Longer
 * gaps stay NaN: honest about the hours we know nothing about.
 */
export function fillForward(values: Float32Array, maxGap = MAX_FILL_HOURS): Float32Array {
  const C = CHANNELS.length;
  const hours = values.length / C;
  const out = new Float32Array(values);
  for (let c = 0; c < C; c++) {
    let last = Number.NaN;
    let missing = 0;
    for (let h = 0; h < hours; h++) {
      const value = values[h * C + c] as number;
      if (!Number.isNaN(value)) {
        last = value;
        missing = 0;
        continue;
      }
      missing++;
      // Fill only while the whole gap is short: a long gap is left unfilled from its first hour.
      let gap = missing;
      for (let k = h + 1; k < hours && Number.isNaN(values[k * C + c] as number) && gap <= maxGap; k++) gap++;
      if (gap <= maxGap) out[h * C + c] = last;
    }
  }
  return out;
}

/** Per hour, whether every channel is present (after filling): windows need every hour complete. */
export function completeHours(values: Float32Array): Uint8Array {
  const C = CHANNELS.length;
  const hours = values.length / C;
  const complete = new Uint8Array(hours);
  for (let h = 0; h < hours; h++) {
    let ok = 1;
    for (let c = 0; c < C; c++) if (Number.isNaN(values[h * C + c] as number)) ok = 0;
    complete[h] = ok;
  }
  return complete;
}
