// lib/redirect in real network namespaces, both flavours: a "pod" netns with the in-pod rules and
// ztunnel-like listeners (15001, 15006, 15008, 15053, all marked 0x539), and a "remote" netns joined
// to it by a veth pair. Nothing is routed out of the pair and nothing is added to the root netns;
// both namespaces are deleted after each flavour, also when a test fails. Needs root.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTcp, getOriginalDst, listenTcp } from '../../lib/netns/index.ts';
import { applyInpodRules, checkInpodRules, removeInpodRules, type RedirectFlavour, type RedirectOptionsInput } from '../../lib/redirect/index.ts';
import { pollUntil } from '../lab/poll.ts';
import { netnsHandle, requireRoot, run, type Ns } from './netns-harness.ts';

const MARK = 0x539;
const POD_V4 = '192.0.2.2';
const REMOTE_V4 = '192.0.2.1';
const POD_V6 = '2001:db8:7::2';
const REMOTE_V6 = '2001:db8:7::1';
const PROBE_V4 = '169.254.7.127';
const APP_PORT = 8080;
const OPTS: RedirectOptionsInput = { ipv6: true };

/** A listener that records what it accepts; `next()` waits for the next one, with a deadline. */
interface Tracked {
  server: net.Server;
  conns: net.Socket[];
  next(what: string): Promise<net.Socket>;
}

/**
 * Everything one flavour needs, created in beforeAll and torn down in afterAll. The names are
 * recorded before anything else happens so a half-built setup is still deleted.
 */
class Topology {
  readonly id = randomBytes(3).toString('hex');
  readonly created: string[] = [];
  readonly servers: net.Server[] = [];
  readonly sockets: net.Socket[] = [];
  pod!: Ns;
  remote!: Ns;

  build(): void {
    for (const role of ['pod', 'rem'] as const) {
      const name = `amt-rd-${this.id}-${role}`;
      this.created.push(name);
      run(['ip', 'netns', 'add', name]);
      run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    }
    this.pod = netnsHandle(this.created[0]!);
    this.remote = netnsHandle(this.created[1]!);
    // Created inside the pod netns with its peer placed straight into the remote one: neither end
    // ever exists in the root netns.
    run(['ip', '-n', this.pod.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.remote.name]);
    for (const [ns, v4, v6] of [
      [this.pod, POD_V4, POD_V6],
      [this.remote, REMOTE_V4, REMOTE_V6],
    ] as const) {
      ns.sh(['ip', 'addr', 'add', `${v4}/24`, 'dev', 'eth0']);
      ns.sh(['ip', '-6', 'addr', 'add', `${v6}/64`, 'dev', 'eth0', 'nodad']);
      ns.sh(['ip', 'link', 'set', 'eth0', 'up']);
    }
    // The remote side plays the node's probe source too; the pod needs a way back to it.
    this.remote.sh(['ip', 'addr', 'add', `${PROBE_V4}/32`, 'dev', 'eth0']);
    this.pod.sh(['ip', 'route', 'add', `${PROBE_V4}/32`, 'dev', 'eth0']);
  }

  listen(ns: Ns, address: string, port: number, extra: { mark?: number; v6Only?: boolean } = {}): Tracked {
    const server = listenTcp({ netns: ns.path, address, port, reusePort: true, ...extra });
    this.servers.push(server);
    const conns: net.Socket[] = [];
    server.on('connection', (s) => {
      s.on('error', () => undefined);
      conns.push(s);
      this.sockets.push(s);
    });
    return {
      server,
      conns,
      next: (what) => {
        const n = conns.length;
        return pollUntil(what, () => conns[n], { timeoutMs: 5_000, intervalMs: 20 });
      },
    };
  }

  dial(ns: Ns, host: string, port: number, extra: Omit<Parameters<typeof connectTcp>[0], 'host' | 'port' | 'netns'> = {}): net.Socket {
    const s = connectTcp({ netns: ns.path, host, port, ...extra });
    s.on('error', () => undefined);
    this.sockets.push(s);
    return s;
  }

  teardown(): void {
    for (const s of this.sockets.splice(0)) s.destroy();
    for (const s of this.servers.splice(0)) s.close();
    const errors: string[] = [];
    for (const name of this.created.splice(0)) {
      try {
        run(['ip', 'netns', 'delete', name]);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  }
}

/**
 * Everything netfilter and policy routing say about a netns, minus timestamps and counters (a
 * re-apply refills our chains, which restarts the counters iptables-nft keeps on every rule).
 */
function snapshot(ns: Ns): string {
  const strip = (t: string): string =>
    t
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/, '[]').replace(/counter packets \d+ bytes \d+/, 'counter'))
      .join('\n');
  return [
    strip(ns.sh(['iptables-save'])),
    strip(ns.sh(['ip6tables-save'])),
    strip(ns.sh(['nft', 'list', 'ruleset'])),
    ns.sh(['ip', '-4', 'rule']),
    ns.sh(['ip', '-6', 'rule']),
    ns.sh(['ip', '-4', 'route', 'show', 'table', 'all']),
    ns.sh(['ip', '-6', 'route', 'show', 'table', 'all']),
  ].join('\n----\n');
}

