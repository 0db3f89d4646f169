// Installing and removing the probe SNAT rules in the node netns, and keeping the set of enrolled
// pod IPs. Same pattern as apply.ts: read, plan (host-probe.ts, iptables-plan.ts), run; the probe
// set updates also come as `…Async` twins for the node agent.
import type { CommandStep, NetnsPath } from './exec.ts';
import { buildHostProbeIptables, buildHostProbeNftables, HOST_IPTABLES_CHAINS, probeTargetSteps, removeHostProbeNftScript } from './host-probe.ts';
import type { RedirectFlavour } from './inpod-plan.ts';
import { planIptablesRestore } from './iptables-plan.ts';
import { NFT_NAT_TABLE } from './constants.ts';
import { resolveRedirectOptions, type RedirectOptionsInput } from './options.ts';
import { runAsync, runSync, steps, type Program } from './program.ts';
import { readIptablesFamily, readNftTables } from './read-state.ts';
import type { IpFamily } from './rules.ts';

const RESTORE: Record<IpFamily, string> = { ipv4: 'iptables-restore', ipv6: 'ip6tables-restore' };

function* applyHostProbe(input: RedirectOptionsInput, flavour: RedirectFlavour): Program<void> {
  const opts = resolveRedirectOptions(input);
  if (flavour === 'nftables') {
    yield { argv: ['nft', '-f', '-'], stdin: buildHostProbeNftables(opts).script };
    return;
  }
  const want = buildHostProbeIptables(opts);
  const list: CommandStep[] = want.ipsets.map((s) => ({ argv: s.create }));
  for (const family of ['ipv4', 'ipv6'] as const) {
    const saved = yield* readIptablesFamily(family, family === 'ipv6' && opts.ipv6);
    const restore = planIptablesRestore(want[family], saved, HOST_IPTABLES_CHAINS);
    if (restore) list.push({ argv: [RESTORE[family], '-w', '--noflush'], stdin: restore });
  }
  yield* steps(list);
}

function* removeHostProbe(flavour: RedirectFlavour, input: RedirectOptionsInput): Program<void> {
  const opts = resolveRedirectOptions(input);
  if (flavour === 'nftables') {
    if ((yield* readNftTables([NFT_NAT_TABLE])).length) yield { argv: ['nft', '-f', '-'], stdin: removeHostProbeNftScript() };
    return;
  }
  const list: CommandStep[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    const restore = planIptablesRestore(undefined, yield* readIptablesFamily(family, false), HOST_IPTABLES_CHAINS);
    if (restore) list.push({ argv: [RESTORE[family], '-w', '--noflush'], stdin: restore });
  }
  // Sets go last: a set still named by a rule cannot be destroyed.
  const present = (yield { argv: ['ipset', 'list', '-n'] }).split('\n').map((l) => l.trim());
  for (const name of [opts.probeSetIpv4, opts.probeSetIpv6]) {
    if (present.includes(name)) list.push({ argv: ['ipset', 'destroy', name] });
  }
  yield* steps(list);
}

/** Idempotent: sets are created if missing (members kept), our chain refilled, the jump kept single. */
export function applyHostProbeRules(netns: NetnsPath, input: RedirectOptionsInput, flavour: RedirectFlavour): void {
  runSync(netns, applyHostProbe(input, flavour));
}

/** Removes the jump, chain and sets (iptables) or the whole table (nftables); idempotent. */
export function removeHostProbeRules(netns: NetnsPath, flavour: RedirectFlavour, input: RedirectOptionsInput = {}): void {
  runSync(netns, removeHostProbe(flavour, input));
}

/** Adds enrolled pod IPs to the probe sets (the pod's probes get SNATed from now on). */
export function addProbeTargets(netns: NetnsPath, ips: readonly string[], flavour: RedirectFlavour, input: RedirectOptionsInput = {}): void {
  runSync(netns, steps(probeTargetSteps(ips, 'add', flavour, input)));
}

export function addProbeTargetsAsync(netns: NetnsPath, ips: readonly string[], flavour: RedirectFlavour, input: RedirectOptionsInput = {}): Promise<void> {
  return runAsync(netns, steps(probeTargetSteps(ips, 'add', flavour, input)));
}

/** Removes pod IPs from the probe sets; removing an absent IP is fine. */
export function removeProbeTargets(netns: NetnsPath, ips: readonly string[], flavour: RedirectFlavour, input: RedirectOptionsInput = {}): void {
  runSync(netns, steps(probeTargetSteps(ips, 'remove', flavour, input)));
}

export function removeProbeTargetsAsync(netns: NetnsPath, ips: readonly string[], flavour: RedirectFlavour, input: RedirectOptionsInput = {}): Promise<void> {
  return runAsync(netns, steps(probeTargetSteps(ips, 'remove', flavour, input)));
}
