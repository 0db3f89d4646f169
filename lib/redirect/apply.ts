// Installing and removing the in-pod rules in a pod netns, either flavour. Each call reads what is
// there, asks inpod-plan.ts for the commands, and runs them: so applying twice leaves one copy of
// everything, and removing twice (or from a clean netns) succeeds and leaves nothing of ours.
import { execSteps, type NetnsPath } from './exec.ts';
import { buildInpodIptables } from './iptables-inpod.ts';
import { planIptablesInpod, planNftInpod, type RedirectFlavour } from './inpod-plan.ts';
import { buildInpodNftables } from './nftables-inpod.ts';
import { resolveRedirectOptions, type RedirectOptionsInput } from './options.ts';
import { readIptablesState, readNftState } from './read-state.ts';

/** Makes the pod netns hold exactly the wanted rules of `flavour` and the policy routing. */
export function applyInpodRules(netns: NetnsPath, input: RedirectOptionsInput, flavour: RedirectFlavour): void {
  const opts = resolveRedirectOptions(input);
  if (flavour === 'iptables') {
    execSteps(netns, planIptablesInpod(buildInpodIptables(opts), readIptablesState(netns, opts), opts));
  } else {
    execSteps(netns, planNftInpod(buildInpodNftables(opts), readNftState(netns, opts), opts));
  }
}

/**
 * Removes the jumps, our chains (or tables), the ip rule and the table route. `opts` only matters
 * when the rules were installed with a non-default table or priority.
 */
export function removeInpodRules(netns: NetnsPath, flavour: RedirectFlavour, input: RedirectOptionsInput = {}): void {
  const opts = resolveRedirectOptions(input);
  // IPv6 is read (and cleaned) whatever opts.ipv6 says; it is only optional if the stack is absent.
  if (flavour === 'iptables') {
    execSteps(netns, planIptablesInpod(undefined, readIptablesState(netns, opts, false), opts));
  } else {
    execSteps(netns, planNftInpod(undefined, readNftState(netns, opts, false), opts));
  }
}
