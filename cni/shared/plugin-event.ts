// The CNI plugin → node agent event protocol, shared by both ends: the plugin POSTs a CmdAddEvent as
// JSON to `/cmdadd` over HTTP/1.1 on the agent's unix socket and waits; the agent captures the pod
// (or decides not to) before it answers. Shapes, defaults and validation with path-prefixed errors.
// cni/README.md documents the contract.

/** The `type` of our entry in the node's conflist, and so the executable's name in the CNI bin dir. */
export const PLUGIN_TYPE = 'ambient-cni';
/** Istio's path for the plugin event socket (DESIGN.md §2). */
export const DEFAULT_PLUGIN_EVENT_SOCKET = '/var/run/istio-cni/pluginevent.sock';
export const CMDADD_PATH = '/cmdadd';

/** What the plugin tells the agent on CNI ADD of a pod that may be ambient. */
export interface CmdAddEvent {
  /** CNI_CONTAINERID (the sandbox id). */
  containerId: string;
  /** CNI_NETNS: path of the pod's network namespace, valid while the sandbox lives. */
  netns: string;
  /** CNI_IFNAME. */
  ifName: string;
  podName: string;
  podNamespace: string;
  /** K8S_POD_UID; empty when the runtime does not pass it. */
  podUid: string;
  /** K8S_POD_INFRA_CONTAINER_ID; empty when the runtime does not pass it. */
  infraContainerId: string;
  /** Pod IPs from the chain's prevResult, without prefix length. */
  ips: string[];
}

/**
 * The agent's answer, HTTP 200. `captured: false` means the agent looked and the pod is not ambient
 * (e.g. pod label `istio.io/dataplane-mode=none`): the pod starts without capture.
 * Any other status carries a CmdAddFailure; the plugin then fails the ADD (try again later).
 */
export type CmdAddAnswer = { captured: true } | { captured: false; reason: string };

export interface CmdAddFailure {
  error: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validateCmdAddEvent(v: unknown, path = 'event'): Validated<CmdAddEvent> {
  if (!isObject(v)) return { ok: false, errors: [`${path}: must be a JSON object`] };
  const errors: string[] = [];
  const str = (key: keyof CmdAddEvent, required: boolean): string => {
    const x = v[key];
    if (typeof x === 'string' && (x !== '' || !required)) return x;
    if (x === undefined && !required) return '';
    errors.push(`${path}.${key}: must be ${required ? 'a non-empty' : 'a'} string`);
    return '';
  };
  const event: CmdAddEvent = {
    containerId: str('containerId', true),
    netns: str('netns', true),
    ifName: str('ifName', true),
    podName: str('podName', true),
    podNamespace: str('podNamespace', true),
    podUid: str('podUid', false),
    infraContainerId: str('infraContainerId', false),
    ips: [],
  };
  if (!Array.isArray(v.ips)) errors.push(`${path}.ips: must be a list of IP addresses`);
  else
    v.ips.forEach((ip, i) => {
      if (typeof ip === 'string' && ip !== '') event.ips.push(ip);
      else errors.push(`${path}.ips[${i}]: must be a non-empty string`);
    });
  return errors.length ? { ok: false, errors } : { ok: true, value: event };
}

export function validateCmdAddAnswer(v: unknown, path = 'answer'): Validated<CmdAddAnswer> {
  if (!isObject(v)) return { ok: false, errors: [`${path}: must be a JSON object`] };
  if (v.captured === true) return { ok: true, value: { captured: true } };
  if (v.captured === false) {
    if (v.reason !== undefined && typeof v.reason !== 'string') return { ok: false, errors: [`${path}.reason: must be a string`] };
    return { ok: true, value: { captured: false, reason: typeof v.reason === 'string' ? v.reason : '' } };
  }
  return { ok: false, errors: [`${path}.captured: must be true or false`] };
}

/** The error text of a non-200 answer: its `error` field, else the raw body (trimmed, bounded). */
export function failureText(body: string): string {
  try {
    const v: unknown = JSON.parse(body);
    if (isObject(v) && typeof v.error === 'string' && v.error !== '') return v.error;
  } catch {
    /* not JSON: fall through to the raw text */
  }
  const raw = body.trim();
  return raw.length > 500 ? `${raw.slice(0, 500)}…` : raw || '(empty body)';
}
