import type { Category } from './types.ts';

/** A concentration range `[lo, hi]`; `hi` is `null` only for an open-ended top band. */
export type Range = readonly [lo: number, hi: number | null];

/**
 * A breakpoint table: one row per category of the standard (same order), `null` where the table
 * has a blank (e.g. EPA 1-hour ozone below 101). Concentrations are in `unit` and truncated to
 * `decimals` places before the table is read (`null`: the standard sets no truncation).
 */
export interface BreakpointTable {
  rows: readonly (Range | null)[];
  decimals: number | null;
}

/** Index range of each category, aligned with a table's rows. */
export type IndexRanges = readonly Range[];

/** What reading a table gave. */
export type TableReading =
  | { kind: 'index'; index: number; row: number; extrapolated: boolean }
  /** The value falls where the table is blank (below its first row or above its last one). */
  | { kind: 'blank'; where: 'below' | 'above' };

/**
 * Linear interpolation within the row containing `c` (EPA Equation 1), rounded to an integer.
 * A row is chosen by its upper bound, so both gapped tables (9.0 | 9.1, read after truncation) and
 * continuous ones (CAQI's 50 | 50, where the boundary belongs to the lower row) work. Above the
 * last row the index is extrapolated along it (`extrapolated`); the caller may cap it.
 */
export function readTable(table: BreakpointTable, indices: IndexRanges, c: number): TableReading {
  const first = table.rows.findIndex((row) => row !== null);
  const last = table.rows.length - 1;
  for (let k = first; k <= last; k++) {
    const row = table.rows[k];
    if (!row) return { kind: 'blank', where: 'above' };
    const [lo, hi] = row;
    if (k === first && c < lo) return { kind: 'blank', where: 'below' };
    if (hi !== null && c > hi && k < last) continue;
    // An open-ended row (CAQI's "> 100") continues the slope of the row below it.
    const [slopeLo, slopeHi] = hi === null ? (table.rows[k - 1] ?? [0, null]) : row;
    const [iSlopeLo, iSlopeHi] = (hi === null ? indices[k - 1] : indices[k]) ?? [0, null];
    if (slopeHi === null || iSlopeHi === null)
      throw new Error('an open-ended row needs a closed row below it');
    const slope = (iSlopeHi - iSlopeLo) / (slopeHi - slopeLo);
    const iLo = indices[k]?.[0] ?? 0;
    return {
      kind: 'index',
      index: Math.round(iLo + slope * (c - lo)),
      row: k,
      extrapolated: hi === null ? c > lo : c > hi,
    };
  }
  return { kind: 'blank', where: 'above' };
}

/** The category whose index range holds `index` (the last one for anything above the scale). */
export function categoryOf(categories: readonly Category[], index: number): Category {
  const found = categories.find((category) => category.max === null || index <= category.max);
  const last = categories[categories.length - 1];
  if (!found && !last) throw new Error('a standard needs categories');
  return (found ?? last) as Category;
}