async function firstData(s: net.Socket): Promise<string> {
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString()));
  return pollUntil('data on the socket', () => got || undefined, { timeoutMs: 5_000, intervalMs: 20 });
}

/** The outbound rule of the nat output chain, found by its redirect target, as each tool spells it. */
function deleteOutboundRule(ns: Ns, flavour: RedirectFlavour): string {
  if (flavour === 'iptables') {
    const spec = '! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001';
    ns.sh(['iptables', '-w', '-t', 'nat', '-D', 'ISTIO_OUTPUT', ...spec.split(' ')]);
    return `ipv4 nat: -A ISTIO_OUTPUT ${spec}`;
  }
  const listing = ns.sh(['nft', '-a', 'list', 'chain', 'inet', 'istio-ambient-nat', 'istio-output']);
  const line = listing.split('\n').find((l) => l.includes('ip daddr != 127.0.0.1') && l.includes('redirect to :15001'));
  const m = line && /^\s*(.*?) # handle (\d+)$/.exec(line);
  if (!m) throw new Error(`outbound rule not found in:\n${listing}`);
  ns.sh(['nft', 'delete', 'rule', 'inet', 'istio-ambient-nat', 'istio-output', 'handle', m[2]!]);
  return `nft inet istio-ambient-nat: chain istio-output: ${m[1]}`;
}

