// What ambient-cni adds to every pod start: N sequential CNI ADD execs of our plugin (through the
// launcher the node agent installs, running the one-file bundle of `make cni-plugin`) for a non-ambient pod (pass-through) and an ambient one (a
// stand-in agent answering at once), next to Debian's `loopback` and `bridge`+`host-local` ADD as
// the baseline a runtime pays anyway. Prints median and p90 wall time per exec, side by side.
// Run as root (the baselines need network namespaces): `node bench/cni/plugin-startup.ts`;
// BENCH_N overrides N (default 30).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PLUGIN_BUNDLE } from '../../cni/agent/config.ts';
import { launcherPath, PLUGIN_MAIN_PATH, renderLauncher } from '../../cni/plugin/launcher.ts';
import { FakeAgent } from '../../cni/plugin/test-agent.ts';
import { writeEnrollmentStateFile } from '../../cni/shared/enrollment-state.ts';
import { PLUGIN_TYPE } from '../../cni/shared/plugin-event.ts';
import { createThrowawayNetns, isRoot, type ThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { CNI_BIN_DIR } from '../../e2e/lab/config.ts';
import { inNetns, runAsync } from '../../e2e/lab/exec.ts';
import { percentile, renderTextTable } from '../common/report.ts';

const N = Number(process.env.BENCH_N ?? 30);
const WARMUP = 3;
const log = (l: string) => process.stderr.write(`bench/cni: ${l}\n`);

interface Case {
  name: string;
  /** Untimed work before each sample (e.g. a fresh pod netns). */
  before?: () => Promise<void> | void;
  /** The timed exec; throws on a non-zero exit. */
  run: () => Promise<void>;
  after?: () => Promise<void> | void;
}

interface Summary {
  name: string;
  median: number;
  p90: number;
}

/** Round-robin over the cases, so background load on the machine hits every row alike. */
async function measure(cases: Case[]): Promise<Summary[]> {
  const samples = cases.map(() => [] as number[]);
  for (let i = 0; i < WARMUP + N; i++) {
    for (const [k, c] of cases.entries()) {
      await c.before?.();
      const t0 = performance.now();
      await c.run();
      const ms = performance.now() - t0;
      await c.after?.();
      if (i >= WARMUP) samples[k]!.push(ms);
    }
  }
  return cases.map((c, k) => {
    const s = samples[k]!.sort((a, b) => a - b);
    return { name: c.name, median: percentile(s, 50), p90: percentile(s, 90) };
  });
}

function renderTable(rows: Summary[], baseline: Summary | undefined): string {
  const head = ['CNI ADD exec', 'median ms', 'p90 ms', baseline ? `x ${baseline.name.split(' ')[0]}` : ''];
  const body = rows.map((r) => [r.name, r.median.toFixed(1), r.p90.toFixed(1), baseline ? `${(r.median / baseline.median).toFixed(1)}x` : '']);
  return renderTextTable(head, body);
}

const dir = mkdtempSync(join(tmpdir(), 'amt-cni-bench-'));
const netnses: ThrowawayNetns[] = [];
let agent: FakeAgent | undefined;
let code = 0;
try {
  // As the node agent installs it: the one-file bundle (make cni-plugin) behind the launcher, with
  // a compile cache; then the TypeScript source (type stripping, hundreds of modules) beside it.
  if (!existsSync(DEFAULT_PLUGIN_BUNDLE)) throw new Error(`no plugin bundle at ${DEFAULT_PLUGIN_BUNDLE}: run make cni-plugin`);
  const withCache = join(dir, 'bin');
  const noCache = join(dir, 'bin-nocache');
  const source = join(dir, 'bin-source');
  for (const d of [withCache, noCache, source, join(dir, 'net.d')]) mkdirSync(d);
  const launchers = [
    [withCache, DEFAULT_PLUGIN_BUNDLE, join(dir, 'compile-cache')],
    [noCache, DEFAULT_PLUGIN_BUNDLE, undefined],
    [source, PLUGIN_MAIN_PATH, join(dir, 'compile-cache-source')],
  ] as const;
  for (const [bin, mainPath, cache] of launchers) {
    writeFileSync(launcherPath(bin), renderLauncher({ nodePath: process.execPath, mainPath, ...(cache ? { compileCacheDir: cache } : {}) }));
    chmodSync(launcherPath(bin), 0o755);
  }
  const stateFile = join(dir, 'net.d', 'ambient-namespaces.state');
  writeEnrollmentStateFile(stateFile, ['mesh']);
  agent = await FakeAgent.start(join(dir, 'pluginevent.sock'));

  // Plugins run in a "node" netns when we may make one, as a runtime would run them in the host's.
  const node = isRoot ? createThrowawayNetns() : undefined;
  if (node) netnses.push(node);
  const wrap = (cmd: string[]) => (node ? inNetns(node.name, cmd) : cmd);

  const exec = async (binary: string, conf: object, env: Record<string, string>): Promise<string> => {
    const r = await runAsync(wrap([binary]), {
      input: JSON.stringify(conf),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_PATH: `${withCache}:${CNI_BIN_DIR}`, ...env },
      allowFail: true,
      timeoutMs: 30_000,
    });
    if (r.status !== 0) throw new Error(`${binary} ${env.CNI_COMMAND} exited ${r.status}: ${r.stdout} ${r.stderr}`);
    return r.stdout;
  };
  const rtEnv = (command: string, netns: string, ns: string, id: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=bench-0;K8S_POD_UID=uid-${id}`,
  });
  const net = { cniVersion: '1.0.0', name: 'amt-bench' };
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/x' }], ips: [{ address: '10.253.9.5/24', interface: 0 }] };
  const ours = (bin: string, ns: string): Case => ({
    name: '',
    run: async () => {
      await exec(launcherPath(bin), { ...net, type: PLUGIN_TYPE, pluginEventSocket: agent!.socketPath, enrollmentStateFile: stateFile, prevResult }, rtEnv('ADD', '/run/netns/x', ns, 'c1'));
    },
  });

  const cases: Case[] = [];
  if (node) {
    const pod = createThrowawayNetns();
    netnses.push(pod);
    cases.push({ name: 'loopback (Debian)', run: async () => void (await exec(join(CNI_BIN_DIR, 'loopback'), { ...net, type: 'loopback' }, rtEnv('ADD', pod.path, 'plain', 'lo1'))) });

    let fresh: ThrowawayNetns | undefined;
    const bridgeConf = { ...net, type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '10.253.9.0/24' }]], dataDir: join(dir, 'ipam') } };
    cases.push({
      name: 'bridge+host-local (Debian)',
      before: () => {
        fresh = createThrowawayNetns();
        netnses.push(fresh);
      },
      run: async () => void (await exec(join(CNI_BIN_DIR, 'bridge'), bridgeConf, rtEnv('ADD', fresh!.path, 'plain', fresh!.name))),
      after: async () => {
        await exec(join(CNI_BIN_DIR, 'bridge'), bridgeConf, rtEnv('DEL', fresh!.path, 'plain', fresh!.name));
        fresh!.remove(); // remove() is idempotent, so the sweep in `finally` may see it again
      },
    });
  } else {
    log('not root: Debian baselines skipped (they need network namespaces)');
  }
  cases.push({ ...ours(withCache, 'plain'), name: 'ambient-cni pass-through' });
  cases.push({ ...ours(withCache, 'mesh'), name: 'ambient-cni captured' });
  cases.push({ ...ours(noCache, 'plain'), name: 'ambient-cni pass-through, no compile cache' });
  cases.push({ ...ours(source, 'plain'), name: 'ambient-cni pass-through, from the .ts source' });
  cases.push({
    name: 'node -e 0 (Node start-up floor)',
    run: async () => {
      const r = await runAsync(wrap([process.execPath, '-e', '0']), { allowFail: true, env: { PATH: process.env.PATH ?? '' } });
      if (r.status !== 0) throw new Error(`node -e 0 exited ${r.status}`);
    },
  });

  log(`measuring ${cases.length} cases, interleaved: ${WARMUP} warm-up + ${N} rounds`);
  const results = await measure(cases);
  const captured = agent.received.length;
  if (captured < N) throw new Error(`the agent saw ${captured} captured ADDs, expected at least ${N}`);
  const cpu = cpus();
  process.stdout.write(`\nbench/cni plugin start-up on ${cpu[0]?.model ?? 'unknown CPU'} x${cpu.length}, Linux ${release()}, Node ${process.version}; N=${N} sequential execs per row, rows interleaved${node ? ', in a node netns via nsenter' : ''}\n\n`);
  process.stdout.write(`${renderTable(results, results.find((r) => r.name.startsWith('loopback')))}\n`);
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  code = 1;
} finally {
  await agent?.close().catch(() => {});
  for (const ns of netnses.reverse()) {
    try {
      ns.remove();
    } catch {
      /* keep cleaning */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
