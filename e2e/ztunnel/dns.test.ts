// ztunnel's DNS proxy in a captured pod (root): a standalone ztunnel app serves a throwaway pod netns
// carrying Istio's in-pod rules with DNS capture on, and an upstream resolver runs in a second
// throwaway netns joined to the pod by a veth pair (nothing routed anywhere else). A separate process
// in the pod asks a nameserver address where nothing listens: every answer it gets proves the
// capture to 15053. Mesh names come from ztunnel; other names are forwarded from a marked socket in
// the pod netns to the upstream, and its answer comes back. Both flavours of the rules.
import { answerAddresses, decodeDns, dnsQuery } from '../../ztunnel/src/dns/test-messages.ts';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log/logger.ts';
import { connectTcp, listenTcp, openNetns, UdpSocket } from '../../lib/netns/index.ts';
import { createThrowawayNetns, type ThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { applyInpodRules, type RedirectFlavour } from '../../lib/redirect/index.ts';
import { startZtunnel, type ZtunnelApp } from '../../ztunnel/src/app.ts';
import { CLASS_IN, parseMessage, RCODE, RR_TYPE, serializeMessage, type DnsMessage, type DnsRecord } from '../../ztunnel/src/dns/message.ts';
import { pollUntil } from '../lab/poll.ts';
import { requireRoot, standaloneZtunnelConfig } from './netns-harness.ts';

const POD_IP = '192.0.2.2';
const UPSTREAM_IP = '192.0.2.53';
/** What the pod's resolv.conf would name (kube-dns); nothing listens there, only capture answers. */
const CLUSTER_DNS_IP = '192.0.2.10';

const CONFIG = `workloads:
- { name: sleep, namespace: a, serviceAccount: sleep, canonicalName: sleep, canonicalRevision: v1, addresses: [${POD_IP}], node: node1 }
services:
- { name: web, namespace: a, vips: [10.96.0.30], ports: { 80: 8080 } }
- { name: echo, namespace: b, vips: [10.96.0.20, "fd00::20"], ports: { 80: 9000 } }
`;

/** The upstream resolver: `example.test` → 203.0.113.7, `slow.test` never answered, else NXDOMAIN. */
class UpstreamResolver {
  readonly seen: { name: string; from: string; protocol: string }[] = [];
  udp?: UdpSocket;
  tcp?: net.Server;

  start(netns: string): void {
    this.udp = UdpSocket.open({ netns, address: UPSTREAM_IP, port: 53 });
    this.udp.on('message', (data, rinfo) => {
      const reply = this.answer(data, rinfo.address, 'udp');
      if (reply) this.udp?.send(reply, rinfo.port, rinfo.address);
    });
    this.tcp = listenTcp({ netns, address: UPSTREAM_IP, port: 53 }, (s) => {
      s.on('error', () => undefined);
      s.once('data', (chunk: Buffer) => {
        const reply = this.answer(chunk.subarray(2), s.remoteAddress ?? '', 'tcp');
        if (!reply) return void s.destroy();
        const len = Buffer.alloc(2);
        len.writeUInt16BE(reply.length);
        s.end(Buffer.concat([len, reply]));
      });
    });
  }

  answer(raw: Buffer, from: string, protocol: string): Buffer | undefined {
    const parsed = parseMessage(raw);
    if (!parsed.ok) return undefined;
    const q = parsed.message;
    const question = q.questions[0];
    if (!question) return undefined;
    this.seen.push({ name: question.name, from, protocol });
    if (question.name === 'slow.test') return undefined;
    const known = question.name === 'example.test';
    const answers: DnsRecord[] = known && question.type === RR_TYPE.A ? [{ kind: 'A', name: question.name, class: CLASS_IN, ttl: 60, address: '203.0.113.7' }] : [];
    return serializeMessage({ ...q, header: { ...q.header, qr: true, ra: true, rcode: known ? RCODE.NOERROR : RCODE.NXDOMAIN }, answers, authorities: [], additionals: [] });
  }

  close(): void {
    this.udp?.close();
    this.tcp?.close();
  }
}

/**
 * Runs a Node process inside the pod netns that resolves `names` with c-ares against the cluster
 * DNS address (UDP); prints one result per name. Async: the proxy answering runs in this process.
 */
function resolveInPod(pod: ThrowawayNetns, names: { name: string; type: 'A' | 'AAAA' }[]): Promise<Record<string, string[] | string>> {
  const script = `
    const { Resolver } = require('node:dns').promises;
    const r = new Resolver({ timeout: 4000, tries: 1 });
    r.setServers([${JSON.stringify(CLUSTER_DNS_IP)}]);
    (async () => {
      const out = {};
      for (const { name, type } of ${JSON.stringify(names)}) {
        try { out[type + ' ' + name] = (await (type === 'A' ? r.resolve4(name) : r.resolve6(name))).sort(); }
        catch (err) { out[type + ' ' + name] = err.code; }
      }
      process.stdout.write(JSON.stringify(out));
    })();
  `;
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${pod.path}`, '--', process.execPath, '-e', script], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`resolver in the pod exited with ${code}: ${err}`));
      else resolve(JSON.parse(out) as Record<string, string[] | string>);
    });
  });
}

const query = (name: string, id: number, type: number = RR_TYPE.A): Buffer => dnsQuery(name, { id, type });

const decode = decodeDns;

const addresses = answerAddresses;

/** A DNS exchange over TCP from an (unmarked, so captured) socket in the pod. */
async function tcpQuery(pod: ThrowawayNetns, payload: Buffer): Promise<DnsMessage> {
  const s = connectTcp({ netns: pod.path, host: CLUSTER_DNS_IP, port: 53 });
  const len = Buffer.alloc(2);
  len.writeUInt16BE(payload.length);
  s.end(Buffer.concat([len, payload]));
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', resolve);
    s.on('error', reject);
  });
  const all = Buffer.concat(chunks);
  return decode(all.subarray(2, 2 + all.readUInt16BE(0)));
}

describe.each<RedirectFlavour>(['iptables', 'nftables'])('DNS proxy in a captured pod, %s flavour (root)', (flavour) => {
  const created: ThrowawayNetns[] = [];
  const upstream = new UpstreamResolver();
  let pod: ThrowawayNetns;
  let dir: string | undefined;
  let app: ZtunnelApp | undefined;
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${app!.ports.metrics}/metrics`)).text();

  beforeAll(async () => {
    requireRoot('e2e/ztunnel/dns.test.ts');
    pod = createThrowawayNetns();
    created.push(pod);
    const up = createThrowawayNetns();
    created.push(up);
    // Made inside the pod netns with its peer placed straight into the upstream one.
    pod.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', up.name]);
    for (const [ns, ip] of [[pod, POD_IP], [up, UPSTREAM_IP]] as const) {
      ns.exec(['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      ns.exec(['ip', 'link', 'set', 'eth0', 'up']);
    }
    applyInpodRules({ path: pod.path }, { dnsCapture: true }, flavour);
    upstream.start(up.path);

    dir = mkdtempSync(join(tmpdir(), 'amt-dns-'));
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${UPSTREAM_IP}\noptions timeout:1\n`);
    const cfg = await standaloneZtunnelConfig(dir, CONFIG, 1);
    expect(cfg.dnsCapture).toBe(true);
    app = await startZtunnel({ ...cfg, dnsResolvConf: join(dir, 'resolv.conf') }, { log: createLogger({ component: 'ztunnel', destination: new PassThrough() }), zds: false });
    app.workloads.add({ uid: 'uid-sleep', name: 'sleep', namespace: 'a', serviceAccount: 'sleep' }, openNetns(pod.path));
    app.workloads.reconcile(new Set(['uid-sleep']));
  });

  afterAll(async () => {
    const errors: string[] = [];
    try {
      await app?.shutdown();
    } catch (err) {
      errors.push((err as Error).message);
    }
    upstream.close();
    for (const ns of created.splice(0)) {
      try {
        ns.remove();
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (errors.length) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  });

  it('answers mesh names, full and short, to a process in the pod (UDP, captured from port 53)', async () => {
    const got = await resolveInPod(pod, [
      { name: 'echo.b.svc.cluster.local', type: 'A' },
      { name: 'echo.b', type: 'A' },
      { name: 'web', type: 'A' },
      { name: 'echo.b.svc.cluster.local', type: 'AAAA' },
      { name: 'web.a.svc.cluster.local', type: 'AAAA' },
    ]);
    expect(got).toEqual({
      'A echo.b.svc.cluster.local': ['10.96.0.20'],
      'A echo.b': ['10.96.0.20'],
      'A web': ['10.96.0.30'],
      'AAAA echo.b.svc.cluster.local': ['fd00::20'],
      // Known name, no IPv6 address: an empty NOERROR answer, which c-ares reports as ENODATA.
      'AAAA web.a.svc.cluster.local': 'ENODATA',
    });
    // None of it went upstream.
    expect(upstream.seen.filter((s) => /web|echo/.test(s.name))).toEqual([]);
    expect(await metrics()).toMatch(/^istio_dns_requests_total\{request_query_type="a",request_protocol="udp",source_canonical_service="sleep",source_canonical_revision="v1"\} 3$/m);
  });

  it('forwards other names from the pod netns to the upstream resolver and relays its answers', async () => {
    const got = await resolveInPod(pod, [
      { name: 'example.test', type: 'A' },
      { name: 'missing.test', type: 'A' },
    ]);
    expect(got).toEqual({ 'A example.test': ['203.0.113.7'], 'A missing.test': 'ENOTFOUND' });
    // The upstream query left from the pod's own address (a socket in the pod netns), and its mark
    // kept it from being captured again.
    expect(upstream.seen.filter((s) => s.name.endsWith('.test'))).toEqual([
      { name: 'example.test', from: POD_IP, protocol: 'udp' },
      { name: 'missing.test', from: POD_IP, protocol: 'udp' },
    ]);
    expect(await metrics()).toMatch(/^istio_dns_upstream_requests_total\{request_query_type="a",request_protocol="udp",[^}]*\} 2$/m);
  });

  it('answers SERVFAIL when the upstream stays silent, and counts the failure', async () => {
    expect(await resolveInPod(pod, [{ name: 'slow.test', type: 'A' }])).toEqual({ 'A slow.test': 'ESERVFAIL' });
    expect(await metrics()).toMatch(/^istio_dns_upstream_failures_total\{request_query_type="a",request_protocol="udp",[^}]*\} 1$/m);
  });

  it('answers over TCP, itself and by forwarding', async () => {
    const own = await tcpQuery(pod, query('echo.b.svc.cluster.local', 0x1111));
    expect(own.header).toMatchObject({ id: 0x1111, aa: true, rcode: RCODE.NOERROR });
    expect(addresses(own)).toEqual(['10.96.0.20']);
    const forwarded = await tcpQuery(pod, query('example.test', 0x2222));
    expect(forwarded.header).toMatchObject({ id: 0x2222, rcode: RCODE.NOERROR });
    expect(addresses(forwarded)).toEqual(['203.0.113.7']);
    expect(await metrics()).toMatch(/^istio_dns_requests_total\{request_query_type="a",request_protocol="tcp",[^}]*\} 2$/m);
  });

  it('survives a garbage datagram, counts it, and keeps answering', async () => {
    const garbage = UdpSocket.open({ netns: pod.path });
    try {
      garbage.send(Buffer.from('not dns'), 53, CLUSTER_DNS_IP);
      garbage.send(Buffer.from('ffffffffffffffffffffffffffffffff', 'hex'), 53, CLUSTER_DNS_IP);
      await pollUntil(
        'the malformed requests to be counted',
        async () => {
          const text = await metrics();
          return /^ztunnel_dns_malformed_requests_total\{request_protocol="udp",reason="short-header"\} 1$/m.test(text) && /^ztunnel_dns_malformed_requests_total\{request_protocol="udp",reason="not-a-query"\} 1$/m.test(text);
        },
        { timeoutMs: 5_000, intervalMs: 50 },
      );
    } finally {
      garbage.close();
    }
    expect(await resolveInPod(pod, [{ name: 'web', type: 'A' }])).toEqual({ 'A web': ['10.96.0.30'] });
  });
});
