// One plugin invocation as a typed request: the CNI_* environment and the network config on stdin,
// validated with path-prefixed errors (`env.CNI_NETNS: ...`, `config.prevResult: ...`) and mapped
// to the spec's well-known error codes. Pure: main.ts hands in process.env and the stdin text.
import { DEFAULT_PLUGIN_CONFIG, parsePluginConfig, type PluginConfig } from './config.ts';
import { CNI_COMMANDS, ErrorCode, isSupportedVersion, LATEST_VERSION, SUPPORTED_VERSIONS, type CniCommand, type CniFailure } from './cni-spec.ts';
import { resultIps, type CniResult } from './result.ts';

/** The Kubernetes pod a runtime names in CNI_ARGS (containerd and CRI-O pass these). */
export interface PodArgs {
  namespace: string;
  name: string;
  /** Empty when the runtime does not pass K8S_POD_UID. */
  uid: string;
  /** Empty when the runtime does not pass K8S_POD_INFRA_CONTAINER_ID. */
  infraContainerId: string;
}

export interface RuntimeParams {
  containerId: string;
  netns: string;
  ifName: string;
  args: Record<string, string>;
  /** Undefined when CNI_ARGS does not name a pod (not a Kubernetes call). */
  pod: PodArgs | undefined;
}

export interface NetworkConfig {
  cniVersion: string;
  name: string;
  type: string;
  plugin: PluginConfig;
}

export type CniRequest =
  | { command: 'VERSION'; cniVersion: string | undefined }
  | { command: 'ADD'; runtime: RuntimeParams; config: NetworkConfig; prevResult: CniResult; ips: string[] }
  | { command: 'CHECK'; runtime: RuntimeParams; config: NetworkConfig }
  /** DEL never fails: it carries what could be read, for logging, and what could not. */
  | { command: 'DEL'; containerId: string; pod: PodArgs | undefined; logLevel: PluginConfig['logLevel']; problems: string[] }
  | { command: 'STATUS' | 'GC'; cniVersion: string };

export type ParsedRequest = { ok: true; request: CniRequest } | { ok: false; failure: CniFailure; cniVersion: string };

type Env = Readonly<Record<string, string | undefined>>;
type Json = Record<string, unknown>;

const fail = (code: CniFailure['code'], errors: string[], cniVersion: string, details?: string): ParsedRequest => ({
  ok: false,
  failure: { code, msg: errors.join('; '), ...(details ? { details } : {}) },
  cniVersion,
});

const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** CNI_ARGS: `K1=V1;K2=V2`; empty segments are skipped, a value may itself contain `=`. */
export function parseCniArgs(text: string | undefined): { ok: true; args: Record<string, string> } | { ok: false; error: string } {
  const args: Record<string, string> = {};
  if (!text) return { ok: true, args };
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return { ok: false, error: `env.CNI_ARGS: ${JSON.stringify(pair)} is not KEY=VALUE` };
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { ok: true, args };
}

/** The pod named by K8S_POD_NAMESPACE and K8S_POD_NAME; both are needed to be a pod at all. */
export function podArgs(args: Readonly<Record<string, string>>): PodArgs | undefined {
  const namespace = args.K8S_POD_NAMESPACE ?? '';
  const name = args.K8S_POD_NAME ?? '';
  if (!namespace || !name) return undefined;
  return { namespace, name, uid: args.K8S_POD_UID ?? '', infraContainerId: args.K8S_POD_INFRA_CONTAINER_ID ?? '' };
}

/** Interface names as Linux and the spec allow them. */
export function ifNameProblem(name: string): string | undefined {
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (name.length > 15) return 'must be at most 15 characters';
  if (/[/:\s]/.test(name)) return 'must not contain "/", ":" or whitespace';
  return undefined;
}

function runtimeParams(env: Env, command: CniCommand): { ok: true; runtime: RuntimeParams } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const containerId = env.CNI_CONTAINERID ?? '';
  if (!containerId) errors.push(`env.CNI_CONTAINERID: required for ${command}`);
  else if (!CONTAINER_ID_RE.test(containerId)) errors.push(`env.CNI_CONTAINERID: ${JSON.stringify(containerId)} must start alphanumeric and hold only [A-Za-z0-9_.-]`);
  const netns = env.CNI_NETNS ?? '';
  if (!netns) errors.push(`env.CNI_NETNS: required for ${command}`);
  const ifName = env.CNI_IFNAME ?? '';
  if (!ifName) errors.push(`env.CNI_IFNAME: required for ${command}`);
  else {
    const p = ifNameProblem(ifName);
    if (p) errors.push(`env.CNI_IFNAME: ${JSON.stringify(ifName)} ${p}`);
  }
  const args = parseCniArgs(env.CNI_ARGS);
  if (!args.ok) errors.push(args.error);
  if (errors.length || !args.ok) return { ok: false, errors };
  return { ok: true, runtime: { containerId, netns, ifName, args: args.args, pod: podArgs(args.args) } };
}

/** The cniVersion in stdin if it is one we speak: the version our error result should carry. */
function peekVersion(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as Json | null)?.cniVersion;
    if (typeof v === 'string' && isSupportedVersion(v)) return v;
  } catch {
    /* not JSON: the latest version it is */
  }
  return LATEST_VERSION;
}

