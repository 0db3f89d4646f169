// `ambientctl ztunnel-config workloads|services|policies|certificates|all`: istioctl's aliases, flags
// and tables over one ztunnel's `/config_dump`, read from a file, an admin address, the lab's
// AMBIENTCTL_ZTUNNEL_ADMIN map, or a ztunnel pod through an apiserver port-forward.
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { CliError, flagHelp, type FlagSpecs, type Parsed } from '../args.ts';
import { getThroughPortForward, httpGet, resolveZtunnelPod } from '../ztunnel/admin-client.ts';
import { ADMIN_ENV, parseAdminEnv, planTarget, ZTUNNEL_ADMIN_PORT, type AdminPlan } from '../ztunnel/admin-target.ts';
import { parseConfigDump, renderConfigDump, type OutputFormat, type ZtunnelKind } from '../ztunnel/config-dump.ts';
import type { Io } from './waypoint.ts';

/** Sub-command names and aliases, as istioctl's. */
export const ZTUNNEL_KINDS: Record<string, ZtunnelKind> = {
  workload: 'workloads', workloads: 'workloads', w: 'workloads',
  service: 'services', services: 'services', s: 'services', svc: 'services',
  policy: 'policies', policies: 'policies', p: 'policies', pol: 'policies',
  certificate: 'certificates', certificates: 'certificates', certs: 'certificates', cert: 'certificates',
  all: 'all',
};

const COMMON: FlagSpecs = {
  output: { type: 'string', short: 'o', default: 'short', help: 'Output format: one of json|yaml|short' },
  node: { type: 'string', help: `Read the ztunnel of this node (an ${ADMIN_ENV} entry, or the ztunnel pod on that node)` },
  file: { type: 'string', short: 'f', help: 'Ztunnel config dump JSON file ("-" for stdin)' },
  'admin-address': { type: 'string', help: "ztunnel's admin address, http://host:port (skips the cluster)" },
  'proxy-admin-port': { type: 'string', metavar: 'int', default: String(ZTUNNEL_ADMIN_PORT), help: 'Ztunnel proxy admin port (port-forward)' },
};

export const ZTUNNEL_FLAGS: Record<ZtunnelKind, FlagSpecs> = {
  workloads: {
    ...COMMON,
    address: { type: 'string', help: 'Filter workloads by address field' },
    'workload-namespace': { type: 'string', help: 'Filter workloads by namespace field' },
    'workload-node': { type: 'string', help: 'Filter workloads by node' },
  },
  services: { ...COMMON, 'service-namespace': { type: 'string', help: 'Filter services by namespace field' } },
  policies: { ...COMMON, 'policy-namespace': { type: 'string', help: 'Filter policies by namespace field' } },
  certificates: COMMON,
  all: COMMON,
};

export function ztunnelHelp(kind?: ZtunnelKind): string {
  const reach = `Which ztunnel is read, in this order:
  -f/--file FILE            a saved /config_dump (kubectl exec ... curl localhost:15000/config_dump > FILE)
  --admin-address URL       that admin address
  ${ADMIN_ENV}    node1=http://127.0.0.1:15000,node2=...: --node picks the entry, else the first
                            one (istioctl reads one ztunnel too; all hold the same workloads, services
                            and policies; certificates are per node)
  otherwise                 a ztunnel pod (DaemonSet ztunnel in -i/--istioNamespace; --node, or a pod
                            name [<type>/]<name>[.<namespace>]) through an apiserver port-forward.
                            Not available on the lab cluster, which has no port-forward: use ${ADMIN_ENV}.`;
  if (kind) {
    return `Retrieve information about ${kind} of the Ztunnel instance.\n\nUsage:\n  ambientctl ztunnel-config ${kind} [<ztunnel-pod>[.<namespace>]] [flags]\n\n${reach}\n\nFlags:\n${flagHelp(ZTUNNEL_FLAGS[kind])}\n`;
  }
  return `A group of commands used to retrieve Ztunnel configuration from a Ztunnel instance.

Usage:
  ambientctl ztunnel-config [command]

Aliases:
  ztunnel-config, zc

Available Commands:
  all          Retrieves all configuration for the specified Ztunnel pod.
  certificate  Retrieves certificate for the specified Ztunnel pod. (certificates, certs, cert)
  policy       Retrieves policies for the specified Ztunnel pod. (policies, p, pol)
  service      Retrieves services for the specified Ztunnel pod. (services, s, svc)
  workload     Retrieves workload configuration for the specified Ztunnel pod. (workloads, w)

${reach}
`;
}

export interface ZtunnelDeps {
  io: Io;
  env: NodeJS.ProcessEnv;
  /** Only for the port-forward path. */
  kube(): { kc: KubeConfig };
  istioNamespace: string;
  readStdin(): string;
  now(): Date;
  /** Overridable for tests. */
  fetchAdmin?(plan: AdminPlan, path: string): Promise<string>;
}

const s = (v: Parsed['values'][string]): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export async function runZtunnelConfig(kind: ZtunnelKind, p: Parsed, deps: ZtunnelDeps): Promise<void> {
  const v = p.values;
  if (p.positionals.length > 1) throw new CliError(`accepts at most 1 arg(s), received ${p.positionals.length}`, 'USAGE');
  const output = (s(v.output) ?? 'short') as OutputFormat;
  if (!['short', 'json', 'yaml'].includes(output)) throw new CliError(`output format "${output}" not supported`, 'USAGE');
  const port = Number(s(v['proxy-admin-port']) ?? ZTUNNEL_ADMIN_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new CliError(`invalid argument "${String(v['proxy-admin-port'])}" for "--proxy-admin-port" flag`, 'USAGE');
  const plan = planTarget({
    file: s(v.file), adminAddress: s(v['admin-address']), node: s(v.node), pod: p.positionals[0],
    env: parseAdminEnv(deps.env[ADMIN_ENV]), podNamespace: s(v.namespace) ?? deps.istioNamespace, port,
  });
  const text = await (deps.fetchAdmin ?? ((pl, path) => fetchAdmin(pl, path, deps)))(plan, '/config_dump');
  const dump = parseConfigDump(text);
  deps.io.out(renderConfigDump(dump, {
    kind, output, now: deps.now(), rawText: text,
    workloads: { namespace: s(v['workload-namespace']), address: s(v.address), node: s(v['workload-node']) },
    serviceNamespace: s(v['service-namespace']),
    policyNamespace: s(v['policy-namespace']),
  }));
}

async function fetchAdmin(plan: AdminPlan, path: string, deps: ZtunnelDeps): Promise<string> {
  switch (plan.kind) {
    case 'file':
      try {
        return plan.path === '-' ? deps.readStdin() : readFileSync(plan.path, 'utf8');
      } catch (err) {
        throw new CliError((err as Error).message);
      }
    case 'url':
      return httpGet(plan.url, path);
    case 'pod': {
      const { kc } = deps.kube();
      const pod = plan.pod ?? (await resolveZtunnelPod(kc, deps.istioNamespace, plan.node));
      return getThroughPortForward(kc, pod, plan.port, path);
    }
  }
}
