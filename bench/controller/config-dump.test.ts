import { describe, expect, it } from 'vitest';
import { diffUids, podUidPrefix, workloadUids } from './config-dump.ts';

const dump = (uids: string[]) => JSON.stringify({
  workloads: uids.map((uid) => ({ uid, name: uid.split('/').pop(), namespace: 'x', addresses: ['10.201.0.1'] })),
  services: [{ hostname: 's', endpoints: ['Kubernetes//Pod/bench/in-a-service'] }],
  policies: [],
}, null, 2);

describe('config_dump uid sets', () => {
  it('names pods as the controller does', () => {
    expect(podUidPrefix('bench')).toBe('Kubernetes//Pod/bench/');
    expect(podUidPrefix('bench', 'c2')).toBe('c2//Pod/bench/');
  });

  it('takes the workload uids under the prefix, and only from workloads[]', () => {
    const got = workloadUids(dump(['Kubernetes//Pod/bench/a', 'Kubernetes//Pod/other/b', 'Kubernetes//Pod/bench/c', 'Kubernetes//Pod/benchmark/d']), podUidPrefix('bench'));
    expect([...got].sort()).toEqual(['Kubernetes//Pod/bench/a', 'Kubernetes//Pod/bench/c']);
    expect(workloadUids(dump([]), 'x').size).toBe(0);
  });

  it('rejects a body of another shape', () => {
    expect(() => workloadUids('not json', 'p')).toThrow(/not JSON/);
    expect(() => workloadUids('{"services":[]}', 'p')).toThrow(/no workloads array/);
    expect(() => workloadUids('{"workloads":[{"name":"a"}]}', 'p')).toThrow(/workloads\[0\]\.uid/);
  });

  it('diffs two polls', () => {
    expect(diffUids(new Set(['a', 'b']), new Set(['b', 'c']))).toEqual({ added: ['c'], removed: ['a'] });
    expect(diffUids(new Set(), new Set(['a']))).toEqual({ added: ['a'], removed: [] });
  });

  it('handles a 10k-workload dump quickly', () => {
    const uids = Array.from({ length: 10_000 }, (_, i) => `Kubernetes//Pod/bench/r1-${i}`);
    const text = dump(uids);
    const t = performance.now();
    const got = workloadUids(text, podUidPrefix('bench'));
    expect(got.size).toBe(10_000);
    expect(performance.now() - t).toBeLessThan(2000);
  });
});
