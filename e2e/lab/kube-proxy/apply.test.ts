// The kube-proxy stand-in's rules in a real (throwaway) node netns: a bridge with two pod netns on
// it, servers in the pods, and a fake Service VIP. Checks the same-bridge hairpin, balancing over
// both endpoints (one of them the client itself), REJECT without endpoints, stale-chain cleanup,
// idempotent re-application and clean removal. Root only; every netns made here carries a unique
// `amt-kp-` prefix, has no route out, and is deleted afterwards.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTcp, listenTcp } from '../../../lib/netns/index.ts';
import { applyRules, installedChains, KubeProxyRulesError, removeRules } from './apply.ts';
import { buildServiceRules, type ServiceInfo, type ServiceRulesInput, type SliceInfo } from './rules.ts';


const PREFIX = `amt-kp-${randomBytes(3).toString('hex')}`;
const NODE = `${PREFIX}-node`;
const POD_CIDR = '10.244.1.0/24';
const GATEWAY = '10.244.1.1';
const PODS = { a: { netns: `${PREFIX}-a`, ip: '10.244.1.2' }, b: { netns: `${PREFIX}-b`, ip: '10.244.1.3' } } as const;
const VIP = '10.96.0.50';
const EMPTY_VIP = '10.96.0.51';
const TARGET_PORT = 8080;

const created: string[] = [];
const servers: Server[] = [];

function sh(cmd: string[], input?: string): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}
const inNs = (ns: string, cmd: string[]): string => sh(['nsenter', `--net=/run/netns/${ns}`, '--', ...cmd]);

function addNetns(name: string): void {
  sh(['ip', 'netns', 'add', name]);
  created.push(name);
  sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
}

/** The node's rule set for the Service VIP:80 → the given pods' :8080, plus an endpoint-less VIP. */
function rules(endpoints: (keyof typeof PODS)[], extra: Partial<ServiceRulesInput> = {}): string {
  const services: ServiceInfo[] = [
    { namespace: 'demo', name: 'echo', clusterIPs: [VIP], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: TARGET_PORT }] },
    { namespace: 'demo', name: 'empty', clusterIPs: [EMPTY_VIP], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  ];
  const slices: SliceInfo[] = [{
    namespace: 'demo',
    serviceName: 'echo',
    ports: [{ name: 'http', port: TARGET_PORT, protocol: 'TCP' }],
    endpoints: endpoints.map((p) => ({ addresses: [PODS[p].ip], ready: true })),
  }];
  return buildServiceRules({ services, endpointSlices: slices, podCidr: POD_CIDR, clusterCidr: '10.244.0.0/16', ...extra });
}

type Answer = { kind: 'reply'; pod: string; seenFrom: string } | { kind: 'error'; code: string } | { kind: 'timeout' };

/** One connection from a pod netns; the servers answer `<pod> <client address>` and close. */
function ask(from: keyof typeof PODS, host: string, port: number, timeoutMs = 2000): Promise<Answer> {
  return new Promise((resolve) => {
    const sock: Socket = connectTcp({ netns: `/run/netns/${PODS[from].netns}`, host, port });
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ kind: 'timeout' });
    }, timeoutMs);
    sock.setEncoding('utf8').on('data', (d: string) => (text += d));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ kind: 'error', code: err.code ?? err.message });
    });
    sock.on('end', () => {
      clearTimeout(timer);
      const [pod = '', seenFrom = ''] = text.trim().split(' ');
      resolve({ kind: 'reply', pod, seenFrom });
      sock.destroy();
    });
  });
}

/** iptables-save without its timestamps and counters, to compare states. */
function saved(): string {
  return inNs(NODE, ['iptables-save'])
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, ''))
    .join('\n');
}

const bridgeNf = (): string => `/proc/sys/net/bridge/bridge-nf-call-iptables`;
function setBridgeNf(value: '0' | '1'): boolean {
  // Per netns when br_netfilter is loaded; absent otherwise (then bridged frames never see iptables).
  const r = spawnSync('nsenter', [`--net=/run/netns/${NODE}`, '--', 'sh', '-c', `test -e ${bridgeNf()} && echo ${value} > ${bridgeNf()}`]);
  return r.status === 0;
}

