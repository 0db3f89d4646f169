// `ambientctl waypoint generate|apply|list|delete|status`: istioctl 1.28's flags, messages and exit
// codes. The apiserver is behind WaypointApi, time behind sleep/now, so every flow has table tests.
import { CliError, durationFlag, flagHelp, type FlagSpecs, type Parsed } from '../args.ts';
import type { WaypointApi } from '../kube.ts';
import {
  gatewayYaml, isProgrammed, LABEL_DATAPLANE_MODE, LABEL_REV, LABEL_USE_WAYPOINT, listOutput, makeGateway, statusOutput, statusRow,
  TRAFFIC_TYPES, waypointsOf, type Gateway,
} from '../waypoint/gateway.ts';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

export interface WaypointDeps {
  /** Connects lazily: `generate` works without a cluster. */
  kube(): { api: WaypointApi; defaultNamespace: string };
  io: Io;
  sleep(ms: number): Promise<void>;
  now(): number;
}

/** The flags every waypoint sub-command takes besides the global ones (cobra's persistent `--name`). */
export const WAYPOINT_PERSISTENT: FlagSpecs = { name: { type: 'string', default: 'waypoint', help: 'name of the waypoint' } };

const forFlag = { type: 'string', help: `Specify the traffic type [${TRAFFIC_TYPES.join(' ')}] for the waypoint` } as const;
const revisionFlag = (help: string) => ({ type: 'string', short: 'r', help }) as const;

export const WAYPOINT_FLAGS: Record<string, FlagSpecs> = {
  generate: { for: forFlag, revision: revisionFlag('The revision to label the waypoint with') },
  apply: {
    for: forFlag,
    'enroll-namespace': { type: 'boolean', default: false, help: 'If set, the namespace will be labeled with the waypoint name' },
    overwrite: { type: 'boolean', default: false, help: 'Overwrite the existing Waypoint used by the namespace' },
    revision: revisionFlag('The revision to label the waypoint with'),
    wait: { type: 'boolean', short: 'w', default: false, help: 'Wait for the waypoint to be ready' },
    'waypoint-timeout': { type: 'string', metavar: 'duration', default: '1m30s', help: 'Timeout for waiting for waypoint ready' },
  },
  delete: {
    all: { type: 'boolean', default: false, help: 'Delete all waypoints in the namespace' },
    revision: revisionFlag('Delete the specified version of the waypoint in the namespace'),
  },
  list: { 'all-namespaces': { type: 'boolean', short: 'A', default: false, help: 'List all waypoints in all namespaces' } },
  status: { 'waypoint-timeout': { type: 'string', metavar: 'duration', default: '1m30s', help: 'Timeout for retrieving status for waypoint' } },
};

const SUMMARY: Record<string, string> = {
  generate: 'Generate a waypoint configuration as YAML',
  apply: 'Apply a waypoint configuration to the cluster',
  list: 'List managed waypoint configurations in the cluster',
  delete: 'Delete a waypoint configuration from the cluster',
  status: 'Show the status of waypoints for the namespace provided or default namespace if none is provided',
};

const EXAMPLES: Record<string, string> = {
  generate: '  # Generate a waypoint as yaml\n  ambientctl waypoint generate --namespace default',
  apply: '  # Apply a waypoint to the current namespace\n  ambientctl waypoint apply\n\n  # Apply a waypoint to a specific namespace and wait for it to be ready\n  ambientctl waypoint apply --namespace default --wait',
  list: '  # List all waypoints in a specific namespace\n  ambientctl waypoint list --namespace default\n\n  # List all waypoints in the cluster\n  ambientctl waypoint list -A',
  delete: '  # Delete a waypoint by name\n  ambientctl waypoint delete waypoint-name --namespace default\n\n  # Delete all waypoints in a specific namespace\n  ambientctl waypoint delete --all --namespace default\n\n  # Delete specific revision waypoints in a namespace\n  ambientctl waypoint delete --revision v1 --namespace default',
  status: '  # Show the status of the waypoint in a specific namespace\n  ambientctl waypoint status --namespace default',
};

