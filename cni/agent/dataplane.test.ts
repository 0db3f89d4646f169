import { openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MeshDataplane } from './dataplane.ts';
import { fakeDataplaneDeps as fakes, isOpen, testPod as pod } from './test-fakes.ts';

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