describe('kube-proxy stand-in rules in a node netns (root)', () => {
  beforeAll(() => {
    // An e2e suite fails without root (CI runs as root); it never skips quietly.
    if (process.getuid?.() !== 0) throw new Error('e2e/lab/kube-proxy/apply.test.ts must run as root: it creates network namespaces and iptables rules');
    addNetns(NODE);
    sh(['ip', '-n', NODE, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', NODE, 'addr', 'add', `${GATEWAY}/24`, 'dev', 'br0']);
    sh(['ip', '-n', NODE, 'link', 'set', 'br0', 'up']);
    inNs(NODE, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    // A route for the service range, as a real node's default route would give: without one the
    // node answers "no route" before its filter table can REJECT. Its next hop does not exist.
    sh(['ip', '-n', NODE, 'route', 'add', '10.96.0.0/16', 'via', '10.244.1.254', 'dev', 'br0']);
    // Bridged pod-to-pod frames skip iptables, as on a host without br_netfilter: the hairpin
    // masquerade must be what makes same-node Service traffic work.
    setBridgeNf('0');
    for (const [name, pod] of Object.entries(PODS)) {
      addNetns(pod.netns);
      sh(['ip', '-n', NODE, 'link', 'add', `veth-${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns]);
      sh(['ip', '-n', NODE, 'link', 'set', `veth-${name}`, 'master', 'br0', 'up']);
      sh(['ip', '-n', pod.netns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', pod.netns, 'link', 'set', 'eth0', 'up']);
      sh(['ip', '-n', pod.netns, 'route', 'add', 'default', 'via', GATEWAY]);
      const server = listenTcp({ netns: `/run/netns/${pod.netns}`, address: '0.0.0.0', port: TARGET_PORT }, (s) => {
        s.on('error', () => {});
        s.end(`${name} ${s.remoteAddress}\n`);
      });
      servers.push(server);
    }
    // Someone else's NAT rule and chain in the node netns: ours must leave them alone.
    inNs(NODE, ['iptables', '-t', 'nat', '-N', 'OTHER-CHAIN']);
    inNs(NODE, ['iptables', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '9', '-j', 'OTHER-CHAIN']);
  });

  afterAll(() => {
    for (const s of servers) s.close();
    for (const ns of created.reverse()) spawnSync('ip', ['netns', 'delete', ns]);
    expect(created.filter((ns) => existsSync(`/run/netns/${ns}`))).toEqual([]);
  });

  it('pods reach each other directly (topology sanity)', async () => {
    expect(await ask('a', PODS.b.ip, TARGET_PORT)).toEqual({ kind: 'reply', pod: 'b', seenFrom: PODS.a.ip });
  });

  it('a pod reaches the Service VIP whose endpoint is on the same bridge, masqueraded to the bridge address', async () => {
    applyRules(NODE, rules(['b']));
    expect(await ask('a', VIP, 80)).toEqual({ kind: 'reply', pod: 'b', seenFrom: GATEWAY });
    // The endpoint itself, through the VIP (hairpin to self).
    expect(await ask('b', VIP, 80)).toEqual({ kind: 'reply', pod: 'b', seenFrom: GATEWAY });
  });

  it('balances over every ready endpoint, the client itself included', async () => {
    applyRules(NODE, rules(['a', 'b']));
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      const r = await ask('a', VIP, 80);
      expect(r.kind, JSON.stringify(r)).toBe('reply');
      if (r.kind === 'reply') seen.add(r.pod);
    }
    expect([...seen].sort()).toEqual(['a', 'b']);
  });

  it('refuses connections to a Service without ready endpoints with a REJECT, not a timeout', async () => {
    expect(await ask('a', EMPTY_VIP, 80)).toEqual({ kind: 'error', code: 'ECONNREFUSED' });
    // What makes the refusal immediate: no ICMP redirect spends the per-host ICMP budget first.
    expect(inNs(NODE, ['sysctl', '-n', 'net.ipv4.conf.br0.send_redirects', 'net.ipv4.conf.all.send_redirects', 'net.ipv4.conf.default.send_redirects'])).toBe('0\n0\n0\n');
  });

  it('re-applying is idempotent, and our hooks are installed exactly once', () => {
    applyRules(NODE, rules(['a', 'b']));
    const before = saved();
    applyRules(NODE, rules(['a', 'b']));
    expect(saved()).toBe(before);
    const hookLines = before.split('\n').filter((l) => /^-A (PREROUTING|OUTPUT|POSTROUTING|FORWARD) .*-j LAB-/.test(l));
    expect(hookLines).toHaveLength(5);
    expect(before).toContain('-A PREROUTING -p tcp -m tcp --dport 9 -j OTHER-CHAIN');
  });

  it('deletes the chains of endpoints and Services that are gone', async () => {
    applyRules(NODE, rules(['b']));
    const nat = installedChains(NODE).get('nat') ?? new Set();
    expect([...nat].filter((c) => c.startsWith('LAB-SEP-'))).toHaveLength(1);
    expect(await ask('a', VIP, 80)).toMatchObject({ kind: 'reply', pod: 'b' });

    applyRules(NODE, buildServiceRules({ services: [], endpointSlices: [], podCidr: POD_CIDR, clusterCidr: '10.244.0.0/16' }));
    expect([...(installedChains(NODE).get('nat') ?? [])].sort()).toEqual(['LAB-POSTROUTING', 'LAB-SERVICES']);
    expect([...(installedChains(NODE).get('filter') ?? [])]).toEqual(['LAB-SERVICES']);
    expect((await ask('a', VIP, 80, 1000)).kind).not.toBe('reply');
  });

  it('without the hairpin masquerade, same-bridge Service traffic breaks (control for the test above)', async (ctx) => {
    applyRules(NODE, rules(['b'], { localHairpin: 'self' }));
    // The reply from b goes straight over the bridge to a with b's own address: a never connects.
    expect((await ask('a', VIP, 80, 1500)).kind).not.toBe('reply');
    if (!setBridgeNf('1')) {
      ctx.skip('br_netfilter is not loaded: cannot show that it is the alternative to the masquerade');
      return;
    }
    try {
      // With br_netfilter, bridged replies meet conntrack, and the client address is preserved.
      expect(await ask('a', VIP, 80)).toEqual({ kind: 'reply', pod: 'b', seenFrom: PODS.a.ip });
    } finally {
      setBridgeNf('0');
    }
  });

  it('reports a rejected rule set with iptables-restore stderr, and keeps the rules in force', async () => {
    applyRules(NODE, rules(['b']));
    let err: unknown;
    try {
      applyRules(NODE, '*nat\n:LAB-SERVICES - [0:0]\n-A LAB-SERVICES -j NO-SUCH-CHAIN\nCOMMIT\n');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeProxyRulesError);
    expect((err as KubeProxyRulesError).code).toBe('LAB_KUBE_PROXY_RULES');
    expect((err as KubeProxyRulesError).stderr).toMatch(/iptables-restore|NO-SUCH-CHAIN|line/i);
    expect(await ask('a', VIP, 80)).toMatchObject({ kind: 'reply', pod: 'b' });
    expect(() => applyRules(`${PREFIX}-missing`, rules(['b']))).toThrow(/does not exist/);
  });

  it('removeRules deletes our hooks and chains, leaves the rest, and is idempotent', () => {
    applyRules(NODE, rules(['a', 'b']));
    removeRules(NODE);
    const after = saved();
    expect(after).not.toMatch(/LAB-/);
    expect(after).toContain(':OTHER-CHAIN');
    expect(after).toContain('-A PREROUTING -p tcp -m tcp --dport 9 -j OTHER-CHAIN');
    expect(installedChains(NODE).size).toBe(0);
    removeRules(NODE);
    expect(saved()).toBe(after);
    removeRules(`${PREFIX}-missing`);
  });
});