export function waypointHelp(sub?: string): string {
  if (sub && WAYPOINT_FLAGS[sub]) {
    return `${SUMMARY[sub]}\n\nUsage:\n  ambientctl waypoint ${sub}${sub === 'delete' ? ' [names...]' : ''} [flags]\n\nExamples:\n${EXAMPLES[sub]}\n\nFlags:\n${flagHelp(WAYPOINT_FLAGS[sub]!)}\n\nFlags shared by the waypoint commands:\n${flagHelp(WAYPOINT_PERSISTENT)}\n`;
  }
  return 'A group of commands used to manage waypoint configuration\n\nUsage:\n  ambientctl waypoint [command]\n\nAvailable Commands:\n'
    + Object.keys(WAYPOINT_FLAGS).map((k) => `  ${k.padEnd(10)} ${SUMMARY[k]}`).join('\n')
    + `\n\nFlags:\n${flagHelp(WAYPOINT_PERSISTENT)}\n`;
}

const FIELD_MANAGER = 'istioctl';
const POLL_MS = 1000;

const s = (v: Parsed['values'][string]): string => (typeof v === 'string' ? v : '');
const b = (v: Parsed['values'][string]): boolean => v === true;

/** Runs one waypoint sub-command; throws CliError for what istioctl reports as an error. */
export async function runWaypoint(sub: string, p: Parsed, deps: WaypointDeps): Promise<void> {
  const v = p.values;
  const flagNamespace = s(v.namespace);
  switch (sub) {
    case 'generate': {
      const gw = makeGateway({ name: s(v.name), ...(flagNamespace ? { namespace: flagNamespace } : {}), trafficType: s(v.for), revision: s(v.revision) });
      deps.io.out(gatewayYaml(gw));
      return;
    }
    case 'apply': return apply(p, deps);
    case 'list': {
      const { api, defaultNamespace } = deps.kube();
      const all = b(v['all-namespaces']);
      const gws = await api.listGateways(all ? undefined : flagNamespace || defaultNamespace);
      deps.io.out(listOutput(gws, all));
      return;
    }
    case 'delete': return del(p, deps);
    case 'status': return status(p, deps);
    default:
      throw new CliError(`unknown command "${sub}" for "ambientctl waypoint"`, 'USAGE');
  }
}

async function apply(p: Parsed, deps: WaypointDeps): Promise<void> {
  const v = p.values;
  const timeoutMs = durationFlag('waypoint-timeout', s(v['waypoint-timeout']));
  const { api, defaultNamespace } = deps.kube();
  const ns = s(v.namespace) || defaultNamespace;
  const gw = makeGateway({ name: s(v.name), namespace: ns, trafficType: s(v.for), revision: s(v.revision) }) as Gateway & { metadata: { namespace: string } };
  const labels = await namespaceLabels(api, ns);
  if (b(v['enroll-namespace'])) {
    if (!b(v.overwrite) && labels[LABEL_USE_WAYPOINT]) {
      deps.io.out(`⚠️ Warning: namespace (${ns}) already has an enrolled Waypoint. Consider adding the \`--overwrite\` flag to your apply command.\n`);
      return;
    }
    if (labels[LABEL_DATAPLANE_MODE] !== 'ambient') {
      deps.io.out(`⚠️ Warning: namespace is not enrolled in ambient. Consider running\t\`kubectl label namespace ${ns} ${LABEL_DATAPLANE_MODE}=ambient\`\n`);
    }
  }
  try {
    await api.applyGateway(gw, FIELD_MANAGER);
  } catch (err) {
    const e = err as Error & { status?: number };
    if (e.status === 404) throw new CliError(`missing Kubernetes Gateway CRDs need to be installed before applying a waypoint: ${e.message}`);
    throw new CliError(e.message);
  }
  const ref = `${ns}/${gw.metadata.name}`;
  deps.io.out(`✅ waypoint ${ref} applied\n`);
  if (b(v.wait)) {
    const start = deps.now();
    for (;;) {
      let lastErr: Error | undefined;
      try {
        if (isProgrammed(await api.getGateway(ns, gw.metadata.name))) break;
      } catch (err) {
        lastErr = err as Error;
      }
      if (deps.now() - start > timeoutMs) throw new CliError(`timed out while waiting for waypoint\t${ref}${lastErr ? `: ${lastErr.message}` : ''}`);
      await deps.sleep(POLL_MS);
    }
    deps.io.out(`✅ waypoint ${ref} is ready!\n`);
  }
  if (b(v['enroll-namespace'])) {
    try {
      await api.labelNamespace(ns, LABEL_USE_WAYPOINT, gw.metadata.name);
    } catch (err) {
      throw new CliError(`failed to label namespace with waypoint: failed to update namespace ${ns}: ${(err as Error).message}`);
    }
    deps.io.out(`✅ namespace ${ns} labeled with "${LABEL_USE_WAYPOINT}: ${gw.metadata.name}"\n`);
  }
}

