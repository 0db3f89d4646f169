// ztunnel hardening in real pod network namespaces (issue 11): a certificate lives as long as a pod of
// its identity is on the node; a netns handle released while a dial awaits its certificate fails that
// dial instead of using a reused fd number (another pod's netns); and running out of fds (a lowered
// RLIMIT_NOFILE on this very process) costs the connections that hit it, never the process, while
// other pods' traffic keeps flowing.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HbonePool } from '../../lib/hbone/index.ts';
import { createTestPki, rejectionOf } from '../../lib/hbone/test-fixtures.ts';
import { createLogger } from '../../lib/log/logger.ts';
import { closeFd, connectTcp, listenTcp, NetnsHandle, openNetns } from '../../lib/netns/index.ts';
import { applyInpodRules } from '../../lib/redirect/index.ts';
import { startZtunnel, type ZtunnelApp } from '../../ztunnel/src/app.ts';
import { pollUntil } from '../lab/poll.ts';
import { echoApp, podTopology, podWorkloads, requireRoot, run, standaloneZtunnelConfig, talk } from './netns-harness.ts';

const { NS, IP, setup, teardown } = podTopology(`amt-hard-${randomBytes(3).toString('hex')}`);
// Pod c is a second pod of b's identity (same namespace and service account), not captured.
const CONFIG = `${podWorkloads(IP)}- { name: echo-2, namespace: b, serviceAccount: echo, addresses: [${IP.c}], node: node1 }\n`;
const SLEEP = { uid: 'uid-sleep', name: 'sleep', namespace: 'a', serviceAccount: 'sleep' };
const ECHO = { uid: 'uid-echo', name: 'echo', namespace: 'b', serviceAccount: 'echo' };
const ECHO2 = { uid: 'uid-echo-2', name: 'echo-2', namespace: 'b', serviceAccount: 'echo' };

/**
 * The RLIMIT_NOFILE soft limit under which exactly `free` more fds can be opened: the kernel hands
 * out the lowest free fd number and refuses numbers at or above the limit, so the limit is the
 * number of the `free`-th hole in the fd table (open fds above it do not matter).
 */
function limitLeavingFree(free: number): number {
  const probe = openSync('/dev/null', 'r'); // the number readdir's own handle will take
  closeSync(probe);
  const open = new Set(readdirSync('/proc/self/fd').map(Number));
  open.delete(probe);
  let seen = 0;
  for (let n = 0; ; n++) {
    if (open.has(n)) continue;
    if (seen++ === free) return n;
  }
}

