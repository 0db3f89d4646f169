// The kubelet stand-in's pure parts for host-process pods (the mesh's charts): which pods run so,
// `$(VAR)` expansion in env, hostPath volumes, the node root's links and the pod's kubeconfig.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imageReadiness } from '../images/catalogue.ts';
import { nodeRootLinks } from './node-root.ts';
import { expandEnvRefs, hostPodKubeconfig, isHostProcessPod } from './pod-runtime.ts';
import type { Pod } from './types.ts';
import { planMounts } from './volumes.ts';

const podOf = (image: string, hostNetwork?: boolean): Pod => ({
  metadata: { name: 'p', uid: 'u' },
  spec: { containers: [{ name: 'c', image }], ...(hostNetwork === undefined ? {} : { hostNetwork }) },
});

describe('isHostProcessPod', () => {
  it.each([
    ['ghcr.io/ambient-mesh/ztunnel:0.1.0', undefined, true],
    ['ghcr.io/ambient-mesh/cni:0.1.0', true, true],
    ['localhost:5000/ambient-mesh/controller@sha256:00', undefined, true],
    ['ghcr.io/ambient-mesh/waypoint:0.1.0', undefined, false],
    ['lab/sleep', true, false],
    ['nginx', undefined, false],
  ])('%s (hostNetwork %s) → %s', (image, hostNetwork, want) => {
    expect(isHostProcessPod(podOf(image, hostNetwork))).toBe(want);
  });
});

describe('imageReadiness', () => {
  it('waits for each component\'s start-up line and probes at the port it names', () => {
    expect(imageReadiness('ghcr.io/ambient-mesh/ztunnel:1')).toEqual({ line: 'ztunnel started', portField: 'readiness' });
    expect(imageReadiness('ghcr.io/ambient-mesh/cni:1')).toEqual({ line: 'node agent ready', portField: 'readiness' });
    expect(imageReadiness('ghcr.io/ambient-mesh/controller:1')).toEqual({ line: 'controller ready', portField: 'monitoring' });
    expect(imageReadiness('lab/http-echo')).toEqual({ line: 'ready' });
  });
});

describe('expandEnvRefs', () => {
  const env = { LAB_NODE_ROOT: '/lab/nodes/node1/host', EMPTY: '' };
  it.each([
    ['$(LAB_NODE_ROOT)/var/run/istio-cni/pluginevent.sock', '/lab/nodes/node1/host/var/run/istio-cni/pluginevent.sock'],
    ['$(UNKNOWN)/x', '$(UNKNOWN)/x'],
    ['$$(LAB_NODE_ROOT)', '$(LAB_NODE_ROOT)'],
    ['a$(EMPTY)b', 'ab'],
    ['no refs', 'no refs'],
    ['$(', '$('],
  ])('%j → %j', (value, want) => {
    expect(expandEnvRefs(value, env)).toBe(want);
  });
});

describe('hostPath volumes', () => {
  it('plans a hostPath volume with its type, linked at its mount path', () => {
    const r = planMounts({
      spec: {
        volumes: [{ name: 'zds', hostPath: { path: '/var/run/ztunnel/', type: 'DirectoryOrCreate' } }, { name: 'lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } }],
        containers: [{ name: 'c', volumeMounts: [{ name: 'zds', mountPath: '/var/run/ztunnel' }, { name: 'lock', mountPath: '/run/xtables.lock' }] }],
      },
    });
    expect(r).toEqual({
      ok: true,
      plan: {
        volumes: [
          { name: 'zds', kind: 'hostPath', sources: [], hostPath: { path: '/var/run/ztunnel', type: 'DirectoryOrCreate' } },
          { name: 'lock', kind: 'hostPath', sources: [], hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
        ],
        links: [{ path: 'var/run/ztunnel', volume: 'zds' }, { path: 'run/xtables.lock', volume: 'lock' }],
      },
    });
  });

  it.each([
    [{ path: 'relative' }, 'volume "h": hostPath.path must be an absolute path: "relative"'],
    [{ path: '/x/../y' }, 'volume "h": hostPath.path must be an absolute path: "/x/../y"'],
    [{ path: '/x', type: 'Sometimes' }, 'volume "h": hostPath.type "Sometimes" is not one of "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"'],
  ])('rejects %j', (hostPath, error) => {
    expect(planMounts({ spec: { volumes: [{ name: 'h', hostPath }], containers: [{ name: 'c' }] } })).toEqual({ ok: false, errors: [error] });
  });
});

describe('node root', () => {
  it('points the node\'s CNI dirs at the lab\'s and shares the kernel views', () => {
    expect(nodeRootLinks({ cniConfDir: '/lab/nodes/node1/net.d', cniBinDir: '/lab/nodes/node1/cni-bin' })).toEqual({
      'etc/cni/net.d': '/lab/nodes/node1/net.d',
      'opt/cni/bin': '/lab/nodes/node1/cni-bin',
      proc: '/proc',
      'run/netns': '/run/netns',
      'var/run/netns': '/run/netns',
    });
  });
});

describe('hostPodKubeconfig', () => {
  it('names the apiserver, its CA and the pod\'s own token by relative path (re-read as it rotates)', () => {
    const kc = parse(hostPodKubeconfig('https://127.0.0.1:16443', '/lab/pki/ca.crt')) as Record<string, unknown>;
    expect(kc).toEqual({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'lab', cluster: { server: 'https://127.0.0.1:16443', 'certificate-authority': '/lab/pki/ca.crt' } }],
      users: [{ name: 'pod', user: { 'auth-provider': { name: 'tokenFile', config: { tokenFile: 'var/run/secrets/kubernetes.io/serviceaccount/token' } } } }],
      contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'pod' } }],
      'current-context': 'lab',
    });
  });
});
