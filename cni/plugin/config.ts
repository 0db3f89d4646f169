// Our own fields in the conflist entry `{"type": "ambient-cni", ...}`, with their defaults.
// Validated into a typed config with path-prefixed errors (`config.timeoutSeconds: ...`);
// unknown fields are ignored, since runtimes add their own (`runtimeConfig`, `args`, ...).
import { DEFAULT_ENROLLMENT_STATE_FILE } from '../shared/enrollment-state.ts';
import { DEFAULT_PLUGIN_EVENT_SOCKET } from '../shared/plugin-event.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type PluginLogLevel = (typeof LOG_LEVELS)[number];

export interface PluginConfig {
  /** The node agent's HTTP-over-UDS socket. */
  pluginEventSocket: string;
  /** The agent-written set of ambient namespaces (see shared/enrollment-state.ts). */
  enrollmentStateFile: string;
  /** Pods here always pass through, whatever the state file says. */
  excludeNamespaces: string[];
  /** Log level of the plugin's own lines (JSON on stderr). */
  logLevel: PluginLogLevel;
  /** How long ADD waits for the agent to confirm capture of an ambient pod. */
  timeoutSeconds: number;
}

export const DEFAULT_PLUGIN_CONFIG: Readonly<PluginConfig> = Object.freeze({
  pluginEventSocket: DEFAULT_PLUGIN_EVENT_SOCKET,
  enrollmentStateFile: DEFAULT_ENROLLMENT_STATE_FILE,
  excludeNamespaces: ['kube-system'],
  logLevel: 'info',
  timeoutSeconds: 30,
});

/** Longer than this and the runtime's own sandbox timeout (minutes) would fire first. */
export const MAX_TIMEOUT_SECONDS = 600;

export function parsePluginConfig(raw: Record<string, unknown>, path = 'config'): { ok: true; config: PluginConfig } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const config: PluginConfig = { ...DEFAULT_PLUGIN_CONFIG, excludeNamespaces: [...DEFAULT_PLUGIN_CONFIG.excludeNamespaces] };

  const absPath = (key: 'pluginEventSocket' | 'enrollmentStateFile') => {
    const v = raw[key];
    if (v === undefined) return;
    if (typeof v === 'string' && v.startsWith('/')) config[key] = v;
    else errors.push(`${path}.${key}: must be an absolute path, got ${JSON.stringify(v)}`);
  };
  absPath('pluginEventSocket');
  absPath('enrollmentStateFile');

  const ex = raw.excludeNamespaces;
  if (ex !== undefined) {
    if (!Array.isArray(ex)) errors.push(`${path}.excludeNamespaces: must be a list of namespace names`);
    else {
      const bad = ex.findIndex((n) => typeof n !== 'string' || n === '');
      if (bad >= 0) errors.push(`${path}.excludeNamespaces[${bad}]: must be a non-empty string`);
      else config.excludeNamespaces = ex as string[];
    }
  }

  const level = raw.logLevel;
  if (level !== undefined) {
    if (typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level)) config.logLevel = level as PluginLogLevel;
    else errors.push(`${path}.logLevel: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  }

  const t = raw.timeoutSeconds;
  if (t !== undefined) {
    if (typeof t === 'number' && Number.isFinite(t) && t > 0 && t <= MAX_TIMEOUT_SECONDS) config.timeoutSeconds = t;
    else errors.push(`${path}.timeoutSeconds: must be a number of seconds in (0, ${MAX_TIMEOUT_SECONDS}], got ${JSON.stringify(t)}`);
  }

  return errors.length ? { ok: false, errors } : { ok: true, config };
}