describe('ztunnel hardening (root)', () => {
  let dir: string;
  let app: ZtunnelApp;
  const servers: net.Server[] = [];
  const get = async (port: number, path: string): Promise<string> => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
  const certificates = async (): Promise<string[]> => {
    const dump = JSON.parse(await get(app.ports.admin, '/config_dump')) as { certificates: { identity: string }[] };
    return dump.certificates.map((c) => c.identity).sort();
  };

  beforeAll(async () => {
    requireRoot('e2e/ztunnel/hardening.test.ts');
    setup();
    for (const k of ['a', 'b'] as const) applyInpodRules({ path: `/run/netns/${NS[k]}` }, { dnsCapture: false }, 'iptables');
    dir = mkdtempSync(join(tmpdir(), 'amt-hard-'));
    app = await startZtunnel(await standaloneZtunnelConfig(dir, CONFIG, 1), { log: createLogger({ component: 'ztunnel', destination: new PassThrough() }), zds: false });
    servers.push(await echoApp(NS.b, 9000, []));
    app.workloads.add(SLEEP, openNetns(`/run/netns/${NS.a}`));
    app.workloads.add(ECHO, openNetns(`/run/netns/${NS.b}`));
    app.workloads.add(ECHO2, openNetns(`/run/netns/${NS.c}`));
    app.workloads.reconcile(new Set([SLEEP.uid, ECHO.uid, ECHO2.uid]));
  });

  afterAll(async () => {
    await app?.shutdown();
    for (const s of servers) s.close();
    teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps an identity’s certificate while a pod of it is on the node, and drops it with the last one', async () => {
    expect(await talk(NS.a, IP.b, 9000, 'ping')).toBe('ping');
    await pollUntil('both identities to have certificates', async () => (await certificates()).length === 2);
    expect(await certificates()).toEqual(['spiffe://cluster.local/ns/a/sa/sleep', 'spiffe://cluster.local/ns/b/sa/echo']);
    expect(app.secrets.holders('spiffe://cluster.local/ns/b/sa/echo')).toBe(2);
    app.workloads.remove(ECHO.uid);
    // echo-2 still runs with that identity: kept.
    expect(await certificates()).toEqual(['spiffe://cluster.local/ns/a/sa/sleep', 'spiffe://cluster.local/ns/b/sa/echo']);
    app.workloads.remove(ECHO2.uid);
    expect(await certificates()).toEqual(['spiffe://cluster.local/ns/a/sa/sleep']);
    expect(app.secrets.holders('spiffe://cluster.local/ns/b/sa/echo')).toBe(0);
    // A pod of the identity coming back fetches it again, and traffic flows.
    app.workloads.add(ECHO, openNetns(`/run/netns/${NS.b}`));
    expect(await talk(NS.a, IP.b, 9000, 'back')).toBe('back');
    expect(await certificates()).toEqual(['spiffe://cluster.local/ns/a/sa/sleep', 'spiffe://cluster.local/ns/b/sa/echo']);
  });

  it('a pool dial whose netns handle is released while it awaits a certificate fails cleanly, never in the netns that reuses the fd', async () => {
    // Netns c has a listener on 127.0.0.1:<port>; netns a has none there. A socket made "in a" that
    // lands in c would reach it.
    let accepted = 0;
    const inC = listenTcp({ netns: `/run/netns/${NS.c}`, address: '127.0.0.1', port: 0 }, (s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((r) => (inC.listening ? r() : inC.once('listening', () => r())));
    const port = (inC.address() as net.AddressInfo).port;
    const pki = await createTestPki();
    let giveCertificate!: () => void;
    const pool = new HbonePool({
      getCertificate: async (id) => {
        await new Promise<void>((r) => (giveCertificate = r));
        return pki.cert(id);
      },
      keepalive: false,
    });
    const podA = NetnsHandle.open(`/run/netns/${NS.a}`);
    const number = podA.fd;
    let reusedBy: number | undefined;
    try {
      const open = pool.open({
        key: { srcIdentity: 'spiffe://cluster.local/ns/a/sa/sleep', dstIdentities: ['spiffe://cluster.local/ns/b/sa/echo'], dstAddress: `127.0.0.1:${port}` },
        authority: `127.0.0.1:${port}`,
        connectSocket: () => connectTcp({ netns: podA, host: '127.0.0.1', port }),
      });
      await pollUntil('the dial to wait for its certificate', () => giveCertificate !== undefined);
      podA.release(); // the pod is gone while its dial is in flight
      reusedBy = openNetns(`/run/netns/${NS.c}`);
      expect(reusedBy).toBe(number); // the number now names another pod's netns
      giveCertificate();
      const err = await rejectionOf(open);
      expect(err.code).toBe('HBONE_CONNECT_FAILED');
      expect(err.message).toContain('EBADF');
      expect(accepted).toBe(0);
    } finally {
      if (reusedBy !== undefined) closeFd(reusedBy);
      podA.release();
      await pool.close();
      inC.close();
    }
  });

  it('survives running out of fds: connections that hit it are reset and counted, other pods keep working', async () => {
    const hard = run(['prlimit', `--pid=${process.pid}`, '--nofile', '--output=HARD', '--noheadings']).trim();
    const soft = run(['prlimit', `--pid=${process.pid}`, '--nofile', '--output=SOFT', '--noheadings']).trim();
    // Everything that needs an fd of its own is made first: with the limit lowered this process
    // cannot even spawn. A helper changes our limit on request; each client waits for "go".
    const limiter = spawn('bash', ['-c', `while read n; do prlimit --pid=${process.pid} --nofile=$n:${hard} && echo ok || echo fail; done`]);
    const lines = (p: ChildProcessWithoutNullStreams): (() => Promise<string>) => {
      const queue: string[] = [];
      const waiters: ((l: string) => void)[] = [];
      let buf = '';
      p.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const w = waiters.shift();
          if (w) w(l);
          else queue.push(l);
        }
      });
      return () => new Promise((r) => (queue.length ? r(queue.shift()!) : waiters.push(r)));
    };
    const limiterLine = lines(limiter);
    const setLimit = async (n: string): Promise<void> => {
      limiter.stdin.write(`${n}\n`);
      expect(await limiterLine()).toBe('ok');
    };
    // From pod c (outside the mesh) to b's app: b's rules send it to ztunnel's 15006, which accepts
    // it and dials the app inside b: an accept and a socket() + setns each, at the lowered limit.
    const script = `read go; if exec 3<>/dev/tcp/${IP.b}/9000; then printf ping >&3; r=$(timeout 5 head -c 4 <&3); echo "got:$r"; else echo "got:connect-failed"; fi`;
    const clients = Array.from({ length: 6 }, () => spawn('nsenter', [`--net=/run/netns/${NS.c}`, '--', 'bash', '-c', script]));
    const outcomes: string[] = [];
    try {
      for (const [i, c] of clients.entries()) {
        const out = lines(c);
        // The previous client's pipes are closed by now (awaited below), so this is stable.
        await setLimit(String(limitLeavingFree(i)));
        c.stdin.write('go\n');
        outcomes.push(await out());
        await setLimit(soft);
        c.stdin.end();
        await new Promise((r) => (c.exitCode !== null && c.stdout.closed ? r(undefined) : c.once('close', r)));
      }
    } finally {
      limiter.stdin.end();
      for (const c of clients) c.kill();
    }
    // Some connections failed for want of an fd (positive evidence: counted as such) ...
    const metrics = await get(app.ports.metrics, '/metrics');
    const dialFailed = Number(/^ztunnel_proxy_errors_total\{scope="inbound_passthrough",reason="dial_failed"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    expect(dialFailed, `client outcomes with 0..5 fds free: ${outcomes.join(' ')}`).toBeGreaterThan(0);
    // ... and the process is alive and serves every pod: mesh traffic a → b and plaintext c → b.
    expect(await talk(NS.a, IP.b, 9000, 'still here')).toBe('still here');
    const again = spawn('nsenter', [`--net=/run/netns/${NS.c}`, '--', 'bash', '-c', script.replace('read go; ', '')]);
    expect(await lines(again)()).toBe('got:ping');
  });
});
