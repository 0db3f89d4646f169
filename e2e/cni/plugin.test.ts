// The chained plugin in a real CNI chain, run the way a container runtime runs it: Debian's
// `bridge` + `host-local`, then `ambient-cni` through the launcher script the node agent installs,
// each exec'd in a throwaway "node" netns with the CNI_* environment and the config (plus
// prevResult) on stdin. A stand-in agent answers on a unix socket. Root: creates network namespaces.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launcherPath, PLUGIN_MAIN_PATH, renderLauncher } from '../../cni/plugin/launcher.ts';
import { answerCaptured, FakeAgent } from '../../cni/plugin/test-agent.ts';
import { writeEnrollmentStateFile } from '../../cni/shared/enrollment-state.ts';
import { PLUGIN_TYPE } from '../../cni/shared/plugin-event.ts';
import { createThrowawayNetns, type ThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { CNI_BIN_DIR } from '../lab/config.ts';
import { inNetns, runAsync } from '../lab/exec.ts';
import { cniAdd, cniDel, CniError, type CniRuntimeArgs } from '../lab/kubelet/cni.ts';
import { pollUntil } from '../lab/poll.ts';

type Json = Record<string, unknown>;
type PluginConf = { type: string } & Json;
interface Conflist {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}
interface Exec {
  status: number | null;
  stdout: string;
  stderr: string;
  /** performance.now() when the process had exited. */
  endedAt: number;
}

const SUBNET = '10.253.7.0/24';

describe('ambient-cni in a real CNI chain (root)', () => {
  let dir: string;
  let binDir: string;
  let node: ThrowawayNetns;
  let agent: FakeAgent | undefined;
  const pods: { ns: ThrowawayNetns; rt: CniRuntimeArgs }[] = [];
  let list: Conflist;
  const sock = () => join(dir, 'pluginevent.sock');
  const stateFile = () => join(dir, 'net.d', 'ambient-namespaces.state');
  const env = () => ({ nodeNetns: node.name, binDirs: [binDir, CNI_BIN_DIR] });

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('must run as root: creates network namespaces');
    for (const p of ['bridge', 'host-local']) if (!existsSync(join(CNI_BIN_DIR, p))) throw new Error(`Debian CNI plugin ${p} missing in ${CNI_BIN_DIR}`);
    dir = mkdtempSync(join(tmpdir(), 'amt-cni-plugin-'));
    binDir = join(dir, 'bin');
    for (const d of [binDir, join(dir, 'net.d')]) mkdirSync(d);
    const launcher = launcherPath(binDir);
    writeFileSync(launcher, renderLauncher({ nodePath: process.execPath, mainPath: PLUGIN_MAIN_PATH, compileCacheDir: join(dir, 'compile-cache') }));
    chmodSync(launcher, 0o755);
    writeEnrollmentStateFile(stateFile(), ['mesh']);
    node = createThrowawayNetns();
    list = {
      cniVersion: '1.0.0',
      name: 'amt-pods',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]], dataDir: join(dir, 'ipam') },
        },
        { type: PLUGIN_TYPE, pluginEventSocket: sock(), enrollmentStateFile: stateFile(), excludeNamespaces: ['kube-system'], logLevel: 'debug', timeoutSeconds: 5 },
      ],
    };
    agent = await FakeAgent.start(sock());
  });

  afterAll(async () => {
    // Everything, even after a failure: chain DEL per pod, the netns, the agent, the files.
    for (const p of pods) {
      await cniDel(list, p.rt, env()).catch(() => []);
      try {
        p.ns.remove();
      } catch {
        /* keep cleaning */
      }
    }
    try {
      node?.remove();
    } catch {
      /* keep cleaning */
    }
    await agent?.close().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function newPod(namespace: string, name: string): { ns: ThrowawayNetns; rt: CniRuntimeArgs } {
    const ns = createThrowawayNetns();
    const uid = `uid-${ns.name}`;
    const rt: CniRuntimeArgs = {
      containerId: ns.name,
      netnsPath: ns.path,
      ifName: 'eth0',
      args: { IgnoreUnknown: 'true', K8S_POD_NAMESPACE: namespace, K8S_POD_NAME: name, K8S_POD_INFRA_CONTAINER_ID: ns.name, K8S_POD_UID: uid },
    };
    const pod = { ns, rt };
    pods.push(pod);
    return pod;
  }

  /** One plugin exec, as the runtime does it (lab kubelet's way), keeping its raw output. */
  async function exec(command: string, conf: Json, rt: CniRuntimeArgs | undefined, envOver: Record<string, string | undefined> = {}): Promise<Exec> {
    const type = String(conf.type);
    const binary = [binDir, CNI_BIN_DIR].map((d) => join(d, type)).find((p) => existsSync(p))!;
    const e: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_PATH: `${binDir}:${CNI_BIN_DIR}`,
      ...(rt
        ? {
            CNI_CONTAINERID: rt.containerId,
            CNI_NETNS: rt.netnsPath,
            CNI_IFNAME: rt.ifName,
            CNI_ARGS: Object.entries(rt.args).map(([k, v]) => `${k}=${v}`).join(';'),
          }
        : {}),
      ...envOver,
    };
    for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
    const input = typeof conf.__raw === 'string' ? conf.__raw : JSON.stringify(conf);
    const r = await runAsync(inNetns(node.name, [binary]), { input, env: e, allowFail: true, timeoutMs: 30_000 });
    return { ...r, endedAt: performance.now() };
  }

  const confOf = (i: number, prevResult?: Json): Json => ({ ...list.plugins[i], cniVersion: list.cniVersion, name: list.name, ...(prevResult ? { prevResult } : {}) });

  /** ADD through the chain step by step, keeping each plugin's result. */
  async function addStepwise(rt: CniRuntimeArgs): Promise<{ bridge: Json; ours: Exec }> {
    const b = await exec('ADD', confOf(0), rt);
    expect(b.status, b.stderr).toBe(0);
    const bridge = JSON.parse(b.stdout) as Json;
    return { bridge, ours: await exec('ADD', confOf(1, bridge), rt) };
  }

  it('non-ambient pod: passes through with prevResult intact, agent not asked', async () => {
    const { rt } = newPod('plain', 'web-0');
    const before = agent!.received.length;
    const { bridge, ours } = await addStepwise(rt);
    expect(ours.status, ours.stderr).toBe(0);
    expect(JSON.parse(ours.stdout)).toEqual(bridge);
    expect((bridge.ips as { address: string }[])[0]?.address).toMatch(/^10\.253\.7\.\d+\/24$/);
    expect(agent!.received.length).toBe(before);
  });

  it('kube-system pod passes through even when the state lists it', async () => {
    writeEnrollmentStateFile(stateFile(), ['mesh', 'kube-system']);
    try {
      const { rt } = newPod('kube-system', 'coredns-0');
      const before = agent!.received.length;
      const { bridge, ours } = await addStepwise(rt);
      expect(JSON.parse(ours.stdout)).toEqual(bridge);
      expect(agent!.received.length).toBe(before);
    } finally {
      writeEnrollmentStateFile(stateFile(), ['mesh']);
    }
  });

  it('ambient pod: the plugin returns only after the agent answered, with the pod in the event', async () => {
    const holdMs = 400;
    agent!.respond = async () => {
      await new Promise((r) => setTimeout(r, holdMs)); // a slow capture, on purpose
      return { status: 200, body: { captured: true } };
    };
    try {
      const { ns, rt } = newPod('mesh', 'reviews-0');
      const before = agent!.received.length;
      const { bridge, ours } = await addStepwise(rt);
      expect(ours.status, ours.stderr).toBe(0);
      expect(JSON.parse(ours.stdout)).toEqual(bridge);
      const got = agent!.received.slice(before);
      expect(got).toHaveLength(1);
      const rec = got[0]!;
      expect(rec.event).toEqual({
        containerId: rt.containerId,
        netns: ns.path,
        ifName: 'eth0',
        podName: 'reviews-0',
        podNamespace: 'mesh',
        podUid: rt.args.K8S_POD_UID,
        infraContainerId: rt.containerId,
        ips: (bridge.ips as { address: string }[]).map((i) => i.address.split('/')[0]),
      });
      expect(rec.answeredAt).toBeDefined();
      expect(rec.answeredAt! - rec.receivedAt).toBeGreaterThanOrEqual(holdMs - 5);
      expect(ours.endedAt).toBeGreaterThan(rec.answeredAt!);
      expect(ours.stderr).toContain('"msg":"pod captured"');
    } finally {
      agent!.respond = answerCaptured;
    }
  });

  it('the whole chain through the lab kubelet runner: ambient pod captured, DEL clean', async () => {
    const { rt } = newPod('mesh', 'ratings-0');
    const before = agent!.received.length;
    const result = await cniAdd(list, rt, env());
    expect(result.ips?.[0]?.address).toMatch(/^10\.253\.7\./);
    expect(agent!.received.length).toBe(before + 1);
    expect(await cniDel(list, rt, env())).toEqual([]);
  });

  it('agent answers an error: ambient ADD fails with code 11 and the agent error', async () => {
    agent!.respond = () => ({ status: 503, body: { error: 'ztunnel is not connected' } });
    try {
      const { rt } = newPod('mesh', 'details-0');
      const err = await cniAdd(list, rt, env()).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).cniCode).toBe(11);
      expect((err as CniError).message).toContain('ztunnel is not connected');
    } finally {
      agent!.respond = answerCaptured;
    }
  });

  it('agent too slow: ambient ADD fails with code 11 after timeoutSeconds', async () => {
    let release = () => {};
    agent!.respond = () => new Promise((r) => (release = () => r({ status: 200, body: { captured: true } })));
    try {
      const { rt } = newPod('mesh', 'slow-0');
      const b = await exec('ADD', confOf(0), rt);
      const t0 = performance.now();
      const ours = await exec('ADD', { ...confOf(1, JSON.parse(b.stdout) as Json), timeoutSeconds: 1 }, rt);
      expect(ours.status).not.toBe(0);
      expect(JSON.parse(ours.stdout)).toMatchObject({ code: 11, msg: expect.stringContaining('no answer within 1s') });
      expect(ours.endedAt - t0).toBeGreaterThanOrEqual(1000);
    } finally {
      release();
      agent!.respond = answerCaptured;
    }
  });

  it('no state file yet: every pod passes through, with a warning on stderr', async () => {
    const { rt } = newPod('mesh', 'early-0');
    const b = await exec('ADD', confOf(0), rt);
    const bridge = JSON.parse(b.stdout) as Json;
    const before = agent!.received.length;
    const ours = await exec('ADD', { ...confOf(1, bridge), enrollmentStateFile: join(dir, 'net.d', 'never-written.state') }, rt);
    expect(ours.status, ours.stderr).toBe(0);
    expect(JSON.parse(ours.stdout)).toEqual(bridge);
    expect(agent!.received.length).toBe(before);
    expect(ours.stderr).toMatch(/"level":"warn".*never-written\.state does not exist/);
  });

  it.each([
    { name: 'missing CNI_NETNS', command: 'ADD', env: { CNI_NETNS: undefined }, raw: undefined, code: 4, msg: 'env.CNI_NETNS: required for ADD' },
    { name: 'malformed stdin', command: 'ADD', env: {}, raw: '{"cniVersion":"1.0.0","name":', code: 6, msg: 'stdin: not valid JSON' },
    { name: 'unknown command', command: 'ATTACH', env: {}, raw: undefined, code: 4, msg: 'env.CNI_COMMAND: unknown command "ATTACH"' },
  ])('$name: CNI error JSON (code $code) on stdout, non-zero exit', async ({ command, env: over, raw, code, msg }) => {
    const rt: CniRuntimeArgs = { containerId: 'amt-bad', netnsPath: '/run/netns/amt-none', ifName: 'eth0', args: { K8S_POD_NAMESPACE: 'mesh', K8S_POD_NAME: 'x' } };
    const conf = { ...confOf(1, { cniVersion: '1.0.0', ips: [] }), ...(raw ? { __raw: raw } : {}) };
    const r = await exec(command, conf, rt, over);
    expect(r.status).not.toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const e = JSON.parse(r.stdout) as Json;
    expect(e).toMatchObject({ code, cniVersion: expect.any(String) });
    expect(e.msg).toContain(msg);
  });

  it('VERSION through the launcher', async () => {
    const r = await exec('VERSION', { type: PLUGIN_TYPE, __raw: '{"cniVersion":"1.0.0"}' }, undefined);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  describe('with the agent down', () => {
    beforeAll(async () => {
      await agent!.close();
      agent = undefined;
      await pollUntil('the agent socket to be gone', () => !existsSync(sock()), { timeoutMs: 5000 });
    });

    it('ambient ADD fails with code 11 and a message naming the socket', async () => {
      const { rt } = newPod('mesh', 'productpage-0');
      const err = await cniAdd(list, rt, env()).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).plugin).toBe(PLUGIN_TYPE);
      expect((err as CniError).cniCode).toBe(11);
      expect((err as CniError).message).toContain(sock());
      // What a runtime does next: DEL the half-made sandbox. It must succeed with the agent down.
      expect(await cniDel(list, rt, env())).toEqual([]);
    });

    it('a stale socket file (agent crashed) fails the same way', async () => {
      writeFileSync(sock(), '');
      try {
        const { rt } = newPod('mesh', 'productpage-1');
        const err = await cniAdd(list, rt, env()).then(() => undefined, (e: unknown) => e);
        expect((err as CniError).cniCode).toBe(11);
        expect((err as CniError).message).toContain('ECONNREFUSED');
      } finally {
        rmSync(sock(), { force: true });
      }
    });

    it('non-ambient ADD still succeeds', async () => {
      const { rt } = newPod('plain', 'web-1');
      const { bridge, ours } = await addStepwise(rt);
      expect(ours.status, ours.stderr).toBe(0);
      expect(JSON.parse(ours.stdout)).toEqual(bridge);
    });

    it('DEL of an ambient pod succeeds, empty stdout', async () => {
      const { rt } = newPod('mesh', 'gone-0');
      const b = await exec('ADD', confOf(0), rt);
      const r = await exec('DEL', confOf(1, JSON.parse(b.stdout) as Json), rt);
      expect(r).toMatchObject({ status: 0, stdout: '' });
      expect(await cniDel(list, rt, env())).toEqual([]);
    });
  });
});
