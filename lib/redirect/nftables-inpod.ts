// The nftables flavour of the in-pod rules (fact sheet §2.4): inet tables istio-ambient-nat,
// -mangle and (with DNS capture) -raw, each with prerouting/output base chains jumping to
// istio-prerouting/istio-output, and the same policy routing as the iptables flavour.
import { NFT_MANGLE_TABLE, NFT_NAT_TABLE, NFT_OUTPUT_CHAIN, NFT_PRERT_CHAIN, NFT_RAW_TABLE } from './constants.ts';
import { renderNftRule } from './nft-rule.ts';
import { dropTableLines, NFT_PRIORITY, renderNftTable, type NftBaseChain, type NftTableSpec } from './nft-ruleset.ts';
import { resolveRedirectOptions, type RedirectOptions, type RedirectOptionsInput } from './options.ts';
import { buildInpodRouting, type PolicyRouting } from './routing.ts';
import { inpodTables, planInpodRules, type InpodHook, type InpodRule, type InpodTable } from './rules.ts';

export interface InpodNftables {
  /**
   * `nft -f` input: drops all three of our tables (present or not) and defines the wanted ones,
   * in one transaction, so applying it again yields the same ruleset.
   */
  script: string;
  tables: NftTableSpec[];
  routing: PolicyRouting[];
}

export const INPOD_NFT_TABLES: Readonly<Record<InpodTable, string>> = {
  nat: NFT_NAT_TABLE,
  mangle: NFT_MANGLE_TABLE,
  raw: NFT_RAW_TABLE,
};

const REGULAR: Record<InpodHook, string> = { prerouting: NFT_PRERT_CHAIN, output: NFT_OUTPUT_CHAIN };

// Hook types and priorities per table: the route type on mangle output is what makes the kernel
// re-route a packet whose mark changed (the restored tproxy mark must reach the ip rule).
const BASE: Record<InpodTable, Record<InpodHook, NftBaseChain>> = {
  nat: {
    prerouting: { type: 'nat', hook: 'prerouting', priority: NFT_PRIORITY['dstnat']! },
    output: { type: 'nat', hook: 'output', priority: NFT_PRIORITY['dstnat']! },
  },
  mangle: {
    prerouting: { type: 'filter', hook: 'prerouting', priority: NFT_PRIORITY['mangle']! },
    output: { type: 'route', hook: 'output', priority: NFT_PRIORITY['mangle']! },
  },
  raw: {
    prerouting: { type: 'filter', hook: 'prerouting', priority: NFT_PRIORITY['raw']! },
    output: { type: 'filter', hook: 'output', priority: NFT_PRIORITY['raw']! },
  },
};

export function buildInpodNftables(input: RedirectOptionsInput = {}): InpodNftables {
  const opts = resolveRedirectOptions(input);
  const rules = planInpodRules(opts);
  const tables = inpodTables(opts).map((t) => tableSpec(t, rules, opts));
  const lines: string[] = [];
  for (const name of Object.values(INPOD_NFT_TABLES)) lines.push(...dropTableLines('inet', name));
  for (const t of tables) lines.push(renderNftTable(t));
  return { script: `${lines.join('\n')}\n`, tables, routing: buildInpodRouting(opts) };
}

/** `nft -f` input that removes every in-pod table, whether present or not. */
export function removeInpodNftScript(): string {
  return `${Object.values(INPOD_NFT_TABLES).flatMap((n) => dropTableLines('inet', n)).join('\n')}\n`;
}

function tableSpec(table: InpodTable, all: readonly InpodRule[], opts: RedirectOptions): NftTableSpec {
  const hooks: InpodHook[] = ['prerouting', 'output'];
  return {
    family: 'inet',
    name: INPOD_NFT_TABLES[table],
    sets: [],
    chains: [
      ...hooks.map((h) => ({ name: h, base: { ...BASE[table][h] }, rules: [`jump ${REGULAR[h]}`] })),
      ...hooks.map((h) => ({
        name: REGULAR[h],
        rules: all.filter((r) => r.table === table && r.hook === h).map((r) => renderNftRule(r, opts.ipv6)),
      })),
    ],
  };
}
