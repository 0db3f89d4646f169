// Which ztunnel admin endpoint a `ztunnel-config` command reads: a dump file, an explicit
// `--admin-address`, the lab's AMBIENTCTL_ZTUNNEL_ADMIN map (`node=url,...`, `--node` picks one),
// or a ztunnel pod through an apiserver port-forward. Pure: the command performs the plan.
import { CliError } from '../args.ts';

export const ADMIN_ENV = 'AMBIENTCTL_ZTUNNEL_ADMIN';
export const ZTUNNEL_ADMIN_PORT = 15000;

export interface AdminEntry {
  node: string;
  url: string;
}

export type AdminPlan =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string; node?: string }
  /** A real cluster: port-forward to a ztunnel pod (by name, by node, or the first one). */
  | { kind: 'pod'; pod?: { name: string; namespace: string }; node?: string; port: number };

/** `node1=http://127.0.0.1:1234,node2=http://…` → entries in the given order. */
export function parseAdminEnv(value: string | undefined): AdminEntry[] {
  if (!value?.trim()) return [];
  return value.split(',').map((s) => s.trim()).filter(Boolean).map((item) => {
    const eq = item.indexOf('=');
    const node = eq > 0 ? item.slice(0, eq).trim() : '';
    const url = eq > 0 ? item.slice(eq + 1).trim() : '';
    if (!node || !url) throw new CliError(`${ADMIN_ENV}: "${item}" is not node=http://host:port`);
    return { node, url: normalizeUrl(url, `${ADMIN_ENV} entry ${node}`) };
  });
}

function normalizeUrl(raw: string, what: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new CliError(`${what}: invalid address "${raw}"`);
  }
  if (u.protocol !== 'http:') throw new CliError(`${what}: only http:// admin addresses are supported, got "${raw}"`);
  return `${u.protocol}//${u.host}`;
}

export interface TargetInputs {
  file?: string | undefined;
  adminAddress?: string | undefined;
  node?: string | undefined;
  /** The positional `<ztunnel-pod>[.<namespace>]`. */
  pod?: string | undefined;
  env: AdminEntry[];
  /** Where a pod named without `.<namespace>` lives: `-n`, else the Istio namespace. */
  podNamespace: string;
  port: number;
}

/**
 * Like istioctl: at most one of --file, --node, a pod name (and our --admin-address). Without any,
 * the lab map's first entry, as istioctl reads one ztunnel ("a randomly chosen ztunnel"); every
 * ztunnel holds the same workloads, services and policies, only certificates are per node.
 */
export function planTarget(i: TargetInputs): AdminPlan {
  const set = [i.file, i.node, i.pod, i.adminAddress].filter((v) => v !== undefined && v !== '').length;
  if (set > 1) throw new CliError('at most one of --file, --node, --admin-address, or pod name must be passed', 'USAGE');
  if (i.file) return { kind: 'file', path: i.file };
  if (i.adminAddress) return { kind: 'url', url: normalizeUrl(i.adminAddress, '--admin-address') };
  if (i.env.length > 0) {
    if (i.pod) throw new CliError(`a ztunnel pod name cannot be used with ${ADMIN_ENV}; pick a node with --node (known: ${i.env.map((e) => e.node).join(', ')})`, 'USAGE');
    const e = i.node ? i.env.find((x) => x.node === i.node) : i.env[0];
    if (!e) throw new CliError(`no ztunnel admin address for node "${i.node}" in ${ADMIN_ENV} (known: ${i.env.map((x) => x.node).join(', ')})`);
    return { kind: 'url', url: e.url, node: e.node };
  }
  if (i.pod) {
    const typed = i.pod.replace(/^pods?\//, '');
    const dot = typed.indexOf('.');
    const name = dot > 0 ? typed.slice(0, dot) : typed;
    const namespace = dot > 0 ? typed.slice(dot + 1) : i.podNamespace;
    return { kind: 'pod', pod: { name, namespace }, port: i.port };
  }
  return { kind: 'pod', ...(i.node ? { node: i.node } : {}), port: i.port };
}
