// Deciding what to run in a pod netns: from the wanted rule set (or none, for removal) and what is
// installed, the ordered commands for either flavour, and the drift report. Pure; apply.ts and
// check.ts read the state and run the commands.
import type { CommandStep } from './exec.ts';
import { INPOD_IPTABLES_CHAINS, type InpodIptables } from './iptables-inpod.ts';
import { diffIptables, planIptablesRestore } from './iptables-plan.ts';
import type { SavedIptables } from './iptables-save.ts';
import { diffNftTables } from './nft-diff.ts';
import type { ParsedNftTable } from './nft-parse.ts';
import { INPOD_NFT_TABLES, removeInpodNftScript, type InpodNftables } from './nftables-inpod.ts';
import type { RedirectOptions } from './options.ts';
import { diffRouting, planRouting, type InstalledRouting, type PolicyRouting } from './routing.ts';
import type { IpFamily } from './rules.ts';

export type RedirectFlavour = 'iptables' | 'nftables';

export type InpodCheck = { kind: 'ok' } | { kind: 'drift'; missing: string[]; unexpected: string[] };

export interface InstalledIptablesState {
  flavour: 'iptables';
  saved: Record<IpFamily, SavedIptables>;
  routing: InstalledRouting[];
}

export interface InstalledNftState {
  flavour: 'nftables';
  tables: ParsedNftTable[];
  routing: InstalledRouting[];
}

type RoutingOpts = Pick<RedirectOptions, 'rulePriority' | 'routeTable'>;

const RESTORE: Record<IpFamily, string> = { ipv4: 'iptables-restore', ipv6: 'ip6tables-restore' };
const FAMILIES: readonly IpFamily[] = ['ipv4', 'ipv6'];

/** Commands that make the iptables flavour match `want` (undefined: remove everything of ours). */
export function planIptablesInpod(want: InpodIptables | undefined, state: InstalledIptablesState, opts: RoutingOpts): CommandStep[] {
  const steps: CommandStep[] = [];
  for (const family of FAMILIES) {
    const restore = planIptablesRestore(want?.[family], state.saved[family], INPOD_IPTABLES_CHAINS);
    // -w: wait for the xtables lock rather than fail when another tool holds it.
    if (restore) steps.push({ argv: [RESTORE[family], '-w', '--noflush'], stdin: restore });
  }
  steps.push(...routingSteps(want?.routing, state.routing, opts));
  return steps;
}

/** Commands for the nftables flavour: one atomic script, then policy routing. */
export function planNftInpod(want: InpodNftables | undefined, state: InstalledNftState, opts: RoutingOpts): CommandStep[] {
  const steps: CommandStep[] = [];
  if (want) steps.push({ argv: ['nft', '-f', '-'], stdin: want.script });
  else if (state.tables.length) steps.push({ argv: ['nft', '-f', '-'], stdin: removeInpodNftScript() });
  steps.push(...routingSteps(want?.routing, state.routing, opts));
  return steps;
}

/** Drift of the iptables flavour: both families' tables, then policy routing. */
export function diffIptablesInpod(want: InpodIptables, state: InstalledIptablesState, opts: RoutingOpts): InpodCheck {
  const parts = FAMILIES.map((family) => diffIptables(family, want[family], state.saved[family], INPOD_IPTABLES_CHAINS));
  return verdict([...parts, ...routingDrift(want.routing, state.routing, opts)]);
}

/** Drift of the nftables flavour: our three tables, then policy routing. */
export function diffNftInpod(want: InpodNftables, state: InstalledNftState, opts: RoutingOpts): InpodCheck {
  const tables = diffNftTables(want.tables, state.tables, Object.values(INPOD_NFT_TABLES));
  return verdict([tables, ...routingDrift(want.routing, state.routing, opts)]);
}

type Drift = { missing: string[]; unexpected: string[] };

function routingDrift(want: readonly PolicyRouting[], installed: readonly InstalledRouting[], opts: RoutingOpts): Drift[] {
  return installed.map((i) => diffRouting(i, want.find((w) => w.family === i.family), opts.routeTable));
}

function verdict(parts: readonly Drift[]): InpodCheck {
  const missing = parts.flatMap((p) => p.missing);
  const unexpected = parts.flatMap((p) => p.unexpected);
  return missing.length || unexpected.length ? { kind: 'drift', missing, unexpected } : { kind: 'ok' };
}

function routingSteps(want: readonly PolicyRouting[] | undefined, installed: readonly InstalledRouting[], opts: RoutingOpts): CommandStep[] {
  return installed.flatMap((i) => planRouting(i, want?.find((w) => w.family === i.family), opts)).map((argv) => ({ argv }));
}
