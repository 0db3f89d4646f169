// Istio's own istioctl (built from its Go module by e2e/lab/build-istioctl.sh) against the lab with the
// Helm-installed mesh: `ztunnel-config workloads|services|policies|certificates` decode our ztunnel's
// /config_dump and print the same tables as `ambientctl ztunnel-config`; `waypoint apply|list|status`
// work on the Gateways our controller deploys and writes status for.
//
// istioctl reads a ztunnel through an apiserver port-forward to the pod's admin port (the lab's kubelet
// serves port-forward); the dump is also fetched from the admin port and given with `-f`, which needs
// nothing but the file. ambientctl's own port-forward path is checked against istioctl's live output.
//
// What istioctl reads that we do not serve (so not checked here): the dump's `workloadState` (per-pod
// connections: `ztunnel-config connections` and the last table of `all` stay empty); `ztunnel-config log`
// sends `level=<logger>:<level>,...`, our /logging takes one plain level. The lab gives every node's
// ztunnel its own admin port, so the live path needs `--proxy-admin-port` with a pod or `--node`
// (istioctl's default, the first pod of daemonset/ztunnel on 15000, only works on a real cluster).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_ROOT } from './config.ts';
import { down, kubectlSync, podRef, up } from './lab.ts';
import { HelmMesh, MESH_NAMESPACE } from './mesh-helm.ts';
import { pollUntil } from './poll.ts';
import { isReady, type PodJson } from './sample-apps.ts';
import type { LabState } from './state.ts';
import { sleepEchoManifests } from './sleep-echo.ts';
import { requireRoot, talk } from '../ztunnel/netns-harness.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const AMBIENTCTL = join(REPO, 'cli/bin/ambientctl');
const NS = 'ictl';

/** $ISTIOCTL, else the binary build-istioctl.sh puts in the tools cache for its pinned version. */
export function istioctlPath(): string {
  if (process.env.ISTIOCTL) {
    if (!existsSync(process.env.ISTIOCTL)) throw new Error(`ISTIOCTL=${process.env.ISTIOCTL} does not exist`);
    return process.env.ISTIOCTL;
  }
  const script = readFileSync(join(REPO, 'e2e/lab/build-istioctl.sh'), 'utf8');
  const version = /^ISTIO_MODULE_VERSION="\$\{ISTIO_MODULE_VERSION:-([^}]+)\}"/m.exec(script)?.[1];
  if (!version) throw new Error('e2e/lab/build-istioctl.sh names no ISTIO_MODULE_VERSION');
  const bin = join(CACHE_ROOT, 'tools', `istioctl-${version}`, 'bin', 'istioctl');
  if (!existsSync(bin)) throw new Error(`istioctl is not built (${bin} is missing): run e2e/lab/build-istioctl.sh (or make test-istioctl), or set ISTIOCTL`);
  return bin;
}

const MANIFESTS = `${sleepEchoManifests(NS, { echoServiceAccount: 'default' })}
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: ${NS} }
spec: { selector: { app: echo }, ports: [{ name: tcp, port: 80, targetPort: 9000 }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-sleep, namespace: ${NS} }
spec:
  selector: { matchLabels: { app: echo } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/${NS}/sa/sleep"] } }] }]
`;

interface Run { code: number | null; out: string; err: string }

