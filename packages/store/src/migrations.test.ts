import { expect, test } from 'bun:test';
import { splitStatements } from './migrations.ts';

test('statements split on top-level semicolons only', () => {
  const text = `
    -- a comment; with a semicolon
    CREATE TABLE a (s String DEFAULT 'x;y') ENGINE = Memory;
    SELECT 'it\\'s; fine', "q;q";
    -- trailing comment only
  `;
  expect(splitStatements(text)).toEqual([
    "-- a comment; with a semicolon\n    CREATE TABLE a (s String DEFAULT 'x;y') ENGINE = Memory",
    `SELECT 'it\\'s; fine', "q;q"`,
  ]);
});
