import type { Pollutant, TableUnit } from './types.ts';

/**
 * Molar volume of an ideal gas at 25 °C and 1 atm (L/mol), the reference conditions of the EPA
 * tables (40 CFR 50) and the usual ones for ppb ↔ µg/m³. Our sensors report µg/m³ at their own
 * conditions; converting at 25 °C is the assumption every index here makes for the gases.
 */
export const MOLAR_VOLUME_25C = 24.45;

/** Molecular weights (g/mol) of the gases whose tables are in ppm/ppb. */
export const MOLECULAR_WEIGHT: Readonly<Partial<Record<Pollutant, number>>> = {
  o3: 48.0,
  no2: 46.01,
  so2: 64.07,
  co: 28.01,
};

/** Converts a concentration in µg/m³ (the catalogue unit) to the unit of a breakpoint table. */
export function fromMicrograms(pollutant: Pollutant, ugm3: number, unit: TableUnit): number {
  if (unit === 'µg/m³') return ugm3;
  if (unit === 'mg/m³') return ugm3 / 1_000;
  const weight = MOLECULAR_WEIGHT[pollutant];
  if (weight === undefined) throw new Error(`${pollutant} has no molecular weight for ${unit}`);
  const ppb = (ugm3 * MOLAR_VOLUME_25C) / weight;
  return unit === 'ppb' ? ppb : ppb / 1_000;
}

/** Converts a concentration in a table's unit back to µg/m³ (for tests and for building inputs). */
export function toMicrograms(pollutant: Pollutant, value: number, unit: TableUnit): number {
  if (unit === 'µg/m³') return value;
  if (unit === 'mg/m³') return value * 1_000;
  const weight = MOLECULAR_WEIGHT[pollutant];
  if (weight === undefined) throw new Error(`${pollutant} has no molecular weight for ${unit}`);
  const ppb = unit === 'ppb' ? value : value * 1_000;
  return (ppb * weight) / MOLAR_VOLUME_25C;
}

/**
 * Truncates (never rounds) to `decimals` places, as the EPA tables require. The product is first
 * cut to 12 significant digits so float noise cannot drop a value a step (4.35 × 100 is
 * 434.99999999999994 in binary floating point, which must still truncate to 4.35).
 */
export function truncate(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.floor(Number((value * scale).toPrecision(12))) / scale;
}

/** True for a number an index can use: finite and not negative. */
export function usable(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