async function namespaceLabels(api: WaypointApi, ns: string): Promise<Record<string, string>> {
  let labels: Record<string, string> | undefined;
  try {
    labels = await api.namespaceLabels(ns);
  } catch (err) {
    throw new CliError(`failed to get namespace ${ns}: ${(err as Error).message}`);
  }
  if (!labels) throw new CliError(`namespace: ${ns} not found`);
  return labels;
}

/** go-multierror's text, as istioctl prints several failed deletes. */
export function multiError(errs: readonly string[]): string {
  if (errs.length === 1) return `1 error occurred:\n\t* ${errs[0]}\n\n`;
  return `${errs.length} errors occurred:\n\t${errs.map((e) => `* ${e}`).join('\n\t')}\n\n`;
}

async function del(p: Parsed, deps: WaypointDeps): Promise<void> {
  const v = p.values;
  const names = p.positionals;
  const revision = s(v.revision);
  const byFlag = b(v.all) || revision !== '';
  if (byFlag && names.length > 0) throw new CliError('cannot specify waypoint names when deleting all waypoints', 'USAGE');
  if (!byFlag && names.length === 0) throw new CliError('must specify a waypoint name or delete all using --all or delete specific revision using --revision', 'USAGE');
  const { api, defaultNamespace } = deps.kube();
  const ns = s(v.namespace) || defaultNamespace;
  let targets: string[];
  if (byFlag) {
    targets = waypointsOf(await api.listGateways(ns, revision ? `${LABEL_REV}=${revision}` : undefined)).map((g) => g.metadata.name);
  } else {
    const known = new Set(waypointsOf(await api.listGateways(ns)).map((g) => g.metadata.name));
    targets = [];
    for (const n of names) {
      if (known.has(n)) targets.push(n);
      else deps.io.out(`waypoint ${ns}/${n} not found\n`);
    }
  }
  // Deleted in parallel like istioctl, reported in argument order.
  const results = await Promise.allSettled(targets.map((n) => api.deleteGateway(ns, n)));
  const errs: string[] = [];
  results.forEach((r, i) => {
    const ref = `${ns}/${targets[i]}`;
    if (r.status === 'rejected') errs.push((r.reason as Error).message);
    else deps.io.out(r.value ? `waypoint ${ref} deleted\n` : `waypoint ${ref} not found\n`);
  });
  if (errs.length) throw new CliError(multiError(errs).trimEnd());
}

async function status(p: Parsed, deps: WaypointDeps): Promise<void> {
  const v = p.values;
  const timeoutMs = durationFlag('waypoint-timeout', s(v['waypoint-timeout']));
  if (p.positionals.length) throw new CliError(`unknown subcommand "${p.positionals[0]}"`, 'USAGE');
  const { api, defaultNamespace } = deps.kube();
  const withNamespace = !s(v.namespace);
  const ns = s(v.namespace) || defaultNamespace;
  const gws = await api.listGateways(ns);
  if (gws.length === 0) {
    deps.io.out('No waypoints found.\n');
    return;
  }
  const rows: string[][] = [];
  const start = deps.now();
  for (const listed of waypointsOf(gws)) {
    for (;;) {
      let gw: Gateway = listed;
      let lastErr: Error | undefined;
      try {
        gw = (await api.getGateway(ns, listed.metadata.name)) ?? listed;
      } catch (err) {
        lastErr = err as Error;
      }
      if (isProgrammed(gw)) {
        rows.push(statusRow(gw, withNamespace));
        break;
      }
      if (deps.now() - start > timeoutMs) {
        // Unlike istioctl (which drops the table), show what was seen before the error.
        deps.io.out(statusOutput([...rows, statusRow(gw, withNamespace)], withNamespace));
        throw new CliError(`timed out while retrieving status for waypoint\t${ns}/${listed.metadata.name}${lastErr ? `: ${lastErr.message}` : ''}`);
      }
      await deps.sleep(POLL_MS);
    }
  }
  deps.io.out(statusOutput(rows, withNamespace));
}
