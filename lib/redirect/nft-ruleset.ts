// The shape every nftables builder produces (in-pod and host): inet tables with optional sets, base
// chains that jump to regular chains, and rule text; plus rendering a table as an `nft -f` block.
export type NftHook = 'prerouting' | 'output' | 'postrouting';

export interface NftBaseChain {
  type: 'nat' | 'filter' | 'route';
  hook: NftHook;
  /** Numeric: the named priorities (dstnat, mangle, ...) are only valid on some hooks. */
  priority: number;
}

export interface NftChainSpec {
  name: string;
  base?: NftBaseChain;
  rules: string[];
}

export interface NftSetSpec {
  name: string;
  type: 'ipv4_addr' | 'ipv6_addr';
}

export interface NftTableSpec {
  family: 'inet';
  name: string;
  sets: NftSetSpec[];
  chains: NftChainSpec[];
}

/** The priorities nft may print by name, as numbers (ip/ip6/inet families). */
export const NFT_PRIORITY: Readonly<Record<string, number>> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};

/** A base chain's header line, in the normalised form the drift check compares. */
export function baseChainHeader(b: NftBaseChain): string {
  return `type ${b.type} hook ${b.hook} priority ${b.priority}; policy accept;`;
}

/** `table inet <name> { ... }` as nft -f reads it (and close to how nft list prints it). */
export function renderNftTable(t: NftTableSpec): string {
  const out: string[] = [`table ${t.family} ${t.name} {`];
  for (const s of t.sets) out.push(`\tset ${s.name} {`, `\t\ttype ${s.type}`, '\t}');
  for (const c of t.chains) {
    out.push(`\tchain ${c.name} {`);
    if (c.base) out.push(`\t\t${baseChainHeader(c.base)}`);
    for (const r of c.rules) out.push(`\t\t${r}`);
    out.push('\t}');
  }
  out.push('}');
  return out.join('\n');
}

/**
 * Script lines that delete a table whether or not it exists: `add` is a no-op on an existing
 * table, and both run in the same nft transaction as whatever follows them.
 */
export function dropTableLines(family: string, name: string): string[] {
  return [`add table ${family} ${name}`, `delete table ${family} ${name}`];
}
