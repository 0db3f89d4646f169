// The images `make images` builds (build/images/<component>.tar) start under a real OCI runtime
// (runc) from their own config: each either serves what it serves once started, or exits with its
// configuration error. Skipped, with the reason, when the archives are not built (`make test-images`
// builds them first). Root only: runc, network namespaces.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_PREFIX } from '../lab/config.ts';
import { run } from '../lab/exec.ts';
import { pollUntil } from '../lab/poll.ts';
import { execInContainer, removeContainer, startContainer, unpackImage, type Container, type RunSpec, type UnpackedImage } from './runtime.ts';

const REPO = resolve(import.meta.dirname, '../..');
const IMAGES_DIR = process.env.IMAGES_DIR ?? join(REPO, 'build/images');
const COMPONENTS = ['controller', 'cni', 'ztunnel', 'waypoint'] as const;
type Component = (typeof COMPONENTS)[number];
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (runc, network namespaces)';
  const missing = COMPONENTS.filter((c) => !existsSync(join(IMAGES_DIR, `${c}.tar`)));
  if (missing.length) return `no image archives for ${missing.join(', ')} in ${IMAGES_DIR}: run \`make images\` (or \`make test-images\`)`;
  for (const tool of ['runc', 'umoci']) if (run(['sh', '-c', `command -v ${tool}`], { allowFail: true }).status !== 0) return `${tool} not installed (scripts/install-deps.sh)`;
  return undefined;
}
const skip = skipReason();
if (skip) console.warn(`e2e/images: skipped: ${skip}`);

const prefix = `${LAB_PREFIX}-img${process.pid}`;
let work = '';
const images = new Map<Component, UnpackedImage>();
const containers: Container[] = [];
const netnsNames: string[] = [];
let seq = 0;

function image(c: Component): UnpackedImage {
  const i = images.get(c);
  if (!i) throw new Error(`${c} not unpacked`);
  return i;
}

function start(c: Component, spec: RunSpec = {}): Container {
  const id = `${prefix}-${c}-${++seq}`;
  const ctr = startContainer(image(c), id, join(work, 'runs', id), spec);
  containers.push(ctr);
  return ctr;
}

/** A fresh netns with loopback up: the container's network, reachable from the test with `ip netns exec`. */
function netns(c: Component): string {
  const name = `${prefix}-${c}-${++seq}`;
  run(['ip', 'netns', 'add', name]);
  netnsNames.push(name);
  run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** HTTP GET from inside a netns (curl): status and body, or undefined while nothing answers. */
function httpIn(ns: string, url: string): { status: number; body: string } | undefined {
  const r = run(['ip', 'netns', 'exec', ns, 'curl', '-sS', '--max-time', '2', '-w', '\n%{http_code}', url], { allowFail: true });
  if (r.status !== 0) return undefined;
  const cut = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}

async function exitOf(ctr: Container): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const code = await pollUntil(`${ctr.id} to exit`, async () => (ctr.hasExited() ? { code: await ctr.exited } : undefined), { timeoutMs: 60_000 });
  return { code: code.code, ...ctr.output() };
}

