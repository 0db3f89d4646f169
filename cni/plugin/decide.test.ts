import { describe, expect, it } from 'vitest';
import type { EnrollmentStateRead } from '../shared/enrollment-state.ts';
import { DEFAULT_PLUGIN_CONFIG } from './config.ts';
import { planAdd, settleAdd, type AddPlan, type AddRequest, type AgentOutcome } from './decide.ts';

const pod = { namespace: 'app', name: 'web-0', uid: 'u-1', infraContainerId: 'c1' };
const req = (over: { pod?: typeof pod | undefined; exclude?: string[] } = {}): AddRequest => ({
  command: 'ADD',
  runtime: { containerId: 'c1', netns: '/run/netns/p', ifName: 'eth0', args: {}, pod: 'pod' in over ? over.pod : pod },
  config: {
    cniVersion: '1.0.0',
    name: 'pods',
    type: 'ambient-cni',
    plugin: { ...DEFAULT_PLUGIN_CONFIG, excludeNamespaces: over.exclude ?? ['kube-system'], pluginEventSocket: '/run/agent.sock', timeoutSeconds: 2.5 },
  },
  prevResult: {},
  ips: ['10.250.0.5'],
});
const ambient = (...ns: string[]): EnrollmentStateRead => ({ kind: 'ok', state: { version: 1, ambientNamespaces: ns } });

describe('planAdd', () => {
  it.each([
    { name: 'no pod in CNI_ARGS', r: req({ pod: undefined }), state: ambient('app'), reason: 'CNI_ARGS names no Kubernetes pod' },
    { name: 'excluded namespace, even if ambient', r: req({ exclude: ['app'] }), state: ambient('app'), reason: 'namespace app is excluded' },
    { name: 'namespace not ambient', r: req(), state: ambient('other'), reason: 'namespace app is not ambient' },
    { name: 'no ambient namespace at all', r: req(), state: ambient(), reason: 'namespace app is not ambient' },
  ])('passes through: $name (no warning)', ({ r, state, reason }) => {
    expect(planAdd(r, state)).toEqual({ kind: 'pass-through', reason });
  });

  it('passes through with a warning when the agent never wrote its state', () => {
    expect(planAdd(req(), { kind: 'missing', path: '/etc/cni/net.d/ambient-namespaces.state' })).toEqual({
      kind: 'pass-through',
      reason: 'no enrollment state yet',
      warning: 'enrollment state file /etc/cni/net.d/ambient-namespaces.state does not exist (has the node agent ever run?); treating pod app/web-0 as not ambient',
    });
  });

  it('passes through with a warning when the state is unreadable', () => {
    const plan = planAdd(req(), { kind: 'invalid', path: '/s', error: '/s: not JSON' });
    expect(plan).toMatchObject({ kind: 'pass-through', warning: expect.stringContaining('/s: not JSON') });
  });

  it('the state does not matter for pods that never ask', () => {
    expect(planAdd(req({ pod: undefined }), { kind: 'missing', path: '/x' })).toEqual({ kind: 'pass-through', reason: 'CNI_ARGS names no Kubernetes pod' });
  });

  it('asks the agent for a pod in an ambient namespace, with the event and the timeout', () => {
    expect(planAdd(req(), ambient('a', 'app'))).toEqual({
      kind: 'ask-agent',
      socket: '/run/agent.sock',
      timeoutMs: 2500,
      event: { containerId: 'c1', netns: '/run/netns/p', ifName: 'eth0', podName: 'web-0', podNamespace: 'app', podUid: 'u-1', infraContainerId: 'c1', ips: ['10.250.0.5'] },
    });
  });
});

describe('settleAdd', () => {
  const plan = planAdd(req(), ambient('app')) as AddPlan & { kind: 'ask-agent' };

  it.each([
    { outcome: { kind: 'answered', answer: { captured: true } }, settled: { ok: true, captured: true, reason: 'captured by the node agent' } },
    { outcome: { kind: 'answered', answer: { captured: false, reason: 'pod opted out' } }, settled: { ok: true, captured: false, reason: 'node agent did not capture: pod opted out' } },
    { outcome: { kind: 'answered', answer: { captured: false, reason: '' } }, settled: { ok: true, captured: false, reason: 'node agent did not capture: no reason given' } },
  ] as { outcome: AgentOutcome; settled: unknown }[])('answer $outcome.answer lets the pod start', ({ outcome, settled }) => {
    expect(settleAdd(plan, outcome)).toEqual(settled);
  });

  it.each([
    { outcome: { kind: 'unreachable', error: 'ENOENT /run/agent.sock: no such file' }, tail: 'agent unreachable: ENOENT /run/agent.sock: no such file' },
    { outcome: { kind: 'timeout', afterMs: 2500 }, tail: 'no answer within 2.5s' },
    { outcome: { kind: 'rejected', status: 503, error: 'ztunnel not connected' }, tail: 'agent answered HTTP 503: ztunnel not connected' },
    { outcome: { kind: 'invalid', error: 'answer.captured: must be true or false' }, tail: 'unusable answer: answer.captured: must be true or false' },
  ] as { outcome: AgentOutcome; tail: string }[])('$outcome.kind fails the ADD with code 11 naming the socket', ({ outcome, tail }) => {
    expect(settleAdd(plan, outcome)).toEqual({
      ok: false,
      failure: {
        code: 11,
        msg: `pod app/web-0 is in an ambient namespace but the node agent at /run/agent.sock did not confirm capture: ${tail}`,
        details: expect.stringContaining('retries'),
      },
    });
  });
});
