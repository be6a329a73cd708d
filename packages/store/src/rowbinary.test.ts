import { expect, test } from 'bun:test';
import { RowBinaryWriter } from './rowbinary.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

test('RowBinary: Int64 little-endian two’s complement, Float64 bit for bit, strings with LEB128 lengths', () => {
  const out = new RowBinaryWriter(4);
  out
    .int64(1)
    .int64(-1)
    .int64(2 ** 40 + 5)
    .int64(-(2 ** 40) - 5)
    .int64(Number.MAX_SAFE_INTEGER);
  out.float64(-0).float64(1.57);
  const bytes = out.finish();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  expect([0, 8, 16, 24, 32].map((at) => view.getBigInt64(at, true))).toEqual([
    1n,
    -1n,
    2n ** 40n + 5n,
    -(2n ** 40n) - 5n,
    BigInt(Number.MAX_SAFE_INTEGER),
  ]);
  expect(Object.is(view.getFloat64(40, true), -0)).toBe(true);
  expect(view.getFloat64(48, true)).toBe(1.57);
  expect(() => out.int64(2 ** 53)).toThrow(RangeError);

  const long = 'é'.repeat(150); // 300 bytes of UTF-8: a two-byte length
  const strings = new RowBinaryWriter(1).string('').string('aq-1').string(long).string('aq-1').finish();
  expect(hex(strings.subarray(0, 6))).toBe(`00${'04'}${Buffer.from('aq-1').toString('hex')}`);
  expect(hex(strings.subarray(6, 8))).toBe('ac02'); // 300 = 0b10_0101100
  expect(Buffer.from(strings.subarray(8, 308)).toString('utf8')).toBe(long);
  expect(hex(strings.subarray(308))).toBe(`04${Buffer.from('aq-1').toString('hex')}`);
});

test('RowBinary: Int32, UInt64 and arrays (LEB128 length, then the items), and typed values', () => {
  const out = new RowBinaryWriter(2);
  out
    .int32(-2)
    .uint64(2 ** 40)
    .array([60, 1_440], (minutes) => out.int32(minutes));
  out.array(
    Array.from({ length: 130 }, (_, i) => i / 3),
    (value) => out.float64(value),
  );
  out.value('Array(Float64)', []).value('String', 'pm25').value('UInt64', 7);
  const bytes = out.finish();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  expect(view.getInt32(0, true)).toBe(-2);
  expect(view.getBigUint64(4, true)).toBe(2n ** 40n);
  expect(hex(bytes.subarray(12, 13))).toBe('02');
  expect([view.getInt32(13, true), view.getInt32(17, true)]).toEqual([60, 1_440]);
  expect(hex(bytes.subarray(21, 23))).toBe('8201'); // 130, two bytes
  expect(view.getFloat64(23 + 129 * 8, true)).toBe(129 / 3);
  const rest = 23 + 130 * 8;
  expect(hex(bytes.subarray(rest, rest + 6))).toBe(`00${'04'}${Buffer.from('pm25').toString('hex')}`);
  expect(view.getBigUint64(rest + 6, true)).toBe(7n);
  expect(bytes.length).toBe(rest + 14);
  expect(() => out.int32(2 ** 31)).toThrow(RangeError);
  expect(() => out.int32(1.5)).toThrow(RangeError);
  expect(() => out.uint64(-1)).toThrow(RangeError);
});
