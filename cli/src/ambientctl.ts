// `ambientctl`: istioctl's `waypoint` and `ztunnel-config` commands for this mesh. Routes the
// command words, merges the global flags (-n, --kubeconfig, --context, -i) into each command's
// flags (cobra lets them appear anywhere), and maps errors to `Error: …` on stderr and exit 1.
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, flagHelp, parseFlags, type FlagSpecs } from './args.ts';
import { runWaypoint, WAYPOINT_FLAGS, WAYPOINT_PERSISTENT, waypointHelp, type Io, type WaypointDeps } from './commands/waypoint.ts';
import { runZtunnelConfig, ZTUNNEL_FLAGS, ZTUNNEL_KINDS, ztunnelHelp, type ZtunnelDeps } from './commands/ztunnel-config.ts';
import { kubeWaypointApi, loadKubeContext, type KubeContext } from './kube.ts';

export const GLOBAL_FLAGS: FlagSpecs = {
  kubeconfig: { type: 'string', short: 'c', help: 'Kubernetes configuration file (default: $KUBECONFIG, then ~/.kube/config)' },
  context: { type: 'string', help: 'Kubernetes configuration context' },
  namespace: { type: 'string', short: 'n', help: 'Kubernetes namespace (default: the context\'s, else "default")' },
  istioNamespace: { type: 'string', short: 'i', default: 'istio-system', help: 'Istio system namespace' },
  help: { type: 'boolean', short: 'h', default: false, help: 'help for ambientctl' },
};

const ROOT_HELP = `ambientctl: Istio ambient-mode operations for ambient-mesh, with istioctl's flags and output.

Usage:
  ambientctl [command]

Available Commands:
  waypoint        Manage waypoint configuration (generate, apply, list, delete, status)
  ztunnel-config  Retrieve ztunnel configuration (workloads, services, policies, certificates, all). Alias: zc

Global Flags:
${flagHelp(GLOBAL_FLAGS)}
`;

export interface MainDeps {
  io: Io;
  env: NodeJS.ProcessEnv;
  /** Replaced in tests; by default reads the kubeconfig on first use. */
  kube?: (flags: { kubeconfig?: string | undefined; context?: string | undefined }) => KubeContext;
  waypointApi?: WaypointDeps['kube'];
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  readStdin?: () => string;
  fetchAdmin?: ZtunnelDeps['fetchAdmin'];
}

/** Every string flag name and short form, so the command words can be found among flag values. */
function stringFlags(): Set<string> {
  const all: FlagSpecs[] = [GLOBAL_FLAGS, WAYPOINT_PERSISTENT, ...Object.values(WAYPOINT_FLAGS), ...Object.values(ZTUNNEL_FLAGS)];
  const out = new Set<string>();
  for (const specs of all) {
    for (const [name, sp] of Object.entries(specs)) {
      if (sp.type !== 'string') continue;
      out.add(`--${name}`);
      if (sp.short) out.add(`-${sp.short}`);
    }
  }
  return out;
}

/** Takes the first `count` positional words (the command path) out of argv. */
export function splitCommand(argv: readonly string[], count: number): { words: string[]; rest: string[] } {
  const takesValue = stringFlags();
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      rest.push(a);
      if (takesValue.has(a) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    if (words.length < count) words.push(a);
    else rest.push(a);
  }
  return { words, rest };
}

export async function main(argv: readonly string[], deps: MainDeps): Promise<number> {
  const { io } = deps;
  try {
    const { words, rest } = splitCommand(argv, 2);
    const [group, sub] = words;
    const wantsHelp = rest.includes('-h') || rest.includes('--help');
    if (!group || (group === 'help' && !sub)) {
      io.out(ROOT_HELP);
      return 0;
    }
    let kubeCache: KubeContext | undefined;
    const kubeFor = (flags: Record<string, unknown>) => () => {
      kubeCache ??= (deps.kube ?? loadKubeContext)({ kubeconfig: flags.kubeconfig as string | undefined, context: flags.context as string | undefined });
      return kubeCache;
    };
    if (group === 'waypoint') {
      if (!sub || wantsHelp || !WAYPOINT_FLAGS[sub]) {
        if (sub && !WAYPOINT_FLAGS[sub] && !wantsHelp) throw new CliError(`unknown subcommand "${sub}"`, 'USAGE');
        io.out(waypointHelp(sub));
        return 0;
      }
      const p = parseFlags(rest, { ...GLOBAL_FLAGS, ...WAYPOINT_PERSISTENT, ...WAYPOINT_FLAGS[sub] });
      const kube = kubeFor(p.values);
      await runWaypoint(sub, p, {
        io,
        kube: deps.waypointApi ?? (() => {
          const k = kube();
          return { api: kubeWaypointApi(k.kc), defaultNamespace: k.defaultNamespace };
        }),
        sleep: deps.sleep ?? ((ms) => sleep(ms)),
        now: deps.now ?? Date.now,
      });
      return 0;
    }
    if (group === 'ztunnel-config' || group === 'zc') {
      const kind = sub ? ZTUNNEL_KINDS[sub] : undefined;
      if (!kind || wantsHelp) {
        if (sub && !kind && !wantsHelp) throw new CliError(`unknown command "${sub}" for "ambientctl ztunnel-config"`, 'USAGE');
        io.out(ztunnelHelp(kind));
        return 0;
      }
      const p = parseFlags(rest, { ...GLOBAL_FLAGS, ...ZTUNNEL_FLAGS[kind] });
      await runZtunnelConfig(kind, p, {
        io,
        env: deps.env,
        kube: kubeFor(p.values),
        istioNamespace: typeof p.values.istioNamespace === 'string' ? p.values.istioNamespace : 'istio-system',
        readStdin: deps.readStdin ?? (() => readFileSync(0, 'utf8')),
        now: () => new Date((deps.now ?? Date.now)()),
        ...(deps.fetchAdmin ? { fetchAdmin: deps.fetchAdmin } : {}),
      });
      return 0;
    }
    throw new CliError(`unknown command "${group}" for "ambientctl"`, 'USAGE');
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    io.err(`Error: ${msg}\n`);
    return 1;
  }
}

// Run when executed (node cli/src/ambientctl.ts or cli/bin/ambientctl), not when imported by tests.
const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  const code = await main(process.argv.slice(2), {
    io: { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) },
    env: process.env,
  });
  process.exitCode = code;
}
