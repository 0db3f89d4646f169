// Weighted choice (pure): Envoy's weighted_clusters / tcp_proxy weighted clusters pick one entry
// with probability weight/total. The random source is injected so tests are deterministic.

export type Random = () => number;

/** One of `items` by weight; zero-weight entries are never picked unless all weights are zero. */
export function weightedPick<T extends { readonly weight: number }>(items: readonly T[], random: Random = Math.random): T | undefined {
  if (items.length <= 1) return items[0];
  let total = 0;
  for (const it of items) total += Math.max(0, it.weight);
  if (total <= 0) return items[Math.floor(random() * items.length) % items.length];
  let r = random() * total;
  for (const it of items) {
    const w = Math.max(0, it.weight);
    if (r < w) return it;
    r -= w;
  }
  // Floating-point edge (random() * total rounding up): the last entry with weight.
  for (let i = items.length - 1; i >= 0; i--) if (items[i]!.weight > 0) return items[i];
  return items[items.length - 1];
}
