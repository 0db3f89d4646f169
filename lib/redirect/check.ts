// Checking a pod netns against the wanted in-pod rules: what the CNI agent's reconcile asks before
// deciding to re-apply, and what tests assert. Reads, compares, never changes anything.
import type { NetnsPath } from './exec.ts';
import { buildInpodIptables } from './iptables-inpod.ts';
import { diffIptablesInpod, diffNftInpod, type InpodCheck, type RedirectFlavour } from './inpod-plan.ts';
import { buildInpodNftables } from './nftables-inpod.ts';
import { resolveRedirectOptions, type RedirectOptionsInput } from './options.ts';
import { runSync } from './program.ts';
import { readIptablesState, readNftState } from './read-state.ts';

/**
 * `ok`, or `drift` listing wanted lines that are missing and installed lines of ours that are not
 * wanted (other flavour's state is not looked at). Lines read like
 * `ipv4 nat: -A ISTIO_OUTPUT ...`, `nft inet istio-ambient-nat: chain istio-output: ...`,
 * `ipv4 ip rule: pref 32764 fwmark 0x111/0xfff lookup 100`.
 */
export function checkInpodRules(netns: NetnsPath, input: RedirectOptionsInput, flavour: RedirectFlavour): InpodCheck {
  const opts = resolveRedirectOptions(input);
  if (flavour === 'iptables') return diffIptablesInpod(buildInpodIptables(opts), runSync(netns, readIptablesState(opts)), opts);
  return diffNftInpod(buildInpodNftables(opts), runSync(netns, readNftState(opts)), opts);
}
