export { latestHour, meanOver } from './averages.ts';
export type { BreakpointTable, IndexRanges, Range } from './bands.ts';
export {
  aqiFromHourly,
  averagesFromHourly,
  computeAqi,
  hourlyAqi,
  STANDARDS,
  standardOf,
} from './compute.ts';
export { type NowcastOptions, nowcast } from './nowcast.ts';
export type { PollutantTable, Standard } from './standard.ts';
export * from './types.ts';
export { fromMicrograms, MOLAR_VOLUME_25C, MOLECULAR_WEIGHT, toMicrograms, truncate } from './units.ts';
