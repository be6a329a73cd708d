/** A seeded uniform [0, 1) generator (a linear congruential one): randomised tests that replay exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}
