let last = 0;

/**
 * A row version for ReplacingMergeTree: microseconds since the epoch, strictly increasing within
 * the process, so a later write always wins on reads with FINAL.
 */
export function nextVersion(): number {
  last = Math.max(Date.now() * 1_000, last + 1);
  return last;
}
