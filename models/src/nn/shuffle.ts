/**
 * Shuffles `order` in place (Fisher–Yates), one `random()` call per position from the end, so a
 * seeded generator gives every trainer the same epoch orders for the same seed.
 */
export function shuffle(order: Int32Array, random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
}
