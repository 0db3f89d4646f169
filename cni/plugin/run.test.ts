// The whole invocation in-process: real state files, a real agent on a unix socket, real logger.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log/logger.ts';
import { readEnrollmentStateFile, writeEnrollmentStateFile } from '../shared/enrollment-state.ts';
import { postCmdAdd } from './agent-client.ts';
import { createPluginLog } from './log.ts';
import { runPlugin, type PluginIo } from './run.ts';
import { answerCaptured, FakeAgent } from './test-agent.ts';

describe('runPlugin', () => {
  let dir: string;
  let agent: FakeAgent;
  let logLines: Record<string, unknown>[];
  const stateFile = () => join(dir, 'ambient-namespaces.state');
  const sock = () => join(dir, 'agent.sock');

  const io: PluginIo = {
    readEnrollmentState: readEnrollmentStateFile,
    askAgent: (plan) => postCmdAdd(plan.socket, plan.event, plan.timeoutMs),
    createLog: (level) =>
      createPluginLog(level, async (l) => {
        const stream = new PassThrough();
        stream.on('data', (d: Buffer) => {
          for (const line of d.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        });
        return createLogger({ component: 'ambient-cni', level: l, destination: stream });
      }),
  };

  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/p' }], ips: [{ address: '10.250.0.5/24', interface: 0 }] };
  const stdin = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ cniVersion: '1.0.0', name: 'pods', type: 'ambient-cni', pluginEventSocket: sock(), enrollmentStateFile: stateFile(), timeoutSeconds: 5, prevResult, ...extra });
  const env = (ns: string, over: Record<string, string | undefined> = {}) => ({
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/run/netns/p',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=web-0;K8S_POD_UID=u-1`,
    ...over,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambient-cni-run-'));
    agent = await FakeAgent.start(sock());
  });
  beforeEach(() => {
    logLines = [];
    agent.respond = answerCaptured;
    agent.received.length = 0;
    writeEnrollmentStateFile(stateFile(), ['mesh']);
  });
  afterAll(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('non-ambient pod: prevResult passes through, the agent is not asked', async () => {
    const r = await runPlugin(env('plain'), stdin(), io);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(prevResult);
    expect(agent.received).toEqual([]);
  });

  it('ambient pod: the agent is asked with the event, then prevResult passes through', async () => {
    const r = await runPlugin(env('mesh'), stdin(), io);
    expect(r).toMatchObject({ exitCode: 0 });
    expect(JSON.parse(r.stdout)).toEqual(prevResult);
    expect(agent.received.map((x) => x.event)).toEqual([
      { containerId: 'c1', netns: '/run/netns/p', ifName: 'eth0', podName: 'web-0', podNamespace: 'mesh', podUid: 'u-1', infraContainerId: '', ips: ['10.250.0.5'] },
    ]);
    expect(logLines).toEqual([]);
  });

  it('logs the capture at debug level', async () => {
    await runPlugin(env('mesh'), stdin({ logLevel: 'debug' }), io);
    expect(logLines.map((l) => l.msg)).toEqual(['ambient namespace: asking the node agent', 'pod captured']);
    expect(logLines[1]).toMatchObject({ level: 'debug', pod: 'mesh/web-0', captured: true, ms: expect.any(Number) });
  });

  it('ambient pod the agent declines (opt-out): passes through', async () => {
    agent.respond = () => ({ status: 200, body: { captured: false, reason: 'pod label istio.io/dataplane-mode=none' } });
    const r = await runPlugin(env('mesh'), stdin(), io);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(prevResult);
  });

  it('ambient pod, agent failing: code 11 naming the socket and the agent error', async () => {
    agent.respond = () => ({ status: 503, body: { error: 'ztunnel not connected' } });
    const r = await runPlugin(env('mesh'), stdin(), io);
    expect(r.exitCode).toBe(1);
    const e = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(e).toMatchObject({ cniVersion: '1.0.0', code: 11 });
    expect(e.msg).toContain(sock());
    expect(e.msg).toContain('ztunnel not connected');
  });

  it('ambient pod, no agent listening: code 11', async () => {
    const r = await runPlugin(env('mesh'), stdin({ pluginEventSocket: join(dir, 'gone.sock') }), io);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 11, msg: expect.stringContaining(`${join(dir, 'gone.sock')} did not confirm capture: agent unreachable`) });
  });

  it('excluded namespace passes through even when listed as ambient', async () => {
    writeEnrollmentStateFile(stateFile(), ['kube-system', 'mesh']);
    const r = await runPlugin(env('kube-system'), stdin(), io);
    expect(r.exitCode).toBe(0);
    expect(agent.received).toEqual([]);
  });

  it('no state file: passes through with a warning on the log', async () => {
    rmSync(stateFile());
    const r = await runPlugin(env('mesh'), stdin(), io);
    expect(r.exitCode).toBe(0);
    expect(agent.received).toEqual([]);
    expect(logLines).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringContaining('does not exist') })]);
  });

  it('DEL succeeds with no agent and says nothing', async () => {
    expect(await runPlugin(env('mesh', { CNI_COMMAND: 'DEL' }), stdin({ pluginEventSocket: join(dir, 'gone.sock') }), io)).toEqual({ exitCode: 0, stdout: '' });
  });

  it('VERSION answers the supported versions', async () => {
    const r = await runPlugin({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.1.0"}', io);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('a rejected request: error JSON, exit 1, one error log line', async () => {
    const r = await runPlugin(env('mesh', { CNI_NETNS: undefined }), stdin(), io);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.0.0', code: 4, msg: 'env.CNI_NETNS: required for ADD' });
    expect(logLines).toEqual([expect.objectContaining({ level: 'error', msg: 'rejected CNI request', code: 4 })]);
  });
});
