// The lab kubelet's API through the real apiserver: `kubectl exec` (stdout, stderr, exit code,
// stdin, the pod's netns/env/cwd), `lab exec` on top of it, `kubectl logs` (-f sees a later line,
// --tail), `kubectl port-forward` to an echo pod, and the kubelet port refusing callers without
// the apiserver's client certificate.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PORTS, REPO_ROOT } from './config.ts';
import { run } from './exec.ts';
import { down, kubectl, kubectlArgs, runningLab, up } from './lab.ts';
import { pollUntil } from './poll.ts';
import { isReady, sampleApps, type PodJson } from './sample-apps.ts';
import type { LabState } from './state.ts';

const NS = 'kapitest';
const LOGGER = `
apiVersion: v1
kind: Pod
metadata: { name: logger, namespace: ${NS}, labels: { app: logger } }
spec:
  nodeSelector: { kubernetes.io/hostname: node2 }
  containers: [{ name: logger, image: lab/sleep, env: [{ name: CAT_FILES, value: marker.txt }] }]
`;

function getPods(selector: string): PodJson[] {
  const r = kubectl(['get', 'pods', '-n', NS, '-l', selector, '-o', 'json']);
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { items: PodJson[] }).items;
}

/** A long-running child whose output is collected as it comes. */
function background(argv: string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { child, out: () => out, err: () => err };
}

