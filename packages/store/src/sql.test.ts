import { describe, expect, test } from 'bun:test';
import { float64, ident, inList, int64, quoteString, SqlBindError, sql, tuple, uint64 } from './sql.ts';

describe('sql binding', () => {
  test('strings are quoted with every literal-ending character escaped', () => {
    expect(quoteString("it's")).toBe("'it\\'s'");
    expect(quoteString('a\\b')).toBe("'a\\\\b'");
    expect(quoteString('line\nnext\ttab\rcr')).toBe("'line\\nnext\\ttab\\rcr'");
    expect(quoteString("\\'; DROP TABLE readings_raw; --")).toBe("'\\\\\\'; DROP TABLE readings_raw; --'");
  });

  test('values render by type', () => {
    const at = new Date(Date.UTC(2024, 0, 1));
    expect(sql`SELECT ${'x'}, ${42}, ${-1.5}, ${10n}, ${true}, ${null}, ${at}`.text).toBe(
      `SELECT 'x', 42, (-1.5), toInt64('10'), 1, NULL, ${at.getTime()}`,
    );
    expect(sql`${[1, 2]} ${['a', "b'"]}`.text).toBe("[1, 2] ['a', 'b\\'']");
    expect(sql`${Number.NaN} ${Number.POSITIVE_INFINITY} ${Number.NEGATIVE_INFINITY}`.text).toBe(
      'nan inf -inf',
    );
    expect(sql`${int64(1_700_000_000_000)} ${uint64(7n)} ${float64(3)}`.text).toBe(
      "toInt64('1700000000000') toUInt64('7') toFloat64(3)",
    );
  });

  test('fragments nest without re-quoting', () => {
    const where = sql`sensor_id = ${'s1'}`;
    expect(sql`SELECT * FROM ${ident('readings_raw')} WHERE ${where} AND ts IN ${inList([1, 2])}`.text).toBe(
      "SELECT * FROM readings_raw WHERE sensor_id = 's1' AND ts IN (1, 2)",
    );
    expect(tuple(['a', 1]).text).toBe("('a', 1)");
  });

  test('unsafe input is refused before any SQL exists', () => {
    expect(() => ident('readings; DROP TABLE x')).toThrow(SqlBindError);
    expect(() => ident('a b')).toThrow(SqlBindError);
    expect(() => inList([])).toThrow(SqlBindError);
    expect(() => sql`${2 ** 60}`).toThrow(SqlBindError);
    expect(() => int64(1.5)).not.toThrow();
    expect(() => sql`${int64(1.5)}`).toThrow(SqlBindError);
    expect(() => sql`${uint64(-1)}`).toThrow(SqlBindError);
    expect(() => sql`${new Date('nope')}`).toThrow(SqlBindError);
    expect(() => sql`${{} as never}`).toThrow(SqlBindError);
  });
});
