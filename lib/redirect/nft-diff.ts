// Comparing our nftables tables as installed (parsed `nft list table`) with what a builder wants,
// spelled as a drift report: whole tables, chains, base-chain headers and ordered rules.
import { diffMultiset, diffSequence } from './diff.ts';
import type { ParsedNftTable } from './nft-parse.ts';
import { baseChainHeader, type NftTableSpec } from './nft-ruleset.ts';

export interface NftDrift {
  missing: string[];
  unexpected: string[];
}

/** `owned` lists every table name we may have installed, wanted or not. */
export function diffNftTables(want: readonly NftTableSpec[], installed: readonly ParsedNftTable[], owned: readonly string[]): NftDrift {
  const missing: string[] = [];
  const unexpected: string[] = [];
  for (const name of owned) {
    const w = want.find((t) => t.name === name);
    const h = installed.find((t) => t.family === 'inet' && t.name === name);
    const at = (s: string): string => `nft inet ${name}: ${s}`;
    if (!w && !h) continue;
    if (!h) {
      missing.push(at('table'));
      continue;
    }
    if (!w) {
      unexpected.push(at('table'));
      continue;
    }
    const sets = diffMultiset(
      w.sets.map((s) => `set ${s.name} ${s.type}`),
      h.sets.map((s) => `set ${s.name} ${s.type ?? ''}`),
    );
    missing.push(...sets.missing.map(at));
    unexpected.push(...sets.unexpected.map(at));
    for (const c of w.chains) {
      const hc = h.chains.find((x) => x.name === c.name);
      if (!hc) {
        missing.push(at(`chain ${c.name}`));
        continue;
      }
      const wantHeader = c.base ? baseChainHeader(c.base) : undefined;
      if (wantHeader !== hc.header) {
        if (wantHeader) missing.push(at(`chain ${c.name}: ${wantHeader}`));
        if (hc.header) unexpected.push(at(`chain ${c.name}: ${hc.header}`));
      }
      const d = diffSequence(c.rules, hc.rules);
      missing.push(...d.missing.map((r) => at(`chain ${c.name}: ${r}`)));
      unexpected.push(...d.unexpected.map((r) => at(`chain ${c.name}: ${r}`)));
      if (d.outOfOrder) unexpected.push(at(`chain ${c.name}: rules out of order`));
    }
    for (const hc of h.chains) {
      if (!w.chains.some((c) => c.name === hc.name)) unexpected.push(at(`chain ${hc.name}`));
    }
  }
  return { missing, unexpected };
}
