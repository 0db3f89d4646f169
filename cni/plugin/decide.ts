// What ADD does for one pod, decided before any socket is opened: pass through (not a pod, excluded
// namespace, namespace not ambient, no state file yet) or ask the node agent; then what the agent's
// outcome means for the pod. The rule: a pod the state file says is ambient starts only once the
// agent confirmed capture; every other pod starts whatever the agent's state.
import type { EnrollmentStateRead } from '../shared/enrollment-state.ts';
import type { CmdAddAnswer, CmdAddEvent } from '../shared/plugin-event.ts';
import { ErrorCode, type CniFailure } from './cni-spec.ts';
import type { CniRequest } from './request.ts';

export type AddRequest = CniRequest & { command: 'ADD' };

export type AddPlan =
  | { kind: 'pass-through'; reason: string; warning?: string }
  | { kind: 'ask-agent'; event: CmdAddEvent; socket: string; timeoutMs: number };

/** How the exchange with the agent ended (agent-client.ts makes these). */
export type AgentOutcome =
  | { kind: 'answered'; answer: CmdAddAnswer }
  | { kind: 'unreachable'; error: string }
  | { kind: 'timeout'; afterMs: number }
  | { kind: 'rejected'; status: number; error: string }
  | { kind: 'invalid'; error: string };

export type AddSettlement = { ok: true; captured: boolean; reason: string } | { ok: false; failure: CniFailure };

export function planAdd(req: AddRequest, state: EnrollmentStateRead): AddPlan {
  const { pod } = req.runtime;
  const plugin = req.config.plugin;
  if (!pod) return { kind: 'pass-through', reason: 'CNI_ARGS names no Kubernetes pod' };
  if (plugin.excludeNamespaces.includes(pod.namespace)) return { kind: 'pass-through', reason: `namespace ${pod.namespace} is excluded` };
  switch (state.kind) {
    case 'missing':
      return {
        kind: 'pass-through',
        reason: 'no enrollment state yet',
        warning: `enrollment state file ${state.path} does not exist (has the node agent ever run?); treating pod ${pod.namespace}/${pod.name} as not ambient`,
      };
    case 'invalid':
      return {
        kind: 'pass-through',
        reason: 'enrollment state unreadable',
        warning: `enrollment state unreadable (${state.error}); treating pod ${pod.namespace}/${pod.name} as not ambient`,
      };
    case 'ok':
      break;
  }
  if (!state.state.ambientNamespaces.includes(pod.namespace)) return { kind: 'pass-through', reason: `namespace ${pod.namespace} is not ambient` };
  return {
    kind: 'ask-agent',
    socket: plugin.pluginEventSocket,
    timeoutMs: Math.round(plugin.timeoutSeconds * 1000),
    event: {
      containerId: req.runtime.containerId,
      netns: req.runtime.netns,
      ifName: req.runtime.ifName,
      podName: pod.name,
      podNamespace: pod.namespace,
      podUid: pod.uid,
      infraContainerId: pod.infraContainerId,
      ips: req.ips,
    },
  };
}

function outcomeText(o: Exclude<AgentOutcome, { kind: 'answered' }>): string {
  switch (o.kind) {
    case 'unreachable':
      return `agent unreachable: ${o.error}`;
    case 'timeout':
      return `no answer within ${o.afterMs / 1000}s`;
    case 'rejected':
      return `agent answered HTTP ${o.status}: ${o.error}`;
    case 'invalid':
      return `unusable answer: ${o.error}`;
  }
}

export function settleAdd(plan: AddPlan & { kind: 'ask-agent' }, outcome: AgentOutcome): AddSettlement {
  if (outcome.kind === 'answered') {
    const a = outcome.answer;
    return a.captured ? { ok: true, captured: true, reason: 'captured by the node agent' } : { ok: true, captured: false, reason: `node agent did not capture: ${a.reason || 'no reason given'}` };
  }
  const { podNamespace, podName } = plan.event;
  return {
    ok: false,
    failure: {
      code: ErrorCode.tryAgainLater,
      msg: `pod ${podNamespace}/${podName} is in an ambient namespace but the node agent at ${plan.socket} did not confirm capture: ${outcomeText(outcome)}`,
      details: 'an ambient pod must not start uncaptured; the runtime retries the sandbox once the node agent is back',
    },
  };
}