function decodeConfig(stdin: string): { ok: true; raw: Json } | { ok: false; errors: string[] } {
  if (stdin.trim() === '') return { ok: false, errors: ['stdin: empty; the network config is required'] };
  let v: unknown;
  try {
    v = JSON.parse(stdin);
  } catch (err) {
    return { ok: false, errors: [`stdin: not valid JSON: ${(err as Error).message}`] };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, errors: ['stdin: the network config must be a JSON object'] };
  return { ok: true, raw: v as Json };
}

/** cniVersion (code 1 when we do not speak it), name, type and our own fields (code 7). */
function networkConfig(raw: Json): { ok: true; config: NetworkConfig } | { ok: false; code: CniFailure['code']; errors: string[] } {
  const v = raw.cniVersion;
  if (typeof v !== 'string' || v === '') return { ok: false, code: ErrorCode.invalidConfig, errors: ['config.cniVersion: must be a non-empty string'] };
  if (!isSupportedVersion(v)) {
    return { ok: false, code: ErrorCode.incompatibleVersion, errors: [`config.cniVersion: ${JSON.stringify(v)} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`] };
  }
  const errors: string[] = [];
  if (typeof raw.name !== 'string' || raw.name === '') errors.push('config.name: must be a non-empty string');
  if (typeof raw.type !== 'string' || raw.type === '') errors.push('config.type: must be a non-empty string');
  const plugin = parsePluginConfig(raw);
  if (!plugin.ok) errors.push(...plugin.errors);
  if (errors.length || !plugin.ok) return { ok: false, code: ErrorCode.invalidConfig, errors };
  return { ok: true, config: { cniVersion: v, name: raw.name as string, type: raw.type as string, plugin: plugin.config } };
}

function prevResultOf(raw: Json, command: CniCommand): { ok: true; prevResult: CniResult } | { ok: false; errors: string[] } {
  const p = raw.prevResult;
  if (p === undefined) {
    return { ok: false, errors: [`config.prevResult: required for ${command}; ambient-cni is a chained plugin and must come after the plugin that sets up the pod interface`] };
  }
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return { ok: false, errors: ['config.prevResult: must be a JSON object'] };
  return { ok: true, prevResult: p as CniResult };
}

export function parseRequest(env: Env, stdin: string): ParsedRequest {
  const commandText = env.CNI_COMMAND ?? '';
  if (!commandText) return fail(ErrorCode.invalidEnvironment, ['env.CNI_COMMAND: required'], peekVersion(stdin));
  if (!(CNI_COMMANDS as readonly string[]).includes(commandText)) {
    return fail(ErrorCode.invalidEnvironment, [`env.CNI_COMMAND: unknown command ${JSON.stringify(commandText)} (supported: ${CNI_COMMANDS.join(', ')})`], peekVersion(stdin));
  }
  const command = commandText as CniCommand;

  switch (command) {
    case 'VERSION': {
      // Only CNI_COMMAND is required; a missing or odd stdin still gets an answer.
      let asked: string | undefined;
      try {
        const v = (JSON.parse(stdin) as Json | null)?.cniVersion;
        if (typeof v === 'string') asked = v;
      } catch {
        asked = undefined;
      }
      return { ok: true, request: { command, cniVersion: asked } };
    }
    case 'DEL':
      return { ok: true, request: parseDel(env, stdin) };
    case 'STATUS':
    case 'GC':
      // Nothing to report or collect: STATUS must not say "not ready" while the agent is down,
      // or the runtime would stop starting non-ambient pods too.
      return { ok: true, request: { command, cniVersion: peekVersion(stdin) } };
    case 'ADD':
    case 'CHECK':
      break;
  }

  const version = peekVersion(stdin);
  const rt = runtimeParams(env, command);
  if (!rt.ok) return fail(ErrorCode.invalidEnvironment, rt.errors, version);
  const decoded = decodeConfig(stdin);
  if (!decoded.ok) return fail(ErrorCode.decodingFailure, decoded.errors, version);
  const net = networkConfig(decoded.raw);
  if (!net.ok) return fail(net.code, net.errors, version);
  const prev = prevResultOf(decoded.raw, command);
  if (!prev.ok) return fail(ErrorCode.invalidConfig, prev.errors, version);
  if (command === 'CHECK') return { ok: true, request: { command, runtime: rt.runtime, config: net.config } };
  const ips = resultIps(prev.prevResult);
  if (!ips.ok) return fail(ErrorCode.invalidConfig, ips.errors, version);
  return { ok: true, request: { command, runtime: rt.runtime, config: net.config, prevResult: prev.prevResult, ips: ips.ips } };
}

function parseDel(env: Env, stdin: string): CniRequest & { command: 'DEL' } {
  const problems: string[] = [];
  const args = parseCniArgs(env.CNI_ARGS);
  if (!args.ok) problems.push(args.error);
  let logLevel: PluginConfig['logLevel'] = DEFAULT_PLUGIN_CONFIG.logLevel;
  const decoded = decodeConfig(stdin);
  if (!decoded.ok) problems.push(...decoded.errors);
  else {
    const plugin = parsePluginConfig(decoded.raw);
    if (plugin.ok) logLevel = plugin.config.logLevel;
    else problems.push(...plugin.errors);
  }
  return { command: 'DEL', containerId: env.CNI_CONTAINERID ?? '', pod: args.ok ? podArgs(args.args) : undefined, logLevel, problems };
}
