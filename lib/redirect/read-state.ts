// Reading what a netns has installed: iptables-save per family, our nftables tables, and the
// policy-routing rules and routes that concern us. I/O plus the parsers; no decisions.
import { RedirectError } from './errors.ts';
import { execInNetns, type NetnsPath } from './exec.ts';
import { parseIptablesSave, type SavedIptables } from './iptables-save.ts';
import { parseNftList, parseNftTableNames, type ParsedNftTable } from './nft-parse.ts';
import type { InstalledIptablesState, InstalledNftState } from './inpod-plan.ts';
import { INPOD_NFT_TABLES } from './nftables-inpod.ts';
import type { RedirectOptions } from './options.ts';
import { parseInstalledRouting, type InstalledRouting } from './routing.ts';
import type { IpFamily } from './rules.ts';

const SAVE: Record<IpFamily, string> = { ipv4: 'iptables-save', ipv6: 'ip6tables-save' };

export function readIptables(netns: NetnsPath, family: IpFamily): SavedIptables {
  return parseIptablesSave(execInNetns(netns, [SAVE[family]]));
}

/**
 * Like readIptables, but an unusable ip6tables (no IPv6 in the kernel, no binary) reads as
 * "nothing installed" unless IPv6 is wanted, in which case the failure is the answer.
 */
export function readIptablesFamily(netns: NetnsPath, family: IpFamily, required: boolean): SavedIptables {
  if (family === 'ipv4' || required) return readIptables(netns, family);
  try {
    return readIptables(netns, family);
  } catch (err) {
    if (err instanceof RedirectError && (err.code === 'COMMAND_FAILED' || err.code === 'SPAWN_FAILED')) return new Map();
    throw err;
  }
}

/** Our inet tables among `names` that exist, parsed. */
export function readNftTables(netns: NetnsPath, names: readonly string[]): ParsedNftTable[] {
  const present = parseNftTableNames(execInNetns(netns, ['nft', 'list', 'tables']));
  const out: ParsedNftTable[] = [];
  for (const name of names) {
    if (!present.includes(`inet ${name}`)) continue;
    out.push(...parseNftList(execInNetns(netns, ['nft', 'list', 'table', 'inet', name])));
  }
  return out;
}

/** Our ip rules and table routes; for IPv6, a kernel without it reads as empty unless required. */
export function readRouting(netns: NetnsPath, family: IpFamily, opts: Pick<RedirectOptions, 'rulePriority' | 'routeTable'>, required: boolean): InstalledRouting {
  const f = family === 'ipv4' ? '-4' : '-6';
  try {
    const rules = execInNetns(netns, ['ip', '-j', f, 'rule', 'show']);
    // `table all`, filtered while parsing: asking for table 100 alone fails until it has a route.
    const routes = execInNetns(netns, ['ip', '-j', f, 'route', 'show', 'table', 'all']);
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
export function readIptablesState(netns: NetnsPath, opts: RedirectOptions, v6Required = opts.ipv6): InstalledIptablesState {
  return {
    flavour: 'iptables',
    saved: { ipv4: readIptablesFamily(netns, 'ipv4', true), ipv6: readIptablesFamily(netns, 'ipv6', v6Required) },
    routing: [readRouting(netns, 'ipv4', opts, true), readRouting(netns, 'ipv6', opts, v6Required)],
  };
}

export function readNftState(netns: NetnsPath, opts: RedirectOptions, v6Required = opts.ipv6): InstalledNftState {
  return {
    flavour: 'nftables',
    tables: readNftTables(netns, Object.values(INPOD_NFT_TABLES)),
    routing: [readRouting(netns, 'ipv4', opts, true), readRouting(netns, 'ipv6', opts, v6Required)],
  };
}
