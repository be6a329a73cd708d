import { type ColumnType, type ColumnValue, RowBinaryWriter } from './rowbinary.ts';
import type { Store } from './store.ts';
import { encodeTsv, tsvNumber } from './tsv.ts';

/** A table's inserted columns, name and type, in row order. */
export type TypedColumns = readonly (readonly [name: string, type: ColumnType])[];

/** An array as a ClickHouse literal inside a TSV field: numbers only, so nothing to escape. */
const arrayLiteral = (values: readonly number[]) => `[${values.map(tsvNumber).join(',')}]`;

/**
 * Inserts rows of declared column types so their floats are stored bit for bit: as RowBinary where
 * the store takes it (clickhouse-server 18.16 parses some floats in text one ulp off), else as TSV
 * (chDB parses text exactly). Rows hold one value per column, in `columns` order.
 */
export async function insertTyped(
  store: Store,
  table: string,
  columns: TypedColumns,
  rows: readonly (readonly ColumnValue[])[],
): Promise<void> {
  if (rows.length === 0) return;
  for (const row of rows) {
    if (row.length !== columns.length)
      throw new RangeError(`${table}: a row of ${row.length} values for ${columns.length} columns`);
  }
  const names = columns.map(([name]) => name);
  if (store.insertRowBinary) {
    const types = columns.map(([, type]) => type);
    const out = new RowBinaryWriter(rows.length * columns.length * 16);
    for (const row of rows) for (const [i, type] of types.entries()) out.value(type, row[i] as ColumnValue);
    await store.insertRowBinary(table, names, out.finish());
    return;
  }
  const text = rows.map((row) =>
    row.map((value) => (typeof value === 'object' ? arrayLiteral(value) : value)),
  );
  await store.insertTsv(table, names, encodeTsv(text));
}
