/** Litres per mole of an ideal gas at 25 °C and 1 atm: the convention air-quality agencies (EPA, WHO) use. */
export const MOLAR_VOLUME_25C = 24.45;

/** g/mol of the gases the catalogue keeps in µg/m³. */
export const MOLAR_MASS: Readonly<Record<string, number>> = {
  no2: 46.0055,
  so2: 64.066,
  co: 28.0101,
  o3: 47.9982,
};

/** Mixing ratio in ppb → mass concentration in µg/m³ at 25 °C: µg/m³ = ppb × M / 24.45. */
export function ppbToMicrograms(ppb: number, molarMass: number): number {
  return (ppb * molarMass) / MOLAR_VOLUME_25C;
}

/** Mixing ratio in ppm → µg/m³ at 25 °C (1 ppm = 1,000 ppb). */
export function ppmToMicrograms(ppm: number, molarMass: number): number {
  return ppbToMicrograms(ppm * 1_000, molarMass);
}
