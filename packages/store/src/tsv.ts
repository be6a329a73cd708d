/** Values a TSV insert row may hold, matched to the table's column types by position. */
export type TsvValue = string | number | bigint | boolean | null;

const TSV_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};
const TSV_SPECIAL = /[\\\t\n\r\0\b\f]/g;
const HAS_TSV_SPECIAL = /[\\\t\n\r\0\b\f]/;

/** Escapes one string field for TabSeparated; most fields need nothing and are returned as they are. */
export function escapeTsv(value: string): string {
  return HAS_TSV_SPECIAL.test(value)
    ? value.replace(TSV_SPECIAL, (char) => TSV_ESCAPES[char] ?? char)
    : value;
}

/**
 * A number as ClickHouse reads it back as the same double: String() is the shortest exact form,
 * except that it prints a negative zero as "0", and NaN and the infinities have names of their own.
 */
export function tsvNumber(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  return value === 0 && 1 / value < 0 ? '-0' : String(value);
}

function tsvField(value: TsvValue): string {
  switch (typeof value) {
    case 'string':
      return escapeTsv(value);
    case 'number':
      return tsvNumber(value);
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? '1' : '0';
    default:
      return '\\N';
  }
}

/**
 * Encodes rows as ClickHouse TabSeparated text. Both backends parse it natively, and it is about
 * twice as fast as JSONEachRow from JS objects (DESIGN.md, Pitfalls).
 */
export function encodeTsv(rows: readonly (readonly TsvValue[])[]): string {
  let out = '';
  for (const row of rows) {
    for (let index = 0; index < row.length; index++) {
      if (index > 0) out += '\t';
      out += tsvField(row[index] as TsvValue);
    }
    out += '\n';
  }
  return out;
}
