import { type BreakpointTable, categoryOf, type IndexRanges, readTable } from './bands.ts';
import type {
  Averaging,
  Category,
  Concentrations,
  HourlySeries,
  Pollutant,
  StandardId,
  SubIndex,
  TableUnit,
} from './types.ts';
import { fromMicrograms, truncate, usable } from './units.ts';

/** One pollutant and averaging period's table, with the unit it is written in. */
export interface PollutantTable extends BreakpointTable {
  pollutant: Pollutant;
  averaging: Averaging;
  unit: TableUnit;
}

/** An index: its categories, tables and the rules that combine them. */
export interface Standard {
  id: StandardId;
  name: string;
  categories: readonly Category[];
  /** Index range of each category, aligned with every table's rows. */
  indexRanges: IndexRanges;
  tables: readonly PollutantTable[];
  /** Pollutants the index normally covers; those without data are listed as `missing`. */
  expected: readonly Pollutant[];
  /** How many hourly means `fromHourly` looks at. */
  hoursNeeded: number;
  /** Every sub-index the concentrations yield (at most one per pollutant). */
  subIndices(concentrations: Concentrations): SubIndex[];
  /** Whether the sub-indices make a valid overall index (India asks for three, one of them PM). */
  accepts(subIndices: readonly SubIndex[]): boolean;
  /** The averages the index is defined on, from hourly means (newest first). */
  fromHourly(hourly: HourlySeries): Concentrations;
}

/** Finds a standard's table, or throws: a missing table is a bug in the standard's definition. */
export function tableOf(
  standard: Pick<Standard, 'tables' | 'id'>,
  pollutant: Pollutant,
  averaging: Averaging,
) {
  const table = standard.tables.find((t) => t.pollutant === pollutant && t.averaging === averaging);
  if (!table) throw new Error(`${standard.id} has no ${pollutant} ${averaging} table`);
  return table;
}

/** How a standard picks a sub-index's category: by index value (EPA, CPCB) or by table row (CAQI). */
export type CategoryRule = 'by-index' | 'by-row';

/** What reading one pollutant's table gave, before the standard's own rules. */
export type Reading =
  | { kind: 'index'; sub: SubIndex }
  | { kind: 'blank'; where: 'below' | 'above'; concentration: number }
  | { kind: 'missing' };

/**
 * Converts, truncates and reads one table. `cap` limits the index (India's scale ends at 500);
 * an index that was capped or extended beyond the published rows is marked `extrapolated`.
 */
export function readPollutant(
  standard: Pick<Standard, 'categories' | 'indexRanges'>,
  table: PollutantTable,
  input: number | null | undefined,
  rule: CategoryRule,
  cap?: number,
): Reading {
  if (!usable(input)) return { kind: 'missing' };
  const converted = fromMicrograms(table.pollutant, input, table.unit);
  const concentration = table.decimals === null ? converted : truncate(converted, table.decimals);
  const reading = readTable(table, standard.indexRanges, concentration);
  if (reading.kind === 'blank') return { kind: 'blank', where: reading.where, concentration };
  const capped = cap !== undefined && reading.index > cap;
  const index = capped ? cap : reading.index;
  const category =
    rule === 'by-row'
      ? (standard.categories[reading.row] ?? categoryOf(standard.categories, index))
      : categoryOf(standard.categories, index);
  return {
    kind: 'index',
    sub: {
      pollutant: table.pollutant,
      averaging: table.averaging,
      input,
      concentration,
      unit: table.unit,
      index,
      category,
      extrapolated: reading.extrapolated || capped,
    },
  };
}
