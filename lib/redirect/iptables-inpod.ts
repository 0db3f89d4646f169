// The iptables flavour of the in-pod rules (fact sheet §2.2): ISTIO_PRERT and ISTIO_OUTPUT in
// mangle, nat and (with DNS capture) raw, the jumps into them, and the policy routing beside them.
import { IPTABLES_OUTPUT_CHAIN, IPTABLES_PRERT_CHAIN } from './constants.ts';
import { renderIptablesRule } from './iptables-rule.ts';
import { iptablesRules, type IptablesJump, type IptablesRules, type IptablesTableRules } from './iptables-ruleset.ts';
import { resolveRedirectOptions, type RedirectOptionsInput } from './options.ts';
import { buildInpodRouting, type PolicyRouting } from './routing.ts';
import { inpodTables, planInpodRules, rulesForFamily, type InpodHook, type InpodRule, type InpodTable, type IpFamily } from './rules.ts';

export interface InpodIptables {
  ipv4: IptablesRules;
  /** Present when opts.ipv6. */
  ipv6?: IptablesRules;
  routing: PolicyRouting[];
}

/** Chains we own in every in-pod table, in the name space iptables shares with everyone else. */
export const INPOD_IPTABLES_CHAINS: readonly string[] = [IPTABLES_PRERT_CHAIN, IPTABLES_OUTPUT_CHAIN];

const CHAIN: Record<InpodHook, string> = { prerouting: IPTABLES_PRERT_CHAIN, output: IPTABLES_OUTPUT_CHAIN };

// The order Istio adds the jumps in; only the position within each built-in chain matters.
const JUMPS: Record<InpodTable, IptablesJump[]> = {
  mangle: [jump('PREROUTING', IPTABLES_PRERT_CHAIN), jump('OUTPUT', IPTABLES_OUTPUT_CHAIN)],
  nat: [jump('OUTPUT', IPTABLES_OUTPUT_CHAIN), jump('PREROUTING', IPTABLES_PRERT_CHAIN)],
  raw: [jump('PREROUTING', IPTABLES_PRERT_CHAIN), jump('OUTPUT', IPTABLES_OUTPUT_CHAIN)],
};

export function buildInpodIptables(input: RedirectOptionsInput = {}): InpodIptables {
  const opts = resolveRedirectOptions(input);
  const rules = planInpodRules(opts);
  const tables = inpodTables(opts);
  const forFamily = (family: IpFamily): IptablesRules => iptablesRules(family, tables.map((t) => tableRules(t, family, rules)));
  return {
    ipv4: forFamily('ipv4'),
    ...(opts.ipv6 ? { ipv6: forFamily('ipv6') } : {}),
    routing: buildInpodRouting(opts),
  };
}

function tableRules(table: InpodTable, family: IpFamily, all: readonly InpodRule[]): IptablesTableRules {
  const mine = rulesForFamily(all, family).filter((r) => r.table === table);
  return {
    table,
    chains: [...INPOD_IPTABLES_CHAINS],
    jumps: JUMPS[table].map((j) => ({ ...j })),
    rules: mine.map((r) => renderIptablesRule(r, family, CHAIN[r.hook])),
  };
}

function jump(from: string, to: string): IptablesJump {
  return { from, to, first: false };
}
