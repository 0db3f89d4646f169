// The lab cluster end to end: real apiserver, scheduler and controllers; pods as processes in netns
// made by the CNI chain; pod-IP and Service-VIP traffic across nodes; clean teardown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, exec, kubectl, podRef, runningLab, up } from './lab.ts';
import { pollUntil } from './poll.ts';
import { isReady as ready, sampleApps, type PodJson } from './sample-apps.ts';
import { labNetns, leftovers } from './sweep.ts';
import type { LabState } from './state.ts';

const NS = 'labtest';

const APPS = sampleApps(NS);

function getPods(selector: string): PodJson[] {
  const r = kubectl(['get', 'pods', '-n', NS, '-l', selector, '-o', 'json']);
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { items: PodJson[] }).items;
}


function curlJson(url: string): { pod: string; node: string; labels: Record<string, string> } {
  const r = exec(NS, 'client', ['curl', '-sS', '--max-time', '5', url]);
  if (r.status !== 0) throw new Error(`curl ${url} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { pod: string; node: string; labels: Record<string, string> };
}

describe('lab cluster (root)', () => {
  let lab: LabState;

  beforeAll(async () => {
    if (runningLab()) throw new Error("a lab is already running: this suite brings up its own; run 'e2e/lab/lab down' first");
    lab = await up({ nodes: 2, log: (l) => console.log(l) });
  });

  afterAll(async () => {
    if (runningLab()) await down();
  });

  it('has two Ready nodes, each a network namespace', () => {
    const r = kubectl(['get', 'nodes', '-o', 'json']);
    const nodes = (JSON.parse(r.stdout) as { items: { metadata: { name: string }; spec: { podCIDR: string } }[] }).items;
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual(['node1', 'node2']);
    expect(labNetns(`${lab.prefix}-`).sort()).toEqual([`${lab.prefix}-fabric`, `${lab.prefix}-node1`, `${lab.prefix}-node2`]);
  });

  it('is a real apiserver: invalid objects get its own validation errors', () => {
    const badSvc = kubectl(['apply', '-f', '-'], `apiVersion: v1\nkind: Service\nmetadata: { name: bad, namespace: default }\nspec:\n  ports: [{ port: 70000 }]\n`);
    expect(badSvc.status).not.toBe(0);
    expect(badSvc.stderr).toMatch(/spec\.ports\[0\]\.port: Invalid value: 70000: must be between 1 and 65535/);
    const badPolicy = kubectl(['apply', '-f', '-'], `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: bad, namespace: default }\nspec: { action: MAYBE }\n`);
    expect(badPolicy.status).not.toBe(0);
    expect(badPolicy.stderr).toMatch(/spec\.action: Unsupported value: "MAYBE"/);
  });

  it('issues service-account tokens (TokenRequest) that TokenReview accepts', () => {
    const tok = kubectl(['create', 'token', 'default', '-n', 'default', '--audience', 'istio-ca', '--duration', '10m']);
    expect(tok.status, tok.stderr).toBe(0);
    const review = (token: string) => {
      const r = kubectl(['create', '-o', 'json', '-f', '-'], JSON.stringify({
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['istio-ca'] },
      }));
      expect(r.status, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { status: { authenticated?: boolean; user?: { username: string } } }).status;
    };
    const ok = review(tok.stdout.trim());
    expect(ok.authenticated).toBe(true);
    expect(ok.user?.username).toBe('system:serviceaccount:default:default');
    expect(review(`${tok.stdout.trim().slice(0, -4)}AAAA`).authenticated).not.toBe(true);
  });

  it('schedules and runs a Deployment across nodes; pods reach each other by pod IP and Service VIP', async () => {
    const applied = kubectl(['apply', '-f', '-'], APPS);
    expect(applied.status, applied.stderr).toBe(0);
    const echo = await pollUntil('2 echo pods Ready on 2 nodes', () => {
      const pods = getPods('app=echo');
      return pods.length === 2 && pods.every(ready) && new Set(pods.map((p) => p.spec.nodeName)).size === 2 ? pods : undefined;
    }, { timeoutMs: 60_000 });
    await pollUntil('client pod Ready', () => getPods('app=client').every(ready) && getPods('app=client').length === 1, { timeoutMs: 60_000 });

    const remote = echo.find((p) => p.spec.nodeName === 'node2');
    expect(remote?.status.podIP).toMatch(/^10\.244\.2\./);
    const byIp = curlJson(`http://${remote!.status.podIP}:8080/hello`);
    expect(byIp).toMatchObject({ pod: remote!.metadata.name, node: 'node2', labels: { app: 'echo', version: 'v1' } });

    const svc = kubectl(['get', 'svc', 'echo', '-n', NS, '-o', 'jsonpath={.spec.clusterIP}']);
    const vip = svc.stdout.trim();
    expect(vip).toMatch(/^10\.96\./);
    const seen = new Set<string>();
    await pollUntil('the Service VIP to reach both endpoints', () => {
      seen.add(curlJson(`http://${vip}/`).pod);
      return seen.size === 2;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    expect([...seen].sort()).toEqual(echo.map((p) => p.metadata.name).sort());
  });

  it('reports an unknown image with a clear status message', async () => {
    kubectl(['run', 'nosuch', '-n', NS, '--image=lab/does-not-exist', '--restart=Never']);
    const msg = await pollUntil('ErrImagePull status', () => {
      const p = getPods('run=nosuch')[0];
      const w = p?.status.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === 'ErrImagePull' ? w.message : undefined;
    }, { timeoutMs: 30_000 });
    expect(msg).toMatch(/not in the lab catalogue/);
    expect(kubectl(['delete', 'pod', 'nosuch', '-n', NS, '--wait=true', '--timeout=60s']).status).toBe(0);
  });

  it('deleting the Deployment removes its pods, their namespaces and processes', async () => {
    const netnsBefore = getPods('app=echo').map((p) => podRef(NS, p.metadata.name).netns);
    expect(netnsBefore).toHaveLength(2);
    expect(kubectl(['delete', 'deployment', 'echo', '-n', NS, '--wait=true']).status).toBe(0);
    await pollUntil('echo pods gone', () => getPods('app=echo').length === 0, { timeoutMs: 60_000 });
    await pollUntil('their netns gone', () => netnsBefore.every((n) => !labNetns(n).length), { timeoutMs: 30_000 });
    const procs = leftovers(lab.runId).processes.filter((p) => p.cmd.includes('http-echo'));
    expect(procs).toEqual([]);
  });

  it('lab down leaves no namespace, mount or process behind', async () => {
    const left = await down();
    expect(left).toEqual({ processes: [], netns: [], mounts: [] });
    expect(leftovers(lab.runId, `${lab.prefix}-`)).toEqual({ processes: [], netns: [], mounts: [] });
    expect(runningLab()).toBeUndefined();
  });
});
