// `make bench-ztunnel-rss`: a ztunnel's resident memory idle with BENCH_PODS (100) captured pods,
// and its start-up time, for the ways it can run side by side: the TypeScript sources (as the
// narrow e2e suites start it) and the one-file bundle the images and the charts run (make bundles).
// Each run: a standalone ztunnel (local config listing the pods, a file CA), this process as its
// node agent handing it BENCH_PODS fresh network namespaces over ZDS; once every pod's listeners
// are open and its certificate issued, it sits idle for BENCH_IDLE_S (10) and VmRSS is read.
// Root (network namespaces). Everything it creates is removed at the end, also on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSelfSignedRoot } from '../../lib/identity/index.ts';
import { closeFd, openNetns } from '../../lib/netns/index.ts';
import { createThrowawayNetns, isRoot, type ThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { ZdsServer } from '../../lib/zds/index.ts';
import { REPO_ROOT } from '../../e2e/lab/config.ts';
import { pollUntil } from '../../e2e/lab/poll.ts';
import { hostLine, rssParts, type RssParts } from '../common/proc.ts';
import { renderTextTable } from '../common/report.ts';

const PODS = Number(process.env.BENCH_PODS ?? 100);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 10);
const log = (l: string) => process.stderr.write(`bench/ztunnel: ${l}\n`);
const VARIANTS = [
  { name: 'TypeScript sources (ztunnel/src/main.ts)', main: join(REPO_ROOT, 'ztunnel/src/main.ts') },
  { name: 'bundle (build/ztunnel/ztunnel.mjs)', main: join(REPO_ROOT, 'build/ztunnel/ztunnel.mjs') },
  // V8's young generation: its semi-spaces grow to 16 MiB each under load and stay committed.
  { name: 'bundle, --max-semi-space-size=2', main: join(REPO_ROOT, 'build/ztunnel/ztunnel.mjs'), flags: '--max-semi-space-size=2' },
];

if (!isRoot) throw new Error('bench/ztunnel/idle-rss.ts must run as root (it creates network namespaces)');
const dir = mkdtempSync(join(tmpdir(), 'amt-ztunnel-rss-'));
const pods: { ns: ThrowawayNetns; fd: number; ip: string }[] = [];
let child: ChildProcess | undefined;
let code = 0;
try {
  for (let i = 0; i < PODS; i++) {
    const ns = createThrowawayNetns();
    pods.push({ ns, fd: openNetns(ns.path), ip: `10.250.${Math.floor(i / 250)}.${(i % 250) + 1}` });
  }
  const root = await createSelfSignedRoot();
  writeFileSync(join(dir, 'root.pem'), root.certPem);
  writeFileSync(join(dir, 'key.pem'), root.keyPem);
  writeFileSync(join(dir, 'config.yaml'), `workloads:\n${pods.map((p, i) => `- { name: pod-${i}, namespace: bench, serviceAccount: sa-${i % 10}, addresses: [${p.ip}], node: node1 }`).join('\n')}\n`);
  const rows: ({ name: string; startMs: number; readyMs: number } & RssParts)[] = [];
  for (const v of VARIANTS) {
    const sock = join(dir, `zds-${rows.length}.sock`);
    const agent = ZdsServer.listen({ path: sock, snapshot: () => pods.map((p, i) => ({ uid: `uid-${i}`, info: { name: `pod-${i}`, namespace: 'bench', serviceAccount: `sa-${i % 10}` }, netnsFd: p.fd })) });
    const t0 = Date.now();
    child = spawn(process.execPath, [v.main], {
      env: {
        PATH: process.env.PATH, NODE_OPTIONS: `--disable-warning=ExperimentalWarning ${'flags' in v ? v.flags : ''}`.trim(), NODE_NAME: 'node1',
        LOCAL_XDS_PATH: join(dir, 'config.yaml'), CA_ROOT_CERT: join(dir, 'root.pem'), CA_ROOT_KEY: join(dir, 'key.pem'),
        ADMIN_ADDR: '127.0.0.1:0', STATS_ADDR: '127.0.0.1:0', READINESS_ADDR: '127.0.0.1:0', INPOD_UDS: sock,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const started = await pollUntil(`${v.name}: the start-up line`, () => {
      if (child!.exitCode !== null) throw new Error(`ztunnel exited ${child!.exitCode}: ${out.slice(-2000)}`);
      const line = out.split('\n').find((l) => l.includes('"msg":"ztunnel started"'));
      return line ? (JSON.parse(line) as { admin: number }) : undefined;
    }, { timeoutMs: 30_000 });
    const startMs = Date.now() - t0;
    await pollUntil(`${v.name}: ${PODS} pods with listeners and certificates`, async () => {
      const dump = JSON.parse(await (await fetch(`http://127.0.0.1:${started.admin}/config_dump`)).text()) as { certificates?: { state: string }[] };
      const certs = dump.certificates?.filter((c) => c.state === 'Available').length ?? 0;
      return certs >= 10 && pods.every((p) => p.ns.exec(['ss', '-Hltn']).includes(':15008 '));
    }, { timeoutMs: 120_000, intervalMs: 500 });
    const readyMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    rows.push({ name: v.name, startMs, readyMs, ...rssParts(readFileSync(`/proc/${child.pid}/status`, 'utf8')) });
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    child = undefined;
    agent.close();
  }
  // The floor: a node that loaded what any HBONE proxy needs (node:tls, node:http2) and only idles.
  child = spawn(process.execPath, ['-e', "require('node:tls'); require('node:http2'); setInterval(() => {}, 1000);"], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const floor = rssParts(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  child.kill('SIGKILL');
  child = undefined;
  const head = ['ztunnel run as', 'start-up ms', `${PODS} pods served ms`, 'RSS idle MiB', 'anonymous MiB', 'file-backed MiB'];
  const body = rows.map((r) => [r.name, String(r.startMs), String(r.readyMs), r.rss.toFixed(1), r.anon.toFixed(1), r.file.toFixed(1)]);
  body.push(['node with node:tls and node:http2 loaded, idle', '-', '-', floor.rss.toFixed(1), floor.anon.toFixed(1), floor.file.toFixed(1)]);
  process.stdout.write(`\nbench/ztunnel idle RSS on ${hostLine()}; ${PODS} captured pods (ZDS, 10 identities), ${IDLE_S} s idle\n\n`);
  process.stdout.write(`${renderTextTable(head, body)}\n`);
  process.stdout.write('\nanonymous: V8\'s heap and malloc, the process\'s own; file-backed: pages of the node binary (and libraries) it has run, shared with every process that maps them.\n');
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  code = 1;
} finally {
  child?.kill('SIGKILL');
  for (const p of pods) {
    closeFd(p.fd);
    p.ns.remove();
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