describe('istioctl against the lab (root)', () => {
  let lab: LabState;
  let mesh: HelmMesh;
  let istioctl: string;
  let dir: string;
  // Without the lab's AMBIENTCTL_ZTUNNEL_ADMIN map: ambientctl finds ztunnels as on a real cluster.
  const env = () => ({ ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'AMBIENTCTL_ZTUNNEL_ADMIN')), KUBECONFIG: lab.kubeconfig, HOME: dir });
  const run = (bin: string, args: string[]): Run => {
    const r = spawnSync(bin, args, { encoding: 'utf8', env: env(), timeout: 120_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const ictl = (args: string[]) => run(istioctl, args);
  const actl = (args: string[]) => run(AMBIENTCTL, args);
  /** Both CLIs over the same saved dump: exit 0 and identical text. */
  const same = (args: string[]): string => {
    const a = ictl(args);
    const b = actl(args);
    expect(a.code, `istioctl ${args.join(' ')}: ${a.err}`).toBe(0);
    expect(b.code, `ambientctl ${args.join(' ')}: ${b.err}`).toBe(0);
    expect(b.out).toBe(a.out);
    return a.out;
  };
  const saveDump = async (node: string): Promise<string> => {
    const file = join(dir, `${node}-config_dump.json`);
    writeFileSync(file, await mesh.admin(node, '/config_dump'));
    return file;
  };

  beforeAll(async () => {
    requireRoot('e2e/lab/istioctl.test.ts');
    istioctl = istioctlPath();
    dir = mkdtempSync(join(tmpdir(), 'istioctl-e2e-'));
    lab = await up({ nodes: 2 });
    mesh = await HelmMesh.install(lab);
    kubectlSync(lab, ['apply', '-f', '-'], MANIFESTS);
    await pollUntil('the sample pods to be Ready', () => {
      const pods = (JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', NS, '-o', 'json']).stdout) as { items: PodJson[] }).items;
      return pods.length === 2 && pods.every(isReady);
    }, { timeoutMs: 90_000 });
  }, 300_000);

  afterAll(async () => {
    await down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('waypoint apply --enroll-namespace --wait: our controller programs the Gateway', () => {
    const r = ictl(['waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`✅ waypoint ${NS}/waypoint applied\n✅ waypoint ${NS}/waypoint is ready!\n✅ namespace ${NS} labeled with "istio.io/use-waypoint: waypoint"\n`);
  }, 150_000);

  it('waypoint list (-n and -A) prints what ambientctl prints', () => {
    const one = ictl(['waypoint', 'list', '-n', NS]);
    expect(one).toEqual({ code: 0, err: '', out: 'NAME         REVISION     TRAFFIC TYPE     PROGRAMMED\nwaypoint     default      none             True\n' });
    expect(actl(['waypoint', 'list', '-n', NS]).out).toBe(one.out);
    const all = ictl(['waypoint', 'list', '-A']);
    expect(all.code, all.err).toBe(0);
    expect(all.out).toMatch(new RegExp(`^NAMESPACE +NAME +REVISION +TRAFFIC TYPE +PROGRAMMED\\n(.*\\n)*${NS} +waypoint +default +none +True$`, 'm'));
    expect(actl(['waypoint', 'list', '-A']).out).toBe(all.out);
  });

  it('waypoint status shows the Programmed condition our controller wrote', () => {
    const r = ictl(['waypoint', 'status', '-n', NS]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe([
      'NAME         STATUS     TYPE           REASON         MESSAGE',
      `waypoint     True       Programmed     Programmed     Resource programmed, assigned to service(s) waypoint.${NS}.svc.cluster.local:15008`,
      '',
    ].join('\n'));
    expect(actl(['waypoint', 'status', '-n', NS]).out).toBe(r.out);
  }, 60_000);

  it('ztunnel-config workloads -f: the same rows as ambientctl, the waypoint pod included', async () => {
    // The waypoint's pod and the namespace's Service binding reach the ztunnels through xDS.
    const file = await pollUntil('the waypoint on the echo service in node2\'s dump', async () => {
      const f = await saveDump('node2');
      const d = JSON.parse(readFileSync(f, 'utf8')) as { workloads: { name: string; namespace: string }[]; services: { name: string; namespace: string; waypoint?: unknown }[] };
      return d.services.some((s) => s.namespace === NS && s.name === 'echo' && s.waypoint) && d.workloads.some((w) => w.namespace === NS && w.name.startsWith('waypoint-')) ? f : undefined;
    }, { timeoutMs: 30_000 });
    const out = same(['ztunnel-config', 'workloads', '-f', file, '--workload-namespace', NS]);
    expect(out.split('\n')[0]).toMatch(/^NAMESPACE POD NAME +ADDRESS +NODE +WAYPOINT PROTOCOL$/);
    expect(out).toMatch(new RegExp(`^${NS} +echo +10\\.244\\.\\d+\\.\\d+ +node2 +None +HBONE$`, 'm'));
    expect(out).toMatch(new RegExp(`^${NS} +sleep +10\\.244\\.\\d+\\.\\d+ +node1 +None +HBONE$`, 'm'));
    expect(out).toMatch(new RegExp(`^${NS} +waypoint-[a-z0-9]+-[a-z0-9]+ +10\\.244\\.\\d+\\.\\d+ +node\\d +None +TCP$`, 'm'));
    // Every namespace, and the JSON form istioctl re-encodes from its own structs.
    same(['ztunnel-config', 'workloads', '-f', file]);
    const json = ictl(['ztunnel-config', 'workloads', '-f', file, '--workload-namespace', NS, '-o', 'json']);
    expect(json.code, json.err).toBe(0);
    expect((JSON.parse(json.out) as { name: string; protocol: string; status: string }[]).filter((w) => w.name === 'echo')).toMatchObject([{ protocol: 'HBONE', status: 'Healthy' }]);
  }, 60_000);

  it('ztunnel-config services, policies, certificates and all -f: the same tables as ambientctl', async () => {
    // ztunnel fetches a pod's certificate when it first carries its traffic: one exchange sleep → echo.
    const echo = podRef(NS, 'echo', lab);
    expect(await talk(podRef(NS, 'sleep', lab).netns, echo.podIp, 9000, 'hello')).toBe('hello');
    const file = await pollUntil('echo\'s certificate in node2\'s dump', async () => {
      const f = await saveDump('node2');
      const d = JSON.parse(readFileSync(f, 'utf8')) as { certificates: { identity: string; state: string }[] };
      return d.certificates.some((c) => c.identity === `spiffe://cluster.local/ns/${NS}/sa/default` && c.state === 'Available') ? f : undefined;
    }, { timeoutMs: 30_000 });
    const svcs = same(['ztunnel-config', 'services', '-f', file, '--service-namespace', NS]);
    expect(svcs).toMatch(new RegExp(`^${NS} +echo +10\\.96\\.\\d+\\.\\d+ +waypoint +1/1$`, 'm'));
    expect(svcs).toMatch(new RegExp(`^${NS} +waypoint +10\\.96\\.\\d+\\.\\d+ +None +1/1$`, 'm'));
    same(['ztunnel-config', 'services', '-f', file]);
    const pols = same(['ztunnel-config', 'policies', '-f', file]);
    expect(pols).toMatch(new RegExp(`^${NS} +allow-sleep +Allow +WorkloadSelector$`, 'm'));
    const certs = same(['ztunnel-config', 'certificates', '-f', file]);
    expect(certs).toMatch(new RegExp(`^spiffe://cluster\\.local/ns/${NS}/sa/default +Leaf +Available +true +[0-9a-f]+ +\\S+Z +\\S+Z$`, 'm'));
    expect(certs).toMatch(new RegExp(`^spiffe://cluster\\.local/ns/${NS}/sa/default +Root +Available +true `, 'm'));
    // istioctl's `all` ends with a connections table, empty here: our dump has no `workloadState`.
    const all = ictl(['ztunnel-config', 'all', '-f', file]);
    expect(all.code, all.err).toBe(0);
    const ours = actl(['ztunnel-config', 'all', '-f', file]).out;
    expect(all.out).toBe(`${ours}\nWORKLOAD DIRECTION LOCAL REMOTE REMOTE TARGET PROTOCOL\n`);
  }, 60_000);

  it('ztunnel-config reads the ztunnel pod live through the apiserver\'s port-forward (istioctl and ambientctl)', async () => {
    const z = mesh.ztunnel('node2');
    expect(await portForwardWorks(lab, z.pod, z.ports.admin), 'kubectl port-forward to the ztunnel pod forwards a GET of /config_dump').toBe(true);
    const file = await saveDump('node2');
    const live = ictl(['ztunnel-config', 'workloads', `${z.pod}.${MESH_NAMESPACE}`, '--proxy-admin-port', String(z.ports.admin), '--workload-namespace', NS]);
    expect(live.code, live.err).toBe(0);
    expect(live.out).toBe(actl(['ztunnel-config', 'workloads', '-f', file, '--workload-namespace', NS]).out);
    // ambientctl's own port-forward (the client library's WebSocket tunnel), by pod and by node.
    const actlLive = actl(['ztunnel-config', 'workloads', `${z.pod}.${MESH_NAMESPACE}`, '--proxy-admin-port', String(z.ports.admin), '--workload-namespace', NS]);
    expect(actlLive.code, actlLive.err).toBe(0);
    expect(actlLive.out).toBe(live.out);
    const actlNode = actl(['ztunnel-config', 'workloads', '--node', 'node2', '--proxy-admin-port', String(z.ports.admin), '--workload-namespace', NS]);
    expect(actlNode.code, actlNode.err).toBe(0);
    expect(actlNode.out).toBe(live.out);
    // A workload pod: istioctl reads the ztunnel on its node and keeps its row only.
    const sleep = ictl(['ztunnel-config', 'workloads', `sleep.${NS}`, '--proxy-admin-port', String(mesh.ztunnel('node1').ports.admin)]);
    expect(sleep.code, sleep.err).toBe(0);
    expect(sleep.out.trimEnd().split('\n').slice(1).map((l) => l.split(/ +/).slice(0, 2).join(' '))).toEqual([`${NS} sleep`]);
    const byNode = ictl(['ztunnel-config', 'certificates', '--node', 'node2', '--proxy-admin-port', String(z.ports.admin)]);
    expect(byNode.code, byNode.err).toBe(0);
    expect(byNode.out).toMatch(new RegExp(`^spiffe://cluster\\.local/ns/${NS}/sa/default +Leaf +Available +true `, 'm'));
  }, 90_000);
});

/** `kubectl port-forward pod/<pod> :<port>` forwards one GET of /config_dump. */
async function portForwardWorks(lab: LabState, pod: string, port: number): Promise<boolean> {
  const kubectl = join(lab.toolsBin, 'kubectl');
  const child = spawn(kubectl, ['--kubeconfig', lab.kubeconfig, '-n', MESH_NAMESPACE, 'port-forward', `pod/${pod}`, `:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const local = await new Promise<number | undefined>((resolve) => {
      let text = '';
      const timer = setTimeout(() => resolve(undefined), 10_000);
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.on('exit', () => resolve(undefined));
    });
    if (!local) return false;
    const res = await fetch(`http://127.0.0.1:${local}/config_dump`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    return res?.ok === true && (await res.text()).includes('"workloads"');
  } finally {
    child.kill();
  }
}
