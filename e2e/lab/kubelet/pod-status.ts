// Pure: the pod status the stand-in reports for a pod record (phase, IPs, conditions, containers).
import type { ContainerRecord, PodRecord } from './types.ts';

function containerStatus(c: ContainerRecord): Record<string, unknown> {
  const state =
    c.state.kind === 'running'
      ? { running: { startedAt: c.state.startedAt } }
      : c.state.kind === 'waiting'
        ? { waiting: { reason: c.state.reason, ...(c.state.message ? { message: c.state.message } : {}) } }
        : { terminated: { exitCode: c.state.exitCode, reason: c.state.reason, finishedAt: c.state.finishedAt, ...(c.state.startedAt ? { startedAt: c.state.startedAt } : {}) } };
  const last = c.lastTerminated
    ? { terminated: { exitCode: c.lastTerminated.exitCode, reason: c.lastTerminated.reason, finishedAt: c.lastTerminated.finishedAt } }
    : {};
  return {
    name: c.name,
    image: c.image,
    imageID: `lab://${c.image}`,
    containerID: c.state.kind === 'waiting' ? undefined : `lab://${c.name}`,
    ready: c.ready,
    started: c.state.kind === 'running',
    restartCount: c.restartCount,
    state,
    lastState: last,
  };
}

export function podPhase(rec: PodRecord): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  if (rec.sandboxError || !rec.podIp) return 'Pending';
  const states = rec.containers.map((c) => c.state);
  if (states.some((s) => s.kind === 'running')) return 'Running';
  if (rec.restartPolicy !== 'Always' && states.length && states.every((s) => s.kind === 'terminated')) {
    return states.every((s) => s.kind === 'terminated' && s.exitCode === 0) ? 'Succeeded' : 'Failed';
  }
  if (states.some((s) => s.kind === 'terminated')) return 'Running';
  return 'Pending';
}

export function buildPodStatus(rec: PodRecord, hostIp: string, now: string): Record<string, unknown> {
  const allReady = rec.containers.length > 0 && rec.containers.every((c) => c.ready);
  const cond = (type: string, ok: boolean, reason?: string) => ({
    type,
    status: ok ? 'True' : 'False',
    lastTransitionTime: now,
    ...(reason && !ok ? { reason } : {}),
  });
  const waiting = rec.containers.find((c) => c.state.kind === 'waiting' && c.state.message);
  return {
    phase: podPhase(rec),
    hostIP: hostIp,
    hostIPs: [{ ip: hostIp }],
    ...(rec.podIp ? { podIP: rec.podIp, podIPs: [{ ip: rec.podIp }] } : {}),
    startTime: rec.startTime,
    ...(rec.sandboxError ? { message: rec.sandboxError, reason: 'SandboxFailed' } : {}),
    ...(waiting && waiting.state.kind === 'waiting' ? { message: waiting.state.message } : {}),
    conditions: [
      cond('PodReadyToStartContainers', !!rec.podIp),
      cond('Initialized', true),
      cond('Ready', allReady, 'ContainersNotReady'),
      cond('ContainersReady', allReady, 'ContainersNotReady'),
      cond('PodScheduled', true),
    ],
    containerStatuses: rec.containers.map(containerStatus),
  };
}
