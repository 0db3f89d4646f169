// Shared by the root netns suites of e2e/ztunnel: the root check, running a command, and a handle on
// a named network namespace.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSelfSignedRoot } from '../../lib/identity/index.ts';
import { configFromEnv, type ZtunnelConfig } from '../../ztunnel/src/config.ts';
import type net from 'node:net';
import { readAll } from '../../lib/hbone/test-fixtures.ts';
import { connectTcp, listenTcp } from '../../lib/netns/index.ts';

export function requireRoot(suite: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${suite} must run as root: it creates network namespaces, veth pairs and netfilter rules`);
  }
}

export function run(argv: string[], stdin?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: stdin ?? '', encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface Ns {
  name: string;
  path: string;
  sh(argv: string[]): string;
}

export function netnsHandle(name: string): Ns {
  const path = `/run/netns/${name}`;
  return { name, path, sh: (argv) => run(['nsenter', `--net=${path}`, '--', ...argv]) };
}

/**
 * Three "pods" on one switch, each its own netns: a (10.250.0.2), b (.3) and c (.4, stays outside
 * the mesh), joined by a bridge in a fourth netns. Nothing in the root netns; no route out.
 */
export function podTopology(prefix: string) {
  const NS = { sw: `${prefix}-sw`, a: `${prefix}-a`, b: `${prefix}-b`, c: `${prefix}-c` };
  const IP = { a: '10.250.0.2', b: '10.250.0.3', c: '10.250.0.4' };
  const setup = (): void => {
    for (const ns of Object.values(NS)) {
      run(['ip', 'netns', 'add', ns]);
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    run(['ip', '-n', NS.sw, 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', NS.sw, 'link', 'set', 'br0', 'up']);
    for (const k of ['a', 'b', 'c'] as const) {
      run(['ip', '-n', NS[k], 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${k}`, 'netns', NS.sw]);
      run(['ip', '-n', NS.sw, 'link', 'set', `p${k}`, 'master', 'br0', 'up']);
      run(['ip', '-n', NS[k], 'addr', 'add', `${IP[k]}/24`, 'dev', 'eth0']);
      run(['ip', '-n', NS[k], 'link', 'set', 'eth0', 'up']);
    }
  };
  const teardown = (): void => {
    for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
  };
  return { NS, IP, setup, teardown };
}

/** A TCP echo "app" listening inside a netns; records the client address of each connection. */
export async function echoApp(ns: string, port: number, seen: string[]): Promise<net.Server> {
  const srv = listenTcp({ netns: `/run/netns/${ns}`, address: '0.0.0.0', port, server: { allowHalfOpen: true } }, (s) => {
    seen.push(s.remoteAddress ?? '');
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => (srv.listening ? r() : srv.once('listening', () => r())));
  return srv;
}

/** One request from inside a netns: send, half-close, read everything (or the error code). */
export async function talk(fromNs: string, host: string, port: number, payload: string): Promise<string> {
  const c = connectTcp({ netns: `/run/netns/${fromNs}`, host, port, allowHalfOpen: true });
  c.end(payload);
  try {
    return (await readAll(c)).toString();
  } catch (err) {
    return `error:${(err as { code?: string }).code ?? (err as Error).message}`;
  }
}

/** The YAML workloads of pods a (sleep) and b (echo) of podTopology, for a standalone ztunnel. */
export function podWorkloads(ip: { a: string; b: string }): string {
  return `workloads:
- { name: sleep, namespace: a, serviceAccount: sleep, addresses: [${ip.a}], node: node1 }
- { name: echo, namespace: b, serviceAccount: echo, addresses: [${ip.b}], node: node1 }
`;
}

/**
 * Files and config of a standalone ztunnel for node1 in `dir`: a fresh root CA, `config.yaml` with
 * `configYaml`, ops servers on ephemeral loopback ports.
 */
export async function standaloneZtunnelConfig(dir: string, configYaml: string, deadlineSeconds: number): Promise<ZtunnelConfig> {
  const root = await createSelfSignedRoot();
  writeFileSync(join(dir, 'root.pem'), root.certPem);
  writeFileSync(join(dir, 'root-key.pem'), root.keyPem);
  writeFileSync(join(dir, 'config.yaml'), configYaml);
  const cfg = configFromEnv({
    NODE_NAME: 'node1', LOCAL_XDS_PATH: join(dir, 'config.yaml'), CA_ROOT_CERT: join(dir, 'root.pem'), CA_ROOT_KEY: join(dir, 'root-key.pem'),
    ADMIN_ADDR: '127.0.0.1:0', STATS_ADDR: '127.0.0.1:0', READINESS_ADDR: '127.0.0.1:0', CONNECTION_TERMINATION_DEADLINE: String(deadlineSeconds),
  });
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  return cfg.config;
}
