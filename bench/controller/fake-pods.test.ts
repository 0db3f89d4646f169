// Unit tests of e2e/lab/kubelet/fake-pods.ts, kept here because the unit project does not run files
// under e2e/ (those are lab suites); the module is pure, bench/controller is its one user.
import { describe, expect, it } from 'vitest';
import {
  FAKE_RANGE_SIZE,
  FAKE_READY_ANNOTATION,
  FakeIpAllocator,
  FakePods,
  fakeIp,
  fakeRangeNode,
  isFakePodIp,
  isFakeReady,
} from '../../e2e/lab/kubelet/fake-pods.ts';
import type { Pod, PodRecord } from '../../e2e/lab/kubelet/types.ts';

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const mask = 2 ** 32 - 2 ** (32 - Number(bits));
  return (ipToInt(ip) & mask) >>> 0 === (ipToInt(base!) & mask) >>> 0;
}

const pod = (uid: string, annotations: Record<string, string> = { [FAKE_READY_ANNOTATION]: 'true' }): Pod => ({
  metadata: { name: `p-${uid}`, namespace: 'bench', uid, annotations },
  spec: { nodeName: 'node1', containers: [{ name: 'main', image: 'lab/sleep' }] },
});

describe('fake-ready pod addresses', () => {
  it('maps a lab pod CIDR 10.244.N.0/24 to node N, and refuses anything else', () => {
    expect(fakeRangeNode('10.244.1.0/24')).toBe(1);
    expect(fakeRangeNode('10.244.40.0/24')).toBe(40);
    for (const bad of ['10.244.0.0/24', '10.244.41.0/24', '10.245.1.0/24', '10.244.1.0/16', 'x']) expect(() => fakeRangeNode(bad)).toThrow(RangeError);
  });

  it('numbers hosts .1-.254 of each /24 of 10.(200+N).0.0/16', () => {
    expect(fakeIp(1, 0)).toBe('10.201.0.1');
    expect(fakeIp(1, 253)).toBe('10.201.0.254');
    expect(fakeIp(1, 254)).toBe('10.201.1.1');
    expect(fakeIp(2, FAKE_RANGE_SIZE - 1)).toBe('10.202.255.254');
    expect(() => fakeIp(1, FAKE_RANGE_SIZE)).toThrow(RangeError);
    expect(FAKE_RANGE_SIZE).toBeGreaterThanOrEqual(10_000);
  });

  it('never overlaps the pod CIDRs, the Service range or the fabric', () => {
    const taken = ['10.244.0.0/16', '10.96.0.0/16', '172.18.0.0/24'];
    for (const node of [1, 2, 20, 40]) {
      for (const i of [0, 1, 253, 254, 5000, 9999, FAKE_RANGE_SIZE - 1]) {
        const ip = fakeIp(node, i);
        expect(isFakePodIp(ip)).toBe(true);
        for (const c of taken) expect(inCidr(ip, c), `${ip} in ${c}`).toBe(false);
      }
    }
    for (const real of ['10.244.1.7', '10.96.0.10', '172.18.0.11', '10.241.0.1', '10.201.0.0', '10.201.0.255']) expect(isFakePodIp(real), real).toBe(false);
  });
});

describe('FakeIpAllocator', () => {
  it('gives each uid one address, the same one when asked again', () => {
    const a = new FakeIpAllocator(2);
    expect(a.allocate('a')).toBe('10.202.0.1');
    expect(a.allocate('b')).toBe('10.202.0.2');
    expect(a.allocate('a')).toBe('10.202.0.1');
    expect(a.inUse).toBe(2);
  });

  it('does not reuse a freed address before the range came round (next-fit)', () => {
    const a = new FakeIpAllocator(1);
    a.allocate('a');
    a.allocate('b');
    a.release('a');
    a.release('a');
    expect(a.allocate('c')).toBe('10.201.0.3');
    expect(a.inUse).toBe(2);
  });

  it('hands out 5k distinct addresses per node, fills the range, then wraps to freed ones', () => {
    const a = new FakeIpAllocator(1);
    const ips = new Set<string>();
    for (let i = 0; i < FAKE_RANGE_SIZE; i++) ips.add(a.allocate(`u${i}`)!);
    expect(ips.size).toBe(FAKE_RANGE_SIZE);
    expect(a.allocate('one-too-many')).toBeUndefined();
    a.release('u7');
    a.release('u3');
    expect(a.allocate('x')).toBe(fakeIp(1, 3));
    expect(a.allocate('y')).toBe(fakeIp(1, 7));
    expect(a.allocate('z')).toBeUndefined();
  });

  it('refuses nodes outside the plan', () => {
    expect(() => new FakeIpAllocator(0)).toThrow(RangeError);
    expect(() => new FakeIpAllocator(41)).toThrow(RangeError);
  });
});

describe('FakePods', () => {
  it('knows the annotation', () => {
    expect(isFakeReady(pod('a'))).toBe(true);
    expect(isFakeReady(pod('a', { [FAKE_READY_ANNOTATION]: 'false' }))).toBe(false);
    expect(isFakeReady(pod('a', {}))).toBe(false);
  });

  it('reports a started pod once, Running and Ready with its address, and frees it on stop', () => {
    const changes: PodRecord[] = [];
    const f = new FakePods({ podCidr: '10.244.2.0/24', onChange: (r) => changes.push(r), log: () => {} });
    f.start(pod('a'));
    f.start(pod('a'));
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ uid: 'a', namespace: 'bench', name: 'p-a', podIp: '10.202.0.1', containers: [{ name: 'main', ready: true, state: { kind: 'running' } }] });
    expect(f.uids()).toEqual(['a']);
    f.stop('a');
    expect(f.has('a')).toBe(false);
    f.start(pod('b'));
    expect(changes[1]?.podIp).toBe('10.202.0.2');
  });

  it('on a node outside the plan, leaves fake pods Pending and says why', () => {
    const logs: string[] = [];
    const changes: PodRecord[] = [];
    const f = new FakePods({ podCidr: '192.168.0.0/24', onChange: (r) => changes.push(r), log: (m) => logs.push(m) });
    f.start(pod('a'));
    f.stop('a');
    expect(changes).toEqual([]);
    expect(logs).toEqual(['fake pod refused']);
  });
});
