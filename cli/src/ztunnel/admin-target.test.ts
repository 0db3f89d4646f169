import { describe, expect, it } from 'vitest';
import { parseAdminEnv, planTarget, type TargetInputs } from './admin-target.ts';

const base: TargetInputs = { env: [], podNamespace: 'istio-system', port: 15000 };
const env = parseAdminEnv('node1=http://127.0.0.1:1234, node2=127.0.0.2:15000');

describe('AMBIENTCTL_ZTUNNEL_ADMIN', () => {
  it('parses node=url entries in order, adding http://', () => {
    expect(env).toEqual([{ node: 'node1', url: 'http://127.0.0.1:1234' }, { node: 'node2', url: 'http://127.0.0.2:15000' }]);
    expect(parseAdminEnv(undefined)).toEqual([]);
    expect(parseAdminEnv(' ')).toEqual([]);
  });

  it.each(['node1', '=http://x:1', 'node1=https://x:1'])('refuses %j', (v) => expect(() => parseAdminEnv(v)).toThrow(/AMBIENTCTL_ZTUNNEL_ADMIN/));
});

describe('planTarget', () => {
  it.each([
    [{ file: 'd.json' }, { kind: 'file', path: 'd.json' }],
    [{ adminAddress: 'localhost:15000', env }, { kind: 'url', url: 'http://localhost:15000' }],
    [{ env }, { kind: 'url', url: 'http://127.0.0.1:1234', node: 'node1' }],
    [{ env, node: 'node2' }, { kind: 'url', url: 'http://127.0.0.2:15000', node: 'node2' }],
    [{}, { kind: 'pod', port: 15000 }],
    [{ node: 'worker1' }, { kind: 'pod', node: 'worker1', port: 15000 }],
    [{ pod: 'ztunnel-abc' }, { kind: 'pod', pod: { name: 'ztunnel-abc', namespace: 'istio-system' }, port: 15000 }],
    [{ pod: 'pod/ztunnel-abc.kube-system' }, { kind: 'pod', pod: { name: 'ztunnel-abc', namespace: 'kube-system' }, port: 15000 }],
  ] as const)('%j → %j', (i, plan) => expect(planTarget({ ...base, ...i, env: 'env' in i ? [...i.env] : [] })).toEqual(plan));

  it.each([
    [{ file: 'x', node: 'n' }, 'at most one of --file, --node, --admin-address, or pod name must be passed'],
    [{ env, node: 'node9' }, 'no ztunnel admin address for node "node9" in AMBIENTCTL_ZTUNNEL_ADMIN (known: node1, node2)'],
    [{ env, pod: 'ztunnel-x' }, 'a ztunnel pod name cannot be used with AMBIENTCTL_ZTUNNEL_ADMIN; pick a node with --node (known: node1, node2)'],
  ] as const)('%j fails: %s', (i, msg) => expect(() => planTarget({ ...base, ...i, env: 'env' in i ? [...i.env] : [] })).toThrow(msg));
});
