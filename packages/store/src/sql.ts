/**
 * The one place values meet SQL text. Debian's ClickHouse 18.16 rejects server-side parameters
 * ("Unknown setting param_…"), so values are rendered as ClickHouse literals here, by type, with
 * every character that could end a string literal escaped. Callers never build SQL with string
 * concatenation: they write sql`… ${value} …` and get a finished statement for either backend.
 */

const SQL_BRAND: unique symbol = Symbol('sensormesh.sql');

/** A finished SQL statement or fragment, safe to embed in another sql`` template. */
export interface Sql {
  readonly [SQL_BRAND]: true;
  readonly text: string;
}

/** A value with an explicit ClickHouse type, for where the JS type is not enough. */
class TypedValue {
  constructor(
    readonly type: 'Int64' | 'UInt64' | 'Float64',
    readonly value: number | bigint,
  ) {}
}

/** Values a template may interpolate. Arrays render as ClickHouse arrays. */
export type SqlValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Date
  | Sql
  | TypedValue
  | readonly SqlValue[];

/** Thrown when a value cannot be bound safely; nothing reaches the server. */
export class SqlBindError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqlBindError';
  }
}

function fragment(text: string): Sql {
  return { [SQL_BRAND]: true, text };
}

function isSql(value: unknown): value is Sql {
  return typeof value === 'object' && value !== null && SQL_BRAND in value;
}

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

/** Renders a string as a single-quoted ClickHouse literal. */
export function quoteString(value: string): string {
  return `'${value.replace(/[\\'\n\r\t\0\b\f]/g, (char) => ESCAPES[char] ?? char)}'`;
}

function renderNumber(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (Number.isInteger(value)) {
    if (!Number.isSafeInteger(value))
      throw new SqlBindError(`integer ${value} is beyond 2^53; pass a bigint`);
    return String(value);
  }
  // Shortest round-trip form; parenthesised so a negative value cannot merge with a preceding minus.
  return value < 0 ? `(${value})` : String(value);
}

function renderTyped({ type, value }: TypedValue): string {
  if (typeof value === 'number' && !Number.isFinite(value) && type !== 'Float64') {
    throw new SqlBindError(`${type} cannot hold ${value}`);
  }
  if (type === 'Float64') return `toFloat64(${renderNumber(Number(value))})`;
  const integer = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
  if (typeof value === 'number' && !Number.isInteger(value))
    throw new SqlBindError(`${type} needs an integer, got ${value}`);
  if (type === 'UInt64' && integer < 0n) throw new SqlBindError(`UInt64 cannot hold ${integer}`);
  return `to${type}('${integer}')`;
}

/** Renders one value as a ClickHouse literal. */
export function renderValue(value: SqlValue): string {
  if (isSql(value)) return value.text;
  if (value instanceof TypedValue) return renderTyped(value);
  if (value === null) return 'NULL';
  if (Array.isArray(value)) return `[${value.map(renderValue).join(', ')}]`;
  switch (typeof value) {
    case 'string':
      return quoteString(value);
    case 'number':
      return renderNumber(value);
    case 'bigint':
      return `toInt64('${value}')`;
    case 'boolean':
      return value ? '1' : '0';
    default:
      if (value instanceof Date) {
        const ms = value.getTime();
        if (Number.isNaN(ms)) throw new SqlBindError('invalid Date');
        return String(ms); // time is UTC epoch milliseconds everywhere
      }
      throw new SqlBindError(`cannot bind a value of type ${typeof value}`);
  }
}

/** Tagged template: sql`SELECT … WHERE sensor_id = ${id}` binds every value as a typed literal. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): Sql {
  let text = strings[0] ?? '';
  values.forEach((value, index) => {
    text += renderValue(value) + (strings[index + 1] ?? '');
  });
  return fragment(text);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** A table, database or column name; only plain identifiers pass, never user text. */
export function ident(name: string): Sql {
  if (!IDENTIFIER.test(name)) throw new SqlBindError(`not a plain identifier: ${JSON.stringify(name)}`);
  return fragment(name);
}

/** Joins fragments with a separator (e.g. conditions with ' AND '). */
export function join(parts: readonly Sql[], separator: ', ' | ' AND ' | ' OR ' | '\n'): Sql {
  return fragment(parts.map((part) => part.text).join(separator));
}

/** A parenthesised list for IN: sql`x IN ${inList(ids)}`; an empty list is refused. */
export function inList(values: readonly SqlValue[]): Sql {
  if (values.length === 0) throw new SqlBindError('IN list is empty');
  return fragment(`(${values.map(renderValue).join(', ')})`);
}

/** A tuple literal, e.g. for (sensor_id, metric, ts) IN (…). */
export function tuple(values: readonly SqlValue[]): Sql {
  return fragment(`(${values.map(renderValue).join(', ')})`);
}

/** An Int64 value (ClickHouse Int64, e.g. epoch ms beyond 2^31). */
export const int64 = (value: number | bigint) => new TypedValue('Int64', value);
/** A UInt64 value. */
export const uint64 = (value: number | bigint) => new TypedValue('UInt64', value);
/** A Float64 value, even when the JS number happens to be an integer. */
export const float64 = (value: number) => new TypedValue('Float64', value);

/** Raw SQL from a trusted constant (migration files, code); never pass user input. */
export function trusted(text: string): Sql {
  return fragment(text);
}