function kubeletGet(lab: LabState, path: string, client?: string): Promise<{ status: number; body: string }> {
  const pki = join(lab.dir, 'pki');
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: PORTS.kubeletBase + 1, path, method: 'GET',
      ca: readFileSync(join(pki, 'ca.crt')),
      ...(client ? { cert: readFileSync(join(pki, `${client}.crt`)), key: readFileSync(join(pki, `${client}.key`)) } : {}),
      timeout: 5000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A WebSocket to a pod subresource through the apiserver with one subprotocol (v4 is passed through
 * to the kubelet unchanged); collects each channel's bytes until the server closes.
 */
function apiWebSocket(lab: LabState, path: string, protocol: string, onOpen?: (ws: WebSocket) => void): Promise<{ protocol: string; channels: Map<number, Buffer[]> }> {
  const pki = join(lab.dir, 'pki');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${PORTS.apiserver}${path}`, [protocol], {
      ca: readFileSync(join(pki, 'ca.crt')), cert: readFileSync(join(pki, 'admin.crt')), key: readFileSync(join(pki, 'admin.key')),
    });
    const channels = new Map<number, Buffer[]>();
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no close through the apiserver within 15 s (channels ${[...channels.keys()].join(',')})`));
    }, 15_000);
    ws.on('close', () => clearTimeout(timer));
    ws.on('open', () => onOpen?.(ws));
    ws.on('message', (data: Buffer) => {
      const list = channels.get(data[0]!) ?? [];
      list.push(data.subarray(1));
      channels.set(data[0]!, list);
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`WebSocket refused: ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('close', () => resolve({ protocol: ws.protocol, channels }));
  });
}

const text = (chunks: Buffer[] | undefined): string => Buffer.concat(chunks ?? []).toString();

describe('lab kubelet API (root)', () => {
  let lab: LabState;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (runningLab()) throw new Error("a lab is already running: this suite brings up its own; run 'e2e/lab/lab down' first");
    lab = await up({ nodes: 2, log: (l) => console.log(l) });
    const applied = kubectl(['apply', '-f', '-'], `${sampleApps(NS)}\n---\n${LOGGER}`);
    if (applied.status !== 0) throw new Error(applied.stderr);
    await pollUntil('echo, client and logger pods Ready', () => {
      const pods = getPods('app in (echo,client,logger)');
      return pods.length === 4 && pods.every(isReady);
    }, { timeoutMs: 90_000 });
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (runningLab()) await down();
  });

  it('advertises the kubelet endpoint on the Node (loopback address, per-node port)', () => {
    const r = kubectl(['get', 'node', 'node1', '-o', 'json']);
    const node = JSON.parse(r.stdout) as { status: { addresses: { type: string; address: string }[]; daemonEndpoints: { kubeletEndpoint: { Port: number } } } };
    expect(node.status.daemonEndpoints.kubeletEndpoint.Port).toBe(PORTS.kubeletBase + 1);
    expect(node.status.addresses).toContainEqual({ type: 'ExternalIP', address: '127.0.0.1' });
  });

  it('kubectl exec: stdout and stderr apart, in the pod netns with the container env and cwd', () => {
    const r = kubectl(['exec', '-n', NS, 'client', '--', 'sh', '-c', 'echo "out $POD_NAME"; echo err >&2; ip -4 -o addr show dev eth0; pwd']);
    expect(r.status, r.stderr).toBe(0);
    const podIp = getPods('app=client')[0]!.status.podIP!;
    expect(r.stdout).toMatch(/^out client\n/);
    expect(r.stdout).toContain(`inet ${podIp}/`);
    expect(r.stdout).toMatch(new RegExp(`/${NS}_client_[0-9a-f-]+/root\n$`)); // the pod root, the containers' cwd
    expect(r.stderr).toBe('err\n');
  });

  it('kubectl exec: a non-zero exit code is propagated', () => {
    const r = kubectl(['exec', '-n', NS, 'client', '--', 'sh', '-c', 'echo bye; exit 3']);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('bye\n');
    expect(r.stderr).toMatch(/command terminated with exit code 3/);
  });

  it('kubectl exec: an unknown command is a clear error, not a hang', () => {
    const r = kubectl(['exec', '-n', NS, 'client', '--', 'no-such-binary-here']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/executable file not found in \$PATH/);
  });

  it('kubectl exec -i: stdin reaches the command, EOF included', () => {
    const input = `${'x'.repeat(200_000)}\nlast line\n`;
    const r = kubectl(['exec', '-i', '-n', NS, 'client', '--', 'sh', '-c', 'wc -c; echo done'], input);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${Buffer.byteLength(input)}\ndone\n`);
  });

  it('kubectl exec over SPDY end to end (the fallback kubectl uses without WebSockets)', () => {
    const env = { ...process.env, KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' };
    const r = run(kubectlArgs(lab, ['exec', '-i', '-n', NS, 'client', '--', 'sh', '-c', 'cat; echo e >&2; exit 4']), { env, allowFail: true, input: 'spdy-in\n' });
    expect(r.status).toBe(4);
    expect(r.stdout).toBe('spdy-in\n');
    expect(r.stderr).toMatch(/^e\n.*command terminated with exit code 4/s);
  });

  it('exec over a WebSocket v4.channel.k8s.io (passed through to the kubelet): channels and the exit status', async () => {
    const cmd = ['sh', '-c', 'echo ws-out; echo ws-err >&2; exit 2'].map((c) => `command=${encodeURIComponent(c)}`).join('&');
    const r = await apiWebSocket(lab, `/api/v1/namespaces/${NS}/pods/client/exec?${cmd}&stdout=true&stderr=true`, 'v4.channel.k8s.io');
    expect(r.protocol).toBe('v4.channel.k8s.io');
    expect(text(r.channels.get(1))).toBe('ws-out\n');
    expect(text(r.channels.get(2))).toBe('ws-err\n');
    expect(JSON.parse(text(r.channels.get(3)))).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '2' }] } });
  });

  it('exec with tty=true gets a terminal (stderr merged into stdout)', async () => {
    const cmd = ['sh', '-c', 'tty; echo to-err >&2'].map((c) => `command=${encodeURIComponent(c)}`).join('&');
    const r = await apiWebSocket(lab, `/api/v1/namespaces/${NS}/pods/client/exec?${cmd}&stdout=true&stderr=true&tty=true`, 'v4.channel.k8s.io');
    expect(text(r.channels.get(1))).toMatch(/^\/dev\/pts\/\d+\r?\nto-err\r?\n$/);
    expect(r.channels.get(2)).toBeUndefined();
    expect(JSON.parse(text(r.channels.get(3)))).toMatchObject({ status: 'Success' });
  });

  it('port-forward over a WebSocket v4.channel.k8s.io (passed through to the kubelet)', async () => {
    const pod = getPods('app=echo')[0]!.metadata.name;
    const r = await apiWebSocket(lab, `/api/v1/namespaces/${NS}/pods/${pod}/portforward?ports=8080`, 'v4.channel.k8s.io', (ws) => {
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET /ws HTTP/1.0\r\nHost: x\r\n\r\n')]));
    });
    const [portData, ...data] = r.channels.get(0) ?? [];
    expect(portData?.readUInt16LE(0)).toBe(8080);
    expect(r.channels.get(1)?.[0]?.readUInt16LE(0)).toBe(8080);
    const response = Buffer.concat(data).toString();
    expect(response).toMatch(/^HTTP\/1\.[01] 200/);
    expect(response).toContain(`"pod":"${pod}"`);
  });

  it('lab exec wraps kubectl exec: output passed through, exit code kept', async () => {
    const run = background([join(REPO_ROOT, 'e2e/lab/lab'), 'exec', '-n', NS, 'client', '--', 'sh', '-c', 'echo via-lab; exit 7']);
    const code = await new Promise<number | null>((resolve) => run.child.on('exit', resolve));
    expect(code).toBe(7);
    expect(run.out()).toBe('via-lab\n');
  });

  it('kubectl logs -f sees a line written after it started; --tail limits', async () => {
    const follow = background(kubectlArgs(lab, ['logs', '-f', '-n', NS, 'logger']));
    children.push(follow.child);
    await pollUntil('the first log lines', () => follow.out().includes('sleep started'), { timeoutMs: 20_000 });
    const w = kubectl(['exec', '-n', NS, 'logger', '--', 'sh', '-c', 'echo written-later > marker.txt']);
    expect(w.status, w.stderr).toBe(0);
    await pollUntil('the later line through logs -f', () => follow.out().includes('written-later'), { timeoutMs: 20_000 });
    expect(follow.child.exitCode).toBeNull();
    follow.child.kill('SIGTERM');

    const tail = kubectl(['logs', '--tail=1', '-n', NS, 'logger']);
    expect(tail.status, tail.stderr).toBe(0);
    expect(tail.stdout.trim().split('\n')).toHaveLength(1);
    expect(tail.stdout).toContain('written-later');
    const missing = kubectl(['logs', '-n', NS, 'logger', '-c', 'nope']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/container nope is not valid|not found/);
  });

  it.each([
    ['WebSocket tunnel', 'true'],
    ['SPDY', 'false'],
  ])('kubectl port-forward (%s) reaches an echo pod, also with a large body', async (_name, websockets) => {
    const pod = getPods('app=echo')[0]!.metadata.name;
    const pf = background(kubectlArgs(lab, ['port-forward', '-n', NS, `pod/${pod}`, ':8080']), { ...process.env, KUBECTL_PORT_FORWARD_WEBSOCKETS: websockets });
    children.push(pf.child);
    const local = await pollUntil('port-forward to listen', () => /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(pf.out())?.[1], { timeoutMs: 30_000 });
    const res = await fetch(`http://127.0.0.1:${local}/hello`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ pod, labels: { app: 'echo' } });
    const body = Buffer.alloc(1024 * 1024, 'a');
    const echoed = await fetch(`http://127.0.0.1:${local}/echo`, { method: 'POST', body });
    expect(Buffer.from(await echoed.arrayBuffer()).equals(body)).toBe(true);
    // A port nothing listens on: kubectl reports the kubelet's error, and the forward keeps serving.
    pf.child.kill('SIGTERM');
    const refused = background(kubectlArgs(lab, ['port-forward', '-n', NS, `pod/${pod}`, ':9']), { ...process.env, KUBECTL_PORT_FORWARD_WEBSOCKETS: websockets });
    children.push(refused.child);
    const port9 = await pollUntil('port-forward to :9 to listen', () => /Forwarding from 127\.0\.0\.1:(\d+) -> 9/.exec(refused.out())?.[1], { timeoutMs: 30_000 });
    await fetch(`http://127.0.0.1:${port9}/`).catch(() => undefined);
    await pollUntil('the forwarding error', () => /error forwarding port 9 to pod/.test(refused.err()), { timeoutMs: 20_000 });
    refused.child.kill('SIGTERM');
  });

  it('the kubelet port refuses callers without the apiserver client certificate', async () => {
    const none = await kubeletGet(lab, '/healthz');
    expect(none.status).toBe(401);
    expect(none.body).toMatch(/client certificate/);
    const admin = await kubeletGet(lab, '/healthz', 'admin');
    expect(admin.status).toBe(403);
    expect(admin.body).toMatch(/user=kubernetes-admin/);
    const ok = await kubeletGet(lab, '/healthz', 'kube-apiserver-kubelet-client');
    expect(ok).toEqual({ status: 200, body: 'ok' });
    expect((await kubeletGet(lab, '/nosuch/path', 'kube-apiserver-kubelet-client')).status).toBe(404);
    const bad = await kubeletGet(lab, `/exec/${NS}/client/client?output=1`, 'kube-apiserver-kubelet-client');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/command/);
    const logs = await kubeletGet(lab, `/containerLogs/${NS}/client/client?tailLines=-1`, 'kube-apiserver-kubelet-client');
    expect(logs.status).toBe(422);
    // The kubelet is still there after all of that.
    expect((await kubeletGet(lab, '/healthz', 'kube-apiserver-kubelet-client')).status).toBe(200);
  });
});
