// Test support for the agent's unit tests: a pod, and dataplane dependencies that record calls.
import { fstatSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../lib/log/logger.ts';
import type { DataplaneDeps } from './dataplane.ts';
import type { PodView } from './enrollment.ts';

export const testPod: PodView = { uid: 'u1', name: 'p', namespace: 'app', labels: {}, annotations: {}, hostNetwork: false, phase: 'Running', deleting: false, podIps: ['10.244.1.5'], serviceAccount: 'sa' };

export const isOpen = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

export const quietLog = () => createLogger({ component: 'test', destination: new PassThrough() });

export function fakeDataplaneDeps(opts: { ztunnelUp?: boolean; rulesFail?: boolean } = {}): { deps: DataplaneDeps; calls: string[] } {
  const calls: string[] = [];
  const deps: DataplaneDeps = {
    rules: {
      apply: async (n) => {
        if (opts.rulesFail) throw new Error('iptables-restore failed');
        calls.push(`rules+ ${n.path.replace(/\d+$/, 'N')}`);
      },
      remove: async () => void calls.push('rules-'),
    },
    probes: { add: async (ips) => void calls.push(`probe+ ${ips.join()}`), remove: async (ips) => void calls.push(`probe- ${ips.join()}`) },
    ztunnel: {
      add: async (uid, info) => {
        if (opts.ztunnelUp === false) throw new Error('no ztunnel connected');
        calls.push(`zds+ ${uid} ${info.namespace}/${info.name}/${info.serviceAccount}`);
      },
      del: async (uid) => void calls.push(`zds- ${uid}`),
    },
    annotate: async (p, s) => void calls.push(`annotate ${p.name}=${s ?? '(removed)'}`),
    log: quietLog(),
  };
  return { deps, calls };
}
