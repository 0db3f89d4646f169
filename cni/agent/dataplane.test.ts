import { fstatSync, openSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log/logger.ts';
import { MeshDataplane, type DataplaneDeps } from './dataplane.ts';
import type { PodView } from './enrollment.ts';

const pod: PodView = { uid: 'u1', name: 'p', namespace: 'app', labels: {}, annotations: {}, hostNetwork: false, phase: 'Running', deleting: false, podIps: ['10.244.1.5'], serviceAccount: 'sa' };
const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

function fakes(opts: { ztunnelUp?: boolean; rulesFail?: boolean } = {}) {
  const calls: string[] = [];
  const deps: DataplaneDeps = {
    rules: {
      apply: (n) => {
        if (opts.rulesFail) throw new Error('iptables-restore failed');
        calls.push(`rules+ ${n.path.replace(/\d+$/, 'N')}`);
      },
      remove: () => void calls.push('rules-'),
    },
    probes: { add: (ips) => void calls.push(`probe+ ${ips.join()}`), remove: (ips) => void calls.push(`probe- ${ips.join()}`) },
    ztunnel: {
      add: async (uid, info) => {
        if (opts.ztunnelUp === false) throw new Error('no ztunnel connected');
        calls.push(`zds+ ${uid} ${info.namespace}/${info.name}/${info.serviceAccount}`);
      },
      del: async (uid) => void calls.push(`zds- ${uid}`),
    },
    annotate: async (p, s) => void calls.push(`annotate ${p.name}=${s ?? '(removed)'}`),
    log: createLogger({ component: 'test', destination: new PassThrough() }),
  };
  return { deps, calls };
}

describe('MeshDataplane', () => {
  it('enrolls in Istio order (rules, ZDS, probe set, annotation) and undoes it', async () => {
    const { deps, calls } = fakes();
    const dp = new MeshDataplane(deps);
    const fd = openSync('/dev/null', 'r');
    expect(await dp.enroll(pod, fd)).toBe('enabled');
    expect(calls).toEqual([`rules+ /proc/${process.pid}/fd/N`, 'zds+ u1 app/p/sa', 'probe+ 10.244.1.5', 'annotate p=enabled']);
    expect(dp.snapshot()).toEqual([{ uid: 'u1', info: { name: 'p', namespace: 'app', serviceAccount: 'sa' }, netnsFd: fd }]);
    calls.length = 0;
    await dp.unenroll('u1', { podGone: false });
    expect(calls).toEqual(['zds- u1', 'rules-', 'probe- 10.244.1.5', 'annotate p=(removed)']);
    expect(isOpen(fd)).toBe(false);
    expect(dp.snapshot()).toEqual([]);
  });

  it('leaves the pod pending when no ztunnel takes it, and confirms it later', async () => {
    const { deps, calls } = fakes({ ztunnelUp: false });
    const dp = new MeshDataplane(deps);
    expect(await dp.enroll(pod, openSync('/dev/null', 'r'))).toBe('pending');
    expect(calls.at(-1)).toBe('annotate p=pending');
    await dp.confirm('u1');
    expect(dp.state('u1')).toBe('enabled');
    expect(calls.at(-1)).toBe('annotate p=enabled');
    dp.close();
  });

  it('refuses to enroll when the rules cannot be applied, and closes the fd', async () => {
    const { deps } = fakes({ rulesFail: true });
    const dp = new MeshDataplane(deps);
    const fd = openSync('/dev/null', 'r');
    await expect(dp.enroll(pod, fd)).rejects.toThrow('iptables-restore failed');
    expect(isOpen(fd)).toBe(false);
    expect(dp.has('u1')).toBe(false);
  });
});