function logLines(ctr: Container): Record<string, unknown>[] {
  const { stdout, stderr } = ctr.output();
  return `${stdout}\n${stderr}`.split('\n').flatMap((l) => {
    try {
      const v = JSON.parse(l) as unknown;
      return typeof v === 'object' && v !== null ? [v as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

async function logLine(ctr: Container, what: string, match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  return pollUntil(`${ctr.id}: ${what}`, () => {
    if (ctr.hasExited()) throw new Error(`${ctr.id} exited: ${JSON.stringify(ctr.output())}`);
    return logLines(ctr).find(match);
  }, { timeoutMs: 60_000 });
}

/** The uid/gid the container's first process runs as, read from inside it. */
function processIds(ctr: Container): { uid: number; gid: number } {
  const r = execInContainer(ctr.id, ['/bin/cat', '/proc/1/status']);
  expect(r.status, r.stderr).toBe(0);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(r.stdout)?.[1]);
  return { uid: field('Uid'), gid: field('Gid') };
}

describe.skipIf(skip !== undefined)('OCI images under runc', () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ambient-images-'));
    for (const c of COMPONENTS) images.set(c, unpackImage(c, join(IMAGES_DIR, `${c}.tar`), join(work, c)));
  });

  afterAll(async () => {
    for (const ctr of containers) removeContainer(ctr.id);
    await Promise.all(containers.map((c) => pollUntil(`${c.id} gone`, () => c.hasExited(), { timeoutMs: 20_000 }).catch(() => undefined)));
    for (const ns of netnsNames) run(['ip', 'netns', 'del', ns], { allowFail: true });
    if (work) rmSync(work, { recursive: true, force: true });
    const left = run(['runc', 'list', '-q'], { allowFail: true }).stdout.split('\n').filter((id) => id.startsWith(prefix));
    expect(left, 'containers left behind').toEqual([]);
  });

  it('each archive holds one image named ghcr.io/ambient-mesh/<component>:<version>, run by node from /app as its config says', () => {
    const expected: Record<Component, { uid: number; main: string }> = {
      controller: { uid: 1337, main: '/app/controller/src/main.ts' },
      cni: { uid: 0, main: '/app/cni/agent/main.ts' },
      ztunnel: { uid: 0, main: '/app/build/ztunnel/ztunnel.mjs' },
      waypoint: { uid: 1337, main: '/app/waypoint/src/main.ts' },
    };
    for (const c of COMPONENTS) {
      const i = image(c);
      expect(i.refName).toBe(VERSION);
      expect(i.imageName).toBe(`ghcr.io/ambient-mesh/${c}:${VERSION}`);
      expect(i.config.process.args).toEqual(['/usr/local/bin/node', expected[c].main]);
      expect(i.config.process.user.uid).toBe(expected[c].uid);
      expect(i.config.process.env).toContain('NODE_OPTIONS=--disable-warning=ExperimentalWarning');
    }
  });

  it('controller: a bad setting exits 2 with the setting named', async () => {
    const r = await exitOf(start('controller', { env: { PILOT_DEBOUNCE_AFTER: 'soon' } }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('controller: PILOT_DEBOUNCE_AFTER: not a duration');
  });

  it('controller: without KUBECONFIG outside a cluster exits 2 saying so', async () => {
    const r = await exitOf(start('controller'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('controller: KUBECONFIG: unset, and not in a cluster');
  });

  it('controller: starts as uid 1337, keeps retrying the apiserver it cannot reach, and exits 0 on SIGTERM meanwhile', async () => {
    // In-cluster config pointing at a port nothing listens on inside the container's netns.
    const ctr = start('controller', { netnsPath: `/run/netns/${netns('controller')}`, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' } });
    await logLine(ctr, 'a list/watch retry logged by the controller', (l) => l.component === 'controller' && l.msg === 'list/watch failed; retrying');
    expect(processIds(ctr)).toEqual({ uid: 1337, gid: 1337 });
    expect(ctr.hasExited()).toBe(false);
    // PID 1 in its container: the signal must be handled even before the controller is up.
    run(['runc', 'kill', ctr.id, 'TERM']);
    expect((await exitOf(ctr)).code).toBe(0);
  });

  it('cni: without NODE_NAME and KUBECONFIG the agent exits 2 naming both', async () => {
    const r = await exitOf(start('cni'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cni-agent: NODE_NAME is required');
    expect(r.stderr).toContain('cni-agent: KUBECONFIG is required');
  });

  it('cni: the tools the agent runs (iptables, nft, ipset, ip, nsenter) work in the image, with the capability the chart grants', async () => {
    // In a netns of the test's own: rules of each kind are written and read back.
    const script = [
      "printf '*nat\\n:AMBIENT-IMG - [0:0]\\n-A AMBIENT-IMG -p tcp -j REDIRECT --to-ports 15001\\nCOMMIT\\n' | iptables-restore --noflush",
      'iptables-save -t nat',
      "printf '*mangle\\n:AMBIENT-IMG - [0:0]\\n-A AMBIENT-IMG -j MARK --set-xmark 0x539/0xfff\\nCOMMIT\\n' | ip6tables-restore --noflush",
      'ip6tables-save -t mangle',
      'nft add table inet ambient_img',
      "nft 'add chain inet ambient_img prerouting { type nat hook prerouting priority dstnat; }'",
      'nft list table inet ambient_img',
      'ipset create ambient-img hash:ip',
      'ipset add ambient-img 169.254.7.127',
      'ipset list ambient-img',
      'ip rule add fwmark 0x539 lookup 100',
      'ip rule show',
      'nsenter --version',
    ];
    const ns = netns('cni');
    const r = await exitOf(start('cni', { args: ['/bin/sh', '-ec', script.join('\n')], netnsPath: `/run/netns/${ns}`, capabilities: ['CAP_NET_ADMIN', 'CAP_NET_RAW'] }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('-A AMBIENT-IMG -p tcp -j REDIRECT --to-ports 15001');
    expect(r.stdout).toContain('-A AMBIENT-IMG -j MARK --set-xmark 0x539/0xfff');
    expect(r.stdout).toContain('table inet ambient_img');
    expect(r.stdout).toContain('169.254.7.127');
    expect(r.stdout).toMatch(/fwmark 0x539 lookup 100/);
    expect(r.stdout).toContain('nsenter from util-linux');
    // The rules landed in the test's netns (the container's network), seen from the host's tools.
    expect(run(['ip', 'netns', 'exec', ns, 'nft', 'list', 'tables']).stdout).toContain('ambient_img');
  });

  it('cni: the one-file plugin bundle the agent copies onto nodes is in the image and answers VERSION', async () => {
    const r = await exitOf(start('cni', {
      args: ['/usr/local/bin/node', '/app/build/cni-plugin/ambient-cni.mjs'],
      env: { CNI_COMMAND: 'VERSION' },
      stdin: JSON.stringify({ cniVersion: '1.0.0' }),
    }));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { supportedVersions: string[] };
    expect(out.supportedVersions).toContain('1.0.0');
  });

  it('ztunnel: without NODE_NAME it exits 2 with the error', async () => {
    const r = await exitOf(start('ztunnel'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ztunnel: NODE_NAME is required');
  });

  it('ztunnel: starts as root and serves readiness (not ready until the node agent sends pods) and metrics in its netns', async () => {
    const ns = netns('ztunnel');
    const ctr = start('ztunnel', { netnsPath: `/run/netns/${ns}`, env: { NODE_NAME: 'image-test', CA_ADDRESS: 'http://127.0.0.1:15012' } });
    await logLine(ctr, '"ztunnel started"', (l) => l.msg === 'ztunnel started');
    const ready = await pollUntil('ztunnel readiness answering', () => httpIn(ns, 'http://127.0.0.1:15021/healthz/ready'));
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('first ZDS snapshot not processed');
    const metrics = await pollUntil('ztunnel metrics answering', () => httpIn(ns, 'http://127.0.0.1:15020/metrics'));
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('istio_tcp_connections_opened_total');
    expect(processIds(ctr)).toEqual({ uid: 0, gid: 0 });
    run(['runc', 'kill', ctr.id, 'TERM']);
    expect((await exitOf(ctr)).code).toBe(0);
    expect(logLines(ctr).some((l) => l.msg === 'ztunnel stopped')).toBe(true);
  });

  it('waypoint: without its pod identity it exits 2 naming what is missing', async () => {
    const r = await exitOf(start('waypoint'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('waypoint: POD_NAME is required');
    expect(r.stderr).toContain('waypoint: SERVICE_ACCOUNT is required');
  });

  it('waypoint: starts as uid 1337 on a read-only root, serves readiness (503 until xDS and its certificate) and stats, drains on SIGTERM', async () => {
    const ns = netns('waypoint');
    const ctr = start('waypoint', {
      netnsPath: `/run/netns/${ns}`,
      env: { POD_NAME: 'waypoint-0', POD_NAMESPACE: 'default', INSTANCE_IP: '10.0.0.5', SERVICE_ACCOUNT: 'waypoint', XDS_ADDRESS: 'http://127.0.0.1:15010' },
    });
    await logLine(ctr, '"waypoint started"', (l) => l.msg === 'waypoint started');
    const ready = await pollUntil('waypoint readiness answering', () => httpIn(ns, 'http://127.0.0.1:15021/healthz/ready'));
    expect(ready.status).toBe(503);
    const stats = await pollUntil('waypoint stats answering', () => httpIn(ns, 'http://127.0.0.1:15020/stats/prometheus'));
    expect(stats.status).toBe(200);
    expect(processIds(ctr)).toEqual({ uid: 1337, gid: 1337 });
    run(['runc', 'kill', ctr.id, 'TERM']);
    const r = await exitOf(ctr);
    expect(r.code).toBe(0);
    expect(logLines(ctr).some((l) => l.msg === 'waypoint stopped')).toBe(true);
  });
});
