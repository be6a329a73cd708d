import { type ColumnType, type ColumnValue, RowBinaryWriter } from './rowbinary.ts';
import type { Store } from './store.ts';
import { escapeTsv, tsvNumber } from './tsv.ts';

/** A table's inserted columns, name and type, in row order. */
export type TypedColumns = readonly (readonly [name: string, type: ColumnType])[];

function tsvValue(type: ColumnType, value: ColumnValue): string {
  if (type === 'String') return escapeTsv(value as string);
  if (type === 'Array(Int32)' || type === 'Array(Float64)')
    return `[${(value as readonly number[]).map(tsvNumber).join(',')}]`;
  return tsvNumber(value as number);
}

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
    const out = new RowBinaryWriter(rows.length * columns.length * 16);
    for (const row of rows) {
      for (let i = 0; i < columns.length; i++)
        out.value((columns[i] as TypedColumns[number])[1], row[i] as ColumnValue);
    }
    await store.insertRowBinary(table, names, out.finish());
    return;
  }
  let body = '';
  for (const row of rows)
    body += `${columns.map(([, type], i) => tsvValue(type, row[i] as ColumnValue)).join('\t')}\n`;
  await store.insertTsv(table, names, body);
}
