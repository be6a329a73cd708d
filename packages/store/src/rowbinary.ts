/**
 * A ClickHouse RowBinary encoder for the insert hot path. Binary rather than text because
 * clickhouse-server 18.16 parses some decimal floats one bit off (a stored 1.57 reads back as
 * 1.5699999999999998: 655 of 10,000 random doubles in a measurement), so only binary stores every
 * reading exactly as it came; and because it is cheaper on both sides than printing and parsing.
 */
const utf8 = new TextEncoder();
const TWO_32 = 2 ** 32;

/** Writes `length` as LEB128 (how RowBinary prefixes strings and arrays) at `at`; returns the end. */
function leb128(bytes: Uint8Array, at: number, length: number): number {
  let rest = length;
  while (rest >= 0x80) {
    bytes[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  bytes[at++] = rest;
  return at;
}

/** A String column's bytes: the LEB128 length of the UTF-8, then the UTF-8. */
function columnString(value: string): Uint8Array {
  const utf = utf8.encode(value);
  let prefix = 1;
  for (let length = utf.length; length >= 0x80; length >>>= 7) prefix++;
  const out = new Uint8Array(prefix + utf.length);
  out.set(utf, leb128(out, 0, utf.length));
  return out;
}

/** The column types `insertTyped` encodes: those of the tables whose rows carry floats. */
export type ColumnType = 'String' | 'Int64' | 'UInt64' | 'Float64' | 'Array(Int32)' | 'Array(Float64)';
/** A value of one of those columns: a string, a number, or an array of numbers. */
export type ColumnValue = string | number | readonly number[];

/** Strings up to this many UTF-8 bytes are copied byte by byte: a native copy costs more to call. */
const SHORT = 32;

export class RowBinaryWriter {
  private bytes: Uint8Array;
  private view: DataView;
  private at = 0;
  /** Each string seen, encoded once as its column bytes: LEB128 length, then UTF-8. */
  private readonly strings = new Map<string, Uint8Array>();

  constructor(initialBytes = 1 << 16) {
    this.bytes = new Uint8Array(Math.max(16, initialBytes));
    this.view = new DataView(this.bytes.buffer);
  }

  private room(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.at + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  /** A String column: LEB128 length, then UTF-8. Repeated values (sensor ids, metrics) are encoded once. */
  string(value: string): this {
    return this.encoded(this.encode(value));
  }

  /** A string's column bytes (LEB128 length, then UTF-8), for `encoded`; cached per writer. */
  encode(value: string): Uint8Array {
    let encoded = this.strings.get(value);
    if (!encoded) {
      encoded = columnString(value);
      this.strings.set(value, encoded);
    }
    return encoded;
  }

  /** A String column from `encode`'s bytes: a value repeated row after row is looked up once. */
  encoded(encoded: Uint8Array): this {
    const n = encoded.length;
    this.room(n);
    if (n <= SHORT) {
      const bytes = this.bytes;
      let at = this.at;
      for (let i = 0; i < n; i++) bytes[at++] = encoded[i] as number;
      this.at = at;
    } else {
      this.bytes.set(encoded, this.at);
      this.at += n;
    }
    return this;
  }

  /** An Int64 column from a safe integer, little-endian two's complement. */
  int64(value: number): this {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer for Int64: ${value}`);
    this.room(8);
    this.view.setUint32(this.at, value >>> 0, true);
    this.view.setInt32(this.at + 4, Math.floor(value / TWO_32), true);
    this.at += 8;
    return this;
  }

  /** A Float64 column, bit for bit. */
  float64(value: number): this {
    this.room(8);
    this.view.setFloat64(this.at, value, true);
    this.at += 8;
    return this;
  }

  /** An Int32 column, little-endian two's complement. */
  int32(value: number): this {
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31)
      throw new RangeError(`not an Int32: ${value}`);
    this.room(4);
    this.view.setInt32(this.at, value, true);
    this.at += 4;
    return this;
  }

  /** A UInt64 column from a non-negative safe integer (the same bytes as its Int64). */
  uint64(value: number): this {
    if (value < 0) throw new RangeError(`not a UInt64: ${value}`);
    return this.int64(value);
  }

  /** An Array column: its LEB128 length, then each item as `item` writes it. */
  array<T>(values: readonly T[], item: (value: T) => unknown): this {
    this.room(5);
    this.at = leb128(this.bytes, this.at, values.length);
    for (const value of values) item(value);
    return this;
  }

  /** One value of a column of `type`, as `insertTyped` declares them. */
  value(type: ColumnType, value: ColumnValue): this {
    switch (type) {
      case 'String':
        return this.string(value as string);
      case 'Int64':
        return this.int64(value as number);
      case 'UInt64':
        return this.uint64(value as number);
      case 'Float64':
        return this.float64(value as number);
      case 'Array(Int32)':
        return this.array(value as readonly number[], (item) => this.int32(item));
      case 'Array(Float64)':
        return this.array(value as readonly number[], (item) => this.float64(item));
    }
  }

  get length(): number {
    return this.at;
  }

  /** The bytes written so far (a view, valid until the next write). */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }
}
