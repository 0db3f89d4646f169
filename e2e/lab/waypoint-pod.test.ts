// A waypoint Gateway on the lab, as far as the kubelet stand-in is concerned: the controller's
// Deployment gets a pod whose container runs as our waypoint process on the host (not in the pod
// netns) with POD_NETNS naming the pod netns, its cwd the pod root holding the projected token and
// the published root certificate, its 15008 listening inside the pod netns, and the pod Ready;
// a killed waypoint comes back as a new process; `lab ambientctl` reaches the lab's ztunnels.
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './config.ts';
import { run } from './exec.ts';
import { down, kubectlSync, podRef, runningLab, up } from './lab.ts';
import { pollUntil } from './poll.ts';
import { isReady, type PodJson } from './sample-apps.ts';
import type { LabState } from './state.ts';
import { type WaypointProcess } from '../ztunnel/lab-mesh.ts';
import { HelmMesh } from './mesh-helm.ts';

const NS = 'wp-pod';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS}, labels: { istio.io/dataplane-mode: ambient } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: ${NS} }
spec:
  gatewayClassName: istio-waypoint
  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]
`;

describe('a waypoint pod on the lab (root)', () => {
  let lab: LabState;
  let mesh: HelmMesh;
  let podName: string;
  let wp: WaypointProcess;
  const waypointPods = () => (JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', NS, '-l', 'gateway.networking.k8s.io/gateway-name=waypoint', '-o', 'json']).stdout) as { items: (PodJson & { metadata: { uid: string } })[] }).items;

  beforeAll(async () => {
    if (runningLab()) throw new Error("a lab is already running: this suite brings up its own; run 'e2e/lab/lab down' first");
    lab = await up({ nodes: 1 });
    mesh = await HelmMesh.install(lab);
    kubectlSync(lab, ['apply', '-f', '-'], MANIFESTS);
  }, 300_000);

  afterAll(async () => {
    if (runningLab()) await down();
  }, 120_000);

  it('the controller deploys the waypoint and its pod becomes Ready', async () => {
    const pod = await pollUntil('the waypoint pod to be Ready', () => waypointPods().find(isReady), { timeoutMs: 90_000 }).catch((err: Error) => {
      const p = waypointPods()[0];
      throw new Error(`${err.message}\npod: ${JSON.stringify(p?.status)}\nlog: ${p ? mesh.podLogLines(NS, p.metadata.name).slice(-20).map((l) => JSON.stringify(l)).join('\n') : '(no pod)'}`);
    });
    podName = pod.metadata.name;
    wp = await pollUntil('the waypoint process', () => mesh.waypointProcess(NS, podName), { timeoutMs: 10_000 });
    expect(wp.ports.hbone).toBe(15008);
    for (const p of [wp.ports.admin, wp.ports.stats, wp.ports.readiness]) expect(p).toBeGreaterThan(0);
    const r = await fetch(`http://127.0.0.1:${wp.ports.readiness}/healthz/ready`);
    expect(r.status).toBe(200);
  });

  it('runs as a host process told its pod netns, with its cwd the pod root', () => {
    const ref = podRef(NS, podName, lab);
    expect(wp.pid).toBe(ref.containers['istio-proxy']?.pid);
    expect(readlinkSync(`/proc/${wp.pid}/ns/net`)).toBe(readlinkSync('/proc/self/ns/net'));
    const env = readFileSync(`/proc/${wp.pid}/environ`, 'utf8').split('\0');
    expect(env).toContain(`POD_NETNS=/run/netns/${ref.netns}`);
    expect(env).toContain('AUTH_TOKEN=./var/run/secrets/tokens/istio-token');
    expect(env).toContain('XDS_ROOT_CA=./var/run/secrets/istio/root-cert.pem');
    expect(readlinkSync(`/proc/${wp.pid}/cwd`)).toBe(`${ref.dir}/root`);
    expect(readFileSync(`${ref.dir}/root/var/run/secrets/istio/root-cert.pem`, 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(statSync(`${ref.dir}/root/var/run/secrets/tokens/istio-token`).size).toBeGreaterThan(100);
  });

  it('listens on 15008 inside the pod netns and not on the host', () => {
    const ref = podRef(NS, podName, lab);
    const inPod = run(['nsenter', `--net=/run/netns/${ref.netns}`, '--', 'ss', '-Hltn', 'sport = :15008']).stdout;
    expect(inPod).toMatch(/LISTEN/);
    expect(run(['ss', '-Hltn', 'sport = :15008']).stdout).not.toMatch(/LISTEN/);
  });

  it('lab ambientctl sees the waypoint and reads the ztunnels through their recorded admin ports', () => {
    expect(Object.keys(lab.ztunnelAdminPorts ?? {})).toEqual(['node1']);
    const ctl = (args: string[]) => spawnSync(join(REPO_ROOT, 'e2e/lab/lab'), ['ambientctl', ...args], { encoding: 'utf8', timeout: 60_000 });
    const list = ctl(['waypoint', 'list', '-n', NS]);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^waypoint\s/m);
    const workloads = ctl(['ztunnel-config', 'workloads']);
    expect(workloads.status, workloads.stderr).toBe(0);
    expect(workloads.stdout).toContain(podName);
  });

  it('a killed waypoint is restarted as a new process and is Ready again', async () => {
    process.kill(wp.pid, 'SIGKILL');
    const next = await pollUntil('a new waypoint process', () => {
      const p = mesh.waypointProcess(NS, podName);
      return p && p.pid !== wp.pid ? p : undefined;
    }, { timeoutMs: 30_000 });
    await pollUntil('the pod Ready again', () => waypointPods().find((p) => p.metadata.name === podName && isReady(p)), { timeoutMs: 30_000 });
    const r = await fetch(`http://127.0.0.1:${next.ports.readiness}/healthz/ready`);
    expect(r.status).toBe(200);
  });
});
