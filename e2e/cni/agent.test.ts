// The node agent on the lab: labelling a namespace ambient captures its running pods in place (their
// cross-node traffic becomes HBONE on the fabric), removing the label releases them (plaintext
// again); the pods are annotated as Istio's agent does; a killed and restarted agent keeps the
// captured pods working and repairs a rule deleted by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../lab/config.ts';
import { down, kubectlSync, podRef, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import { isReady, type PodJson } from '../lab/sample-apps.ts';
import type { LabState } from '../lab/state.ts';
import { deployTwoPods, type TwoPods } from '../lab/two-pods.ts';
import { AGENT_MAIN, LabMesh } from '../ztunnel/lab-mesh.ts';
import { requireRoot, talk } from '../ztunnel/netns-harness.ts';

describe('CNI node agent on the lab (root)', () => {
  let lab: LabState;
  let mesh: LabMesh;
  let pods: TwoPods;

  beforeAll(async () => {
    requireRoot('e2e/cni/agent.test.ts');
    lab = await up({ nodes: 2 });
    pods = await deployTwoPods(lab);
    mesh = await LabMesh.start(lab, { nodeAgent: true });
  }, 240_000);

  afterAll(async () => {
    await mesh?.stop();
    await down();
  }, 120_000);

  it('captures running pods when their namespace is labelled ambient, and releases them when the label goes', async () => {
    const before = await pods.exchange();
    expect(before.reply).toBe(before.secret);
    expect(before.plaintextOnWire).toBe(true);
    const uids = { client: pods.pod('client').metadata.uid, echo: pods.pod('echo').metadata.uid };

    kubectlSync(lab, ['label', 'ns', 'amb', 'istio.io/dataplane-mode=ambient']);
    await mesh.syncConfig();
    await pollUntil('both pods annotated as captured', () => pods.redirection('client') === 'enabled' && pods.redirection('echo') === 'enabled', { timeoutMs: 20_000 });
    const meshed = await pods.exchange();
    expect(meshed.reply).toBe(meshed.secret);
    expect(meshed.plaintextOnWire).toBe(false);
    expect([...meshed.ports]).toEqual(['15008']);
    // In place: same pods, no container restart.
    expect({ client: pods.pod('client').metadata.uid, echo: pods.pod('echo').metadata.uid }).toEqual(uids);
    expect(pods.pod('echo').status.containerStatuses?.[0]?.restartCount ?? 0).toBe(0);

    kubectlSync(lab, ['label', 'ns', 'amb', 'istio.io/dataplane-mode-']);
    await pollUntil('the annotations to be cleared', () => pods.redirection('client') === undefined && pods.redirection('echo') === undefined, { timeoutMs: 20_000 });
    await mesh.syncConfig();
    const after = await pods.exchange();
    expect(after.reply).toBe(after.secret);
    expect(after.plaintextOnWire).toBe(true);
    expect([...after.ports]).toEqual(['9000']);
    const metrics = await (await fetch(`http://127.0.0.1:${mesh.agent('node1').ports.metrics}/metrics`)).text();
    expect(metrics).toMatch(/^istio_cni_pods_enrolled_total 1$/m);
    expect(metrics).toMatch(/^istio_cni_pods_unenrolled_total 1$/m);
  });

  it('a killed agent leaves captured pods working; the restarted one repairs a rule deleted by hand', async () => {
    kubectlSync(lab, ['label', 'ns', 'amb', 'istio.io/dataplane-mode=ambient']);
    await mesh.syncConfig();
    await pollUntil('both pods captured', () => pods.redirection('client') === 'enabled' && pods.redirection('echo') === 'enabled', { timeoutMs: 20_000 });
    const agentPid = mesh.agent('node1').pid;
    process.kill(agentPid, 'SIGKILL');
    expect(await talk(pods.netns('client'), pods.ip('echo'), 9000, 'still-meshed')).toBe('still-meshed');
    // Sabotage: drop the outbound redirect in the client pod; traffic would now bypass ztunnel.
    const nsPath = `/run/netns/${pods.netns('client')}`;
    const flush = spawnSync('nsenter', [`--net=${nsPath}`, '--', 'iptables', '-t', 'nat', '-F', 'ISTIO_OUTPUT'], { encoding: 'utf8' });
    expect(flush.status, flush.stderr).toBe(0);
    await mesh.restartAgent('node1', { kill: true });
    const rules = spawnSync('nsenter', [`--net=${nsPath}`, '--', 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }).stdout;
    expect(rules).toMatch(/-A ISTIO_OUTPUT .*--to-ports 15001/);
    const meshed = await pods.exchange();
    expect(meshed.reply).toBe(meshed.secret);
    expect(meshed.plaintextOnWire).toBe(false);
  });

  it('survives malformed requests on the plugin event socket, answering each with a reason', async () => {
    const sock = mesh.agent('node2').pluginEventSocket;
    const post = (body: string, path = '/cmdadd') => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ socketPath: sock, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(await post('{nope')).toMatchObject({ status: 400, body: expect.stringContaining('not JSON') });
    expect(await post(JSON.stringify({ podName: 'x' }))).toMatchObject({ status: 400, body: expect.stringContaining('event.netns') });
    expect((await post('{}', '/other')).status).toBe(400);
    // Raw bytes that are not HTTP at all.
    await new Promise<void>((resolve) => {
      const s = createConnection(sock, () => s.end('\x00\x01garbage\r\n\r\n'));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
    });
    const { readiness, metrics } = mesh.agent('node2').ports;
    expect((await fetch(`http://127.0.0.1:${readiness}/readyz`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text()).toMatch(/^istio_cni_plugin_events_total\{result="invalid"\} [4-9]$/m);
    expect(await talk(pods.netns('client'), pods.ip('echo'), 9000, 'unaffected')).toBe('unaffected');
  });

  it('keeps the plugin in the node chain: installed, re-inserted after a rewrite, removed by uninstall; valid JSON at each step', async () => {
    const node = lab.nodes[0]!;
    const file = join(node.cniConfDir, '10-lab.conflist');
    const types = () => (JSON.parse(readFileSync(file, 'utf8')) as { plugins: { type: string }[] }).plugins.map((p) => p.type);
    expect(types()).toEqual(['bridge', 'ambient-cni']);
    expect(existsSync(join(node.cniBinDir, 'ambient-cni'))).toBe(true);
    // Self-contained: the launcher runs a node binary and the plugin bundle copied into the bin dir,
    // nothing of the agent's own tree (which a real node does not have).
    const launcher = readFileSync(join(node.cniBinDir, 'ambient-cni'), 'utf8');
    const payload = join(node.cniBinDir, 'ambient-cni.d');
    expect(launcher).toContain(`'${payload}/node'`);
    expect(launcher).toContain(`'${payload}/plugin.mjs'`);
    expect(launcher).not.toContain(`${REPO_ROOT}/`);
    expect(existsSync(join(payload, 'node')) && existsSync(join(payload, 'plugin.mjs'))).toBe(true);
    // Another tool rewrites the conflist without us.
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { plugins: { type: string }[] };
    writeFileSync(file, JSON.stringify({ ...doc, plugins: doc.plugins.filter((p) => p.type !== 'ambient-cni') }, null, 2));
    await pollUntil('the agent to re-insert the plugin', () => types().join() === 'bridge,ambient-cni', { timeoutMs: 10_000 });
    const agentLog = mesh.agent('node1').log;
    // Uninstall (the agent is stopped first, as a DaemonSet removal would).
    const env = { ...process.env, NODE_NAME: 'node1', KUBECONFIG: lab.kubeconfig, CNI_NET_DIR: node.cniConfDir, CNI_BIN_DIR: node.cniBinDir, PLUGIN_EVENT_SOCKET: mesh.agent('node1').pluginEventSocket };
    await mesh.stopAgent('node1');
    const r = spawnSync(process.execPath, [AGENT_MAIN, 'uninstall'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(types()).toEqual(['bridge']);
    expect(existsSync(join(node.cniBinDir, 'ambient-cni'))).toBe(false);
    expect(existsSync(payload)).toBe(false);
    expect(readFileSync(agentLog, 'utf8')).toContain('plugin inserted into the CNI chain');
    await mesh.restartAgent('node1');
    expect(types()).toEqual(['bridge', 'ambient-cni']);
  });

  it('captures a new ambient pod before its first connection', async () => {
    const echoIp = pods.ip('echo');
    kubectlSync(lab, ['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: { name: first, namespace: amb, labels: { app: first } }
spec: { nodeName: node1, containers: [{ name: main, image: lab/sleep, env: [{ name: CONNECT_ON_START, value: "${echoIp}:9000" }] }] }
`);
    // ztunnel holds the pod's first connection until it knows the pod (here: the config file).
    const firstIp = await pollUntil('the pod IP', () => kubectlSync(lab, ['get', 'pod', '-n', 'amb', 'first', '-o', 'jsonpath={.status.podIP}']).stdout.trim() || undefined, { timeoutMs: 30_000 });
    await mesh.syncConfig();
    const line = await pollUntil('the first connection in node1 ztunnel access log', () =>
      mesh.logLines('node1').find((l) => l.scope === 'access' && l.direction === 'outbound' && String(l['src.addr']).startsWith(`${firstIp}:`)), { timeoutMs: 20_000 }).catch((err: Error) => {
      const tail = mesh.logLines('node1').slice(-12).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`${err.message}\npod: ${kubectlSync(lab, ['get', 'pod', '-n', 'amb', 'first', '-o', 'jsonpath={.status}']).stdout}\nztunnel node1:\n${tail}`);
    });
    expect(line).toMatchObject({ 'dst.hbone_addr': `${echoIp}:9000`, 'src.workload': 'first' });
    expect(line.error).toBeUndefined();
    expect(pods.redirection('first')).toBe('enabled');
  });

  it('while the agent is down: other pods start, ambient pods fail ADD with a clear error and start once it is back', async () => {
    await mesh.stopAgent('node1', 'SIGKILL');
    kubectlSync(lab, ['apply', '-f', '-'], `
apiVersion: v1
kind: Namespace
metadata: { name: plain2 }
---
apiVersion: v1
kind: Pod
metadata: { name: free, namespace: plain2 }
spec: { nodeName: node1, containers: [{ name: main, image: lab/sleep }] }
---
apiVersion: v1
kind: Pod
metadata: { name: late, namespace: amb, labels: { app: late } }
spec: { nodeName: node1, containers: [{ name: main, image: lab/sleep }] }
`);
    const get = (n: string, name: string) => JSON.parse(kubectlSync(lab, ['get', 'pod', '-n', n, name, '-o', 'json']).stdout) as PodJson & { status: { message?: string } };
    await pollUntil('the non-ambient pod to be Ready', () => isReady(get('plain2', 'free')), { timeoutMs: 30_000 });
    expect(await talk(podRef('plain2', 'free', lab).netns, pods.ip('echo'), 9000, 'plain while the agent is down')).toBe('plain while the agent is down');
    // The status message may first show a transient step before the sandbox (a volume's token
    // request racing the pod's creation); wait for the CNI failure itself.
    const failed = await pollUntil('the ambient pod to report the failed ADD', () => {
      const message = get('amb', 'late').status.message;
      return message?.includes('ambient-cni') ? message : undefined;
    }, { timeoutMs: 30_000 });
    expect(failed).toMatch(/ambient-cni/);
    expect(failed).toMatch(/agent|pluginevent/i);
    expect(isReady(get('amb', 'late'))).toBe(false);
    await mesh.restartAgent('node1');
    await pollUntil('the ambient pod to start once the agent is back', () => isReady(get('amb', 'late')), { timeoutMs: 40_000 });
    await pollUntil('the pod annotated', () => pods.redirection('late') === 'enabled', { timeoutMs: 10_000 });
  }, 90_000);

  it('a restarted ztunnel gets the snapshot from the agent and capture resumes for every pod', async () => {
    const z = await mesh.restart('node2');
    expect(z.generation).toBeGreaterThan(1);
    const meshed = await pods.exchange();
    expect(meshed.reply).toBe(meshed.secret);
    expect(meshed.plaintextOnWire).toBe(false);
    expect([...meshed.ports]).toEqual(['15008']);
  });
});
