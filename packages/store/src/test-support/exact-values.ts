/**
 * Doubles that text round trips get wrong: full-precision values over 16 orders of magnitude,
 * two-decimal readings (18.16 misreads ~0.1% of them), and the extremes. Deterministic for a seed.
 */
export function hardDoubles(count: number, seed = 42): number[] {
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
  // All 53 bits of the mantissa drawn: 18.16 misread 22 of 10,006 of these values sent as text.
  const full = () => (Math.floor(random() * 2 ** 21) * 2 ** 32 + Math.floor(random() * 2 ** 32)) / 2 ** 53;
  const half = Math.floor(count / 2);
  return [
    ...Array.from({ length: half }, () => (full() - 0.5) * 10 ** Math.floor(random() * 12 - 4)),
    ...Array.from({ length: count - half }, (_, i) => Math.round(random() * 100_000) / 100 + (i % 7) / 100),
    1.57,
    0.1,
    -0,
    5e-324,
    1.7976931348623157e308,
    -123456.789e-7,
  ];
}

/** A double's bytes as ClickHouse's `hex(reinterpretAsString(x))` prints them, zero-padded to 8. */
export function bitsOf(value: number): string {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

/**
 * The stored bits of a Float64 as text, so neither JSON nor number printing can round them (18.16
 * cannot reinterpret a Float64 as an integer; as a string it drops trailing zero bytes: pad them).
 */
export const storedBits = (hex: string) => hex.padEnd(16, '0');
