// Reading what a netns has installed: iptables-save per family, our nftables tables, and the
// policy-routing rules and routes that concern us. Commands plus the parsers, as programs (see
// program.ts); no decisions.
import { RedirectError } from './errors.ts';
import { parseIptablesSave, type SavedIptables } from './iptables-save.ts';
import { parseNftList, parseNftTableNames, type ParsedNftTable } from './nft-parse.ts';
import type { InstalledIptablesState, InstalledNftState } from './inpod-plan.ts';
import { INPOD_NFT_TABLES } from './nftables-inpod.ts';
import type { RedirectOptions } from './options.ts';
import type { Program } from './program.ts';
import { parseInstalledRouting, type InstalledRouting } from './routing.ts';
import type { IpFamily } from './rules.ts';

const SAVE: Record<IpFamily, string> = { ipv4: 'iptables-save', ipv6: 'ip6tables-save' };

export function* readIptables(family: IpFamily): Program<SavedIptables> {
  return parseIptablesSave(yield { argv: [SAVE[family]] });
}

/**
 * Like readIptables, but an unusable ip6tables (no IPv6 in the kernel, no binary) reads as
 * "nothing installed" unless IPv6 is wanted, in which case the failure is the answer.
 */
export function* readIptablesFamily(family: IpFamily, required: boolean): Program<SavedIptables> {
  if (family === 'ipv4' || required) return yield* readIptables(family);
  try {
    return yield* readIptables(family);
  } catch (err) {
    if (err instanceof RedirectError && (err.code === 'COMMAND_FAILED' || err.code === 'SPAWN_FAILED')) return new Map();
    throw err;
  }
}

/** Our inet tables among `names` that exist, parsed. */
export function* readNftTables(names: readonly string[]): Program<ParsedNftTable[]> {
  const present = parseNftTableNames(yield { argv: ['nft', 'list', 'tables'] });
  const out: ParsedNftTable[] = [];
  for (const name of names) {
    if (!present.includes(`inet ${name}`)) continue;
    out.push(...parseNftList(yield { argv: ['nft', 'list', 'table', 'inet', name] }));
  }
  return out;
}

/** Our ip rules and table routes; for IPv6, a kernel without it reads as empty unless required. */
export function* readRouting(family: IpFamily, opts: Pick<RedirectOptions, 'rulePriority' | 'routeTable'>, required: boolean): Program<InstalledRouting> {
  const f = family === 'ipv4' ? '-4' : '-6';
  try {
    const rules = yield { argv: ['ip', '-j', f, 'rule', 'show'] };
    // `table all`, filtered while parsing: asking for table 100 alone fails until it has a route.
    const routes = yield { argv: ['ip', '-j', f, 'route', 'show', 'table', 'all'] };
    return parseInstalledRouting(family, rules, routes, opts);
  } catch (err) {
    if (!required && family === 'ipv6' && err instanceof RedirectError && err.code === 'COMMAND_FAILED') {
      return { family, rules: [], routes: [] };
    }
    throw err;
  }
}

/**
 * Both families are always read, so IPv6 leftovers are seen when IPv6 is no longer wanted; an
 * unusable IPv6 stack is only an error when IPv6 is wanted.
 */
export function* readIptablesState(opts: RedirectOptions, v6Required = opts.ipv6): Program<InstalledIptablesState> {
  const ipv4 = yield* readIptablesFamily('ipv4', true);
  const ipv6 = yield* readIptablesFamily('ipv6', v6Required);
  const routing4 = yield* readRouting('ipv4', opts, true);
  const routing6 = yield* readRouting('ipv6', opts, v6Required);
  return { flavour: 'iptables', saved: { ipv4, ipv6 }, routing: [routing4, routing6] };
}

export function* readNftState(opts: RedirectOptions, v6Required = opts.ipv6): Program<InstalledNftState> {
  const tables = yield* readNftTables(Object.values(INPOD_NFT_TABLES));
  const routing4 = yield* readRouting('ipv4', opts, true);
  const routing6 = yield* readRouting('ipv6', opts, v6Required);
  return { flavour: 'nftables', tables, routing: [routing4, routing6] };
}
