// Installing the kube-proxy stand-in's rule set (rules.ts) in a node netns, and removing it. One
// `iptables-restore --noflush` transaction replaces our chains and deletes those no longer wanted;
// the jumps from the built-in chains (HOOKS) are then checked and inserted once. Synchronous: each
// call is a few short commands, and the caller serialises them.
import { existsSync } from 'node:fs';
import { CommandError, inNetns, run, type RunResult } from '../exec.ts';
import { HOOKS, ourChains, withStaleChainsDeleted, type HookRule } from './rules.ts';

export class KubeProxyRulesError extends Error {
  readonly code = 'LAB_KUBE_PROXY_RULES';
  readonly netns: string;
  readonly command: string[];
  readonly stderr: string;
  constructor(netns: string, command: string[], stderr: string, message?: string) {
    super(message ?? `netns ${netns}: ${command.join(' ')} failed: ${stderr.trim().slice(0, 2000)}`);
    this.netns = netns;
    this.command = command;
    this.stderr = stderr;
  }
}

/** Seconds to wait for the xtables lock (iptables-legacy; ignored by iptables-nft). */
const LOCK_WAIT = ['-w', '5'];
/** A hook duplicated by hand or by an older run is deleted at most this many times. */
const MAX_HOOK_COPIES = 16;

/**
 * Installs `text` (buildServiceRules output) in the netns, replacing whatever of ours was there.
 * Also turns ICMP redirects off in the netns (see disableRedirects).
 */
export function applyRules(netnsName: string, text: string): void {
  requireNetns(netnsName);
  disableRedirects(netnsName);
  const full = withStaleChainsDeleted(text, save(netnsName));
  restore(netnsName, full);
  for (const hook of HOOKS) ensureHook(netnsName, hook);
}

/** Deletes our hooks and chains from the netns. Idempotent; a netns that is gone has nothing to remove. */
export function removeRules(netnsName: string): void {
  if (!existsSync(netnsPath(netnsName))) return;
  for (const hook of HOOKS) {
    for (let i = 0; i < MAX_HOOK_COPIES; i++) {
      const r = iptables(netnsName, ['-t', hook.table, '-D', hook.chain, ...hook.args], true);
      if (r.status !== 0) break;
    }
  }
  const chains = ourChains(save(netnsName));
  if (chains.size === 0) return;
  const lines: string[] = [];
  for (const [table, set] of chains) {
    const names = [...set].sort();
    lines.push(`*${table}`, ...names.map((c) => `:${c} - [0:0]`), ...names.map((c) => `-X ${c}`), 'COMMIT');
  }
  restore(netnsName, `${lines.join('\n')}\n`);
}

/** Our chains currently installed in the netns, per table (for tests and `lab status`). */
export function installedChains(netnsName: string): Map<string, Set<string>> {
  requireNetns(netnsName);
  return ourChains(save(netnsName));
}

/**
 * A Service connection whose endpoint is on the client's own bridge is routed back out the
 * interface it came in on, and the kernel then sends the client an ICMP redirect ("go straight to
 * the endpoint"). A client that heeds it bypasses the node's DNAT for that VIP, and the redirects
 * eat the per-host ICMP rate limit, so the REJECT for a Service without endpoints is never answered
 * (the client waits for a timeout instead of ECONNREFUSED). The setting is an OR of `all` and the
 * interface, so every interface present is set, and `default` covers bridges made later.
 */
export function disableRedirects(netnsName: string): void {
  requireNetns(netnsName);
  exec(netnsName, ['sh', '-c', 'for f in /proc/sys/net/ipv4/conf/*/send_redirects; do echo 0 > "$f"; done'], {});
}

function ensureHook(netns: string, hook: HookRule): void {
  const check = iptables(netns, ['-t', hook.table, '-C', hook.chain, ...hook.args], true);
  if (check.status === 0) return;
  // kube-proxy's place: first, so no other NAT rule sees Service traffic before it is DNATed.
  iptables(netns, ['-t', hook.table, '-I', hook.chain, '1', ...hook.args], false);
}

function save(netns: string): string {
  return exec(netns, ['iptables-save'], {}).stdout;
}

function restore(netns: string, text: string): void {
  exec(netns, ['iptables-restore', '--noflush', ...LOCK_WAIT], { input: text });
}

function iptables(netns: string, args: string[], allowFail: boolean): RunResult {
  return exec(netns, ['iptables', ...LOCK_WAIT, ...args], { allowFail });
}

function exec(netns: string, cmd: string[], opts: { input?: string; allowFail?: boolean }): RunResult {
  const full = inNetns(netns, cmd);
  try {
    return run(full, { ...opts, timeoutMs: 30_000 });
  } catch (err) {
    if (err instanceof CommandError) throw new KubeProxyRulesError(netns, full, err.stderr);
    throw err;
  }
}

function netnsPath(netns: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(netns)) {
    throw new KubeProxyRulesError(netns, [], '', `invalid netns name ${JSON.stringify(netns)}`);
  }
  return `/run/netns/${netns}`;
}

function requireNetns(netns: string): void {
  if (!existsSync(netnsPath(netns))) {
    throw new KubeProxyRulesError(netns, [], '', `netns ${netns}: ${netnsPath(netns)} does not exist`);
  }
}
