// Installing and removing the in-pod rules in a pod netns, either flavour. Each call reads what is
// there, asks inpod-plan.ts for the commands, and runs them: so applying twice leaves one copy of
// everything, and removing twice (or from a clean netns) succeeds and leaves nothing of ours.
// Each operation comes synchronous (tests, tools) and as an `…Async` twin for the node agent.
import type { NetnsPath } from './exec.ts';
import { buildInpodIptables } from './iptables-inpod.ts';
import { planIptablesInpod, planNftInpod, type RedirectFlavour } from './inpod-plan.ts';
import { buildInpodNftables } from './nftables-inpod.ts';
import { resolveRedirectOptions, type RedirectOptionsInput } from './options.ts';
import { runAsync, runSync, steps, type Program } from './program.ts';
import { readIptablesState, readNftState } from './read-state.ts';

function* applyInpod(input: RedirectOptionsInput, flavour: RedirectFlavour): Program<void> {
  const opts = resolveRedirectOptions(input);
  if (flavour === 'iptables') {
    yield* steps(planIptablesInpod(buildInpodIptables(opts), yield* readIptablesState(opts), opts));
  } else {
    yield* steps(planNftInpod(buildInpodNftables(opts), yield* readNftState(opts), opts));
  }
}

function* removeInpod(flavour: RedirectFlavour, input: RedirectOptionsInput): Program<void> {
  const opts = resolveRedirectOptions(input);
  // IPv6 is read (and cleaned) whatever opts.ipv6 says; it is only optional if the stack is absent.
  if (flavour === 'iptables') {
    yield* steps(planIptablesInpod(undefined, yield* readIptablesState(opts, false), opts));
  } else {
    yield* steps(planNftInpod(undefined, yield* readNftState(opts, false), opts));
  }
}

/** Makes the pod netns hold exactly the wanted rules of `flavour` and the policy routing. */
export function applyInpodRules(netns: NetnsPath, input: RedirectOptionsInput, flavour: RedirectFlavour): void {
  runSync(netns, applyInpod(input, flavour));
}

export function applyInpodRulesAsync(netns: NetnsPath, input: RedirectOptionsInput, flavour: RedirectFlavour): Promise<void> {
  return runAsync(netns, applyInpod(input, flavour));
}

/**
 * Removes the jumps, our chains (or tables), the ip rule and the table route. `opts` only matters
 * when the rules were installed with a non-default table or priority.
 */
export function removeInpodRules(netns: NetnsPath, flavour: RedirectFlavour, input: RedirectOptionsInput = {}): void {
  runSync(netns, removeInpod(flavour, input));
}

export function removeInpodRulesAsync(netns: NetnsPath, flavour: RedirectFlavour, input: RedirectOptionsInput = {}): Promise<void> {
  return runAsync(netns, removeInpod(flavour, input));
}
