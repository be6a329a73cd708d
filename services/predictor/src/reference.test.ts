import { expect, test } from 'bun:test';
import { MedianTable, medianExcluding } from './reference.ts';

/** The training code's definition: sort the others and take the middle. */
function naive(values: number[], skipIndex: number): number {
  const others = values.filter((_, i) => i !== skipIndex).sort((a, b) => a - b);
  if (others.length < 2) return Number.NaN;
  const mid = others.length >> 1;
  return others.length % 2
    ? (others[mid] as number)
    : ((others[mid - 1] as number) + (others[mid] as number)) / 2;
}

test('the median without one sensor equals sorting the others, ties and short columns included', () => {
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let trial = 0; trial < 2_000; trial++) {
    const n = 1 + Math.floor(random() * 9);
    // Few distinct values, so ties are common.
    const values = Array.from({ length: n }, () => Math.floor(random() * 5));
    const sorted = Float64Array.from(values).sort();
    const skip = Math.floor(random() * n);
    expect(medianExcluding(sorted, values[skip] as number)).toEqual(naive(values, skip));
    expect(medianExcluding(sorted, Number.NaN)).toEqual(naive(values, -1));
    // The precomputed table is bit-equal to the direct form, for every member and for none.
    const table = new MedianTable([sorted]);
    expect(table.get(0, values[skip] as number)).toEqual(naive(values, skip));
    expect(table.get(0, Number.NaN)).toEqual(naive(values, -1));
  }
});