describe.each(['iptables', 'nftables'] as const)('in-pod redirection, %s flavour (root)', (flavour) => {
  const topo = new Topology();
  let outbound: Tracked;
  let inbound: Tracked;
  let hbone: Tracked;
  let dns: Tracked;
  let app: Tracked;
  let remoteApp: Tracked;

  beforeAll(() => {
    requireRoot('e2e/ztunnel/redirect.test.ts');
    topo.build();
    // ztunnel's listeners: wildcard, dual-stack, marked; DNS on loopback as ztunnel binds it.
    outbound = topo.listen(topo.pod, '::', 15001, { mark: MARK, v6Only: false });
    inbound = topo.listen(topo.pod, '::', 15006, { mark: MARK, v6Only: false });
    hbone = topo.listen(topo.pod, '::', 15008, { mark: MARK, v6Only: false });
    dns = topo.listen(topo.pod, '127.0.0.1', 15053, { mark: MARK });
    app = topo.listen(topo.pod, '::', APP_PORT, { v6Only: false });
    remoteApp = topo.listen(topo.remote, '::', 80, { v6Only: false });
    applyInpodRules(topo.pod, OPTS, flavour);
  });

  afterAll(() => topo.teardown());

  it('reports the freshly applied rules as ok', () => {
    expect(checkInpodRules(topo.pod, OPTS, flavour)).toEqual({ kind: 'ok' });
  });

  it('sends an outbound IPv4 connection to 15001 with its original destination', async () => {
    const accepted = outbound.next('outbound capture on 15001');
    topo.dial(topo.pod, REMOTE_V4, 80);
    const peer = await accepted;
    expect(peer.localPort).toBe(15001);
    expect(getOriginalDst(peer)).toEqual({ address: REMOTE_V4, port: 80, family: 4 });
    expect(remoteApp.conns).toHaveLength(0);
  });

  it('sends an outbound IPv6 connection to 15001 with its original destination', async () => {
    const accepted = outbound.next('IPv6 outbound capture on 15001');
    topo.dial(topo.pod, REMOTE_V6, 80);
    const peer = await accepted;
    expect(getOriginalDst(peer)).toEqual({ address: REMOTE_V6, port: 80, family: 6 });
    expect(remoteApp.conns).toHaveLength(0);
  });

  it('sends TCP DNS to the DNS proxy port', async () => {
    const accepted = dns.next('DNS capture on 15053');
    topo.dial(topo.pod, REMOTE_V4, 53);
    const peer = await accepted;
    expect(getOriginalDst(peer)).toEqual({ address: REMOTE_V4, port: 53, family: 4 });
  });

  it('sends an inbound connection to podIP:8080 to 15006, not to the app', async () => {
    const accepted = inbound.next('inbound capture on 15006');
    topo.dial(topo.remote, POD_V4, APP_PORT);
    const peer = await accepted;
    expect(peer.localPort).toBe(15006);
    expect(getOriginalDst(peer)).toEqual({ address: POD_V4, port: APP_PORT, family: 4 });
    expect(peer.remoteAddress).toBe(`::ffff:${REMOTE_V4}`);
    expect(app.conns).toHaveLength(0);
  });

  it('leaves a connection to podIP:15008 (HBONE) alone', async () => {
    const before = inbound.conns.length;
    const accepted = hbone.next('HBONE connection on 15008');
    topo.dial(topo.remote, POD_V4, 15008);
    const peer = await accepted;
    expect(peer.localAddress).toBe(`::ffff:${POD_V4}`);
    expect(inbound.conns).toHaveLength(before);
  });

  it('lets a probe from 169.254.7.127 reach the app directly', async () => {
    const before = inbound.conns.length;
    const accepted = app.next('probe connection on the app port');
    topo.dial(topo.remote, POD_V4, APP_PORT, { bind: { address: PROBE_V4, port: 0 } });
    const peer = await accepted;
    expect(peer.remoteAddress).toBe(`::ffff:${PROBE_V4}`);
    expect(inbound.conns).toHaveLength(before);
  });

  it('lets a socket marked 0x539 bypass capture', async () => {
    const before = outbound.conns.length;
    const accepted = remoteApp.next('marked connection at the remote');
    topo.dial(topo.pod, REMOTE_V4, 80, { mark: MARK });
    const peer = await accepted;
    expect(peer.remoteAddress).toBe(`::ffff:${POD_V4}`);
    expect(outbound.conns).toHaveLength(before);
  });

  it('returns the app reply to a spoofed-source ztunnel delivery (connmark + table 100)', async () => {
    // ztunnel delivers inbound traffic from a transparent socket bound to the client's address; the
    // app's reply to that (remote) address must come back through lo, not leave on eth0.
    const accepted = app.next('spoofed delivery on the app port');
    const delivery = topo.dial(topo.pod, POD_V4, APP_PORT, { mark: MARK, transparent: true, bind: { address: REMOTE_V4, port: 0 } });
    const peer = await accepted;
    expect(peer.remoteAddress).toBe(`::ffff:${REMOTE_V4}`);
    const reply = firstData(delivery);
    peer.write('pong');
    expect(await reply).toBe('pong');
  });

  it('is idempotent: applying again changes nothing', () => {
    const before = snapshot(topo.pod);
    applyInpodRules(topo.pod, OPTS, flavour);
    applyInpodRules(topo.pod, OPTS, flavour);
    expect(snapshot(topo.pod)).toBe(before);
    expect(checkInpodRules(topo.pod, OPTS, flavour)).toEqual({ kind: 'ok' });
  });

  it('reports drift after a rule and the ip rule are deleted by hand, and re-apply repairs it', async () => {
    const gone = deleteOutboundRule(topo.pod, flavour);
    topo.pod.sh(['ip', '-4', 'rule', 'del', 'pref', '32764']);
    expect(checkInpodRules(topo.pod, OPTS, flavour)).toEqual({
      kind: 'drift',
      missing: [gone, 'ipv4 ip rule: pref 32764 fwmark 0x111/0xfff lookup 100'],
      unexpected: [],
    });
    applyInpodRules(topo.pod, OPTS, flavour);
    expect(checkInpodRules(topo.pod, OPTS, flavour)).toEqual({ kind: 'ok' });
    const accepted = outbound.next('outbound capture after repair');
    topo.dial(topo.pod, REMOTE_V4, 80);
    expect(getOriginalDst(await accepted)).toEqual({ address: REMOTE_V4, port: 80, family: 4 });
  });

  it('removes everything of ours, twice without error, and capture stops', async () => {
    removeInpodRules(topo.pod, flavour);
    removeInpodRules(topo.pod, flavour);
    const after = snapshot(topo.pod);
    expect(after).not.toContain('ISTIO');
    expect(after).not.toContain('istio-ambient');
    expect(after).not.toMatch(/^32764:/m);
    expect(after).not.toMatch(/table 100\b/);
    const check = checkInpodRules(topo.pod, OPTS, flavour);
    expect(check.kind).toBe('drift');
    expect(check.kind === 'drift' && check.unexpected).toEqual([]);

    const before = outbound.conns.length;
    const accepted = remoteApp.next('uncaptured connection at the remote');
    topo.dial(topo.pod, REMOTE_V4, 80);
    await accepted;
    expect(outbound.conns).toHaveLength(before);
  });
});
