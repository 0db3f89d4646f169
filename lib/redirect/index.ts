// lib/redirect: Istio's in-pod traffic redirection (fact sheet §2), for ztunnel tests and the CNI
// node agent. Pure builders of the iptables and nftables rule sets and the policy routing, the
// host-side probe SNAT, and the effects that apply, remove and check them inside a netns.
export * as constants from './constants.ts';
export { RedirectError, type RedirectErrorCode } from './errors.ts';
export { DEFAULT_REDIRECT_OPTIONS, resolveRedirectOptions, type RedirectOptions, type RedirectOptionsInput } from './options.ts';
export { planInpodRules, type InpodRule, type IpFamily } from './rules.ts';
export { buildInpodIptables, type InpodIptables } from './iptables-inpod.ts';
export type { IptablesJump, IptablesRules, IptablesTableRules } from './iptables-ruleset.ts';
export { buildInpodNftables, type InpodNftables } from './nftables-inpod.ts';
export type { NftTableSpec } from './nft-ruleset.ts';
export { buildInpodRouting, type PolicyRouting } from './routing.ts';
export { buildHostProbeIptables, buildHostProbeNftables, type HostProbeIptables, type HostProbeNftables } from './host-probe.ts';
export type { InpodCheck, RedirectFlavour } from './inpod-plan.ts';
export type { NetnsPath } from './exec.ts';
export { applyInpodRules, applyInpodRulesAsync, removeInpodRules, removeInpodRulesAsync } from './apply.ts';
export { checkInpodRules } from './check.ts';
export { addProbeTargets, addProbeTargetsAsync, applyHostProbeRules, removeHostProbeRules, removeProbeTargets, removeProbeTargetsAsync } from './host-apply.ts';
