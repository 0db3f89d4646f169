// The shape every iptables builder produces (in-pod and host): per table, the chains we own, the
// jumps into them from built-in chains, and our rules in order; plus the plain
// `iptables-restore --noflush` text that installs them into a netns that has none of them yet.
import type { IpFamily } from './rules.ts';

export interface IptablesJump {
  /** Built-in chain the jump sits in, e.g. PREROUTING. */
  from: string;
  /** Our chain, e.g. ISTIO_PRERT. */
  to: string;
  /** Insert at position 1 (host POSTROUTING) rather than append. */
  first: boolean;
}

export interface IptablesTableRules {
  table: string;
  /** Chains we own in this table; declaring one in iptables-restore also flushes it. */
  chains: string[];
  jumps: IptablesJump[];
  /** `-A <our chain> ...` lines in iptables-save form, in order. */
  rules: string[];
}

export interface IptablesRules {
  family: IpFamily;
  tables: IptablesTableRules[];
  /** Input for `iptables-restore --noflush` (`ip6tables-restore` for ipv6). */
  restore: string;
}

/** The line `iptables-save` prints for a jump, whichever way it was added. */
export function jumpLine(j: IptablesJump): string {
  return `-A ${j.from} -j ${j.to}`;
}

export function jumpAddLine(j: IptablesJump): string {
  return j.first ? `-I ${j.from} 1 -j ${j.to}` : jumpLine(j);
}

export function iptablesRules(family: IpFamily, tables: IptablesTableRules[]): IptablesRules {
  return { family, tables, restore: renderFreshRestore(tables) };
}

/** Restore input for a netns without our chains (see iptables-plan.ts for the idempotent form). */
export function renderFreshRestore(tables: readonly IptablesTableRules[]): string {
  const out: string[] = [];
  for (const t of tables) {
    out.push(`*${t.table}`);
    for (const c of t.chains) out.push(`:${c} - [0:0]`);
    for (const j of t.jumps) out.push(jumpAddLine(j));
    out.push(...t.rules, 'COMMIT');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
