// Comparing wanted and installed state as lists of text lines: what is missing, what is extra, and
// whether an ordered list (a chain's rules) came out in another order. Shared by every drift check.

/** Counted difference of two lists: what `want` has more of, and what `have` has more of. */
export function diffMultiset(want: readonly string[], have: readonly string[]): { missing: string[]; unexpected: string[] } {
  const counts = new Map<string, number>();
  for (const h of have) counts.set(h, (counts.get(h) ?? 0) + 1);
  const missing: string[] = [];
  for (const x of want) {
    const n = counts.get(x) ?? 0;
    if (n > 0) counts.set(x, n - 1);
    else missing.push(x);
  }
  const unexpected = have.filter((h) => {
    const n = counts.get(h) ?? 0;
    if (n === 0) return false;
    counts.set(h, n - 1);
    return true;
  });
  return { missing, unexpected };
}

/**
 * Ordered comparison of one chain: the counted difference, plus an `order` flag when both hold
 * the same lines in another order (the first match wins in netfilter, so order is behaviour).
 */
export function diffSequence(want: readonly string[], have: readonly string[]): { missing: string[]; unexpected: string[]; outOfOrder: boolean } {
  const d = diffMultiset(want, have);
  const outOfOrder = d.missing.length === 0 && d.unexpected.length === 0 && want.some((w, i) => have[i] !== w);
  return { ...d, outOfOrder };
}
