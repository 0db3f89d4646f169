// The enrollment state file: the node agent writes the set of ambient namespaces into a small JSON
// file next to the CNI config, and the plugin reads it on every ADD to decide, without asking
// anyone, whether a pod may be ambient (then the agent must confirm capture) or not (pass through).
// Format, parsing with path-prefixed errors, and the atomic write the agent must use.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * In the CNI conf dir, so it survives a reboot like the conflist that calls the plugin. Deliberately
 * not `.json`/`.conf`/`.conflist`: runtimes (libcni) load every such file in that dir as a network.
 */
export const DEFAULT_ENROLLMENT_STATE_FILE = '/etc/cni/net.d/ambient-namespaces.state';
export const ENROLLMENT_STATE_VERSION = 1;

export interface EnrollmentState {
  version: typeof ENROLLMENT_STATE_VERSION;
  /** Namespaces labelled `istio.io/dataplane-mode=ambient` (excluded namespaces left out), sorted. */
  ambientNamespaces: string[];
  /** When the agent wrote it (ISO 8601); informational. */
  updatedAt?: string;
}

export type EnrollmentStateRead =
  | { kind: 'ok'; state: EnrollmentState }
  | { kind: 'missing'; path: string }
  | { kind: 'invalid'; path: string; error: string };

export function parseEnrollmentState(text: string, path = 'state'): { ok: true; state: EnrollmentState } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `${path}: not JSON: ${(err as Error).message}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: `${path}: must be a JSON object` };
  const o = v as Record<string, unknown>;
  if (o.version !== ENROLLMENT_STATE_VERSION) return { ok: false, error: `${path}.version: must be ${ENROLLMENT_STATE_VERSION}, got ${JSON.stringify(o.version)}` };
  const list = o.ambientNamespaces;
  if (!Array.isArray(list)) return { ok: false, error: `${path}.ambientNamespaces: must be a list of namespace names` };
  const bad = list.findIndex((n) => typeof n !== 'string' || n === '');
  if (bad >= 0) return { ok: false, error: `${path}.ambientNamespaces[${bad}]: must be a non-empty string` };
  if (o.updatedAt !== undefined && typeof o.updatedAt !== 'string') return { ok: false, error: `${path}.updatedAt: must be a string` };
  return {
    ok: true,
    state: { version: ENROLLMENT_STATE_VERSION, ambientNamespaces: list as string[], ...(o.updatedAt !== undefined ? { updatedAt: o.updatedAt as string } : {}) },
  };
}

export function renderEnrollmentState(ambientNamespaces: Iterable<string>, now = new Date()): string {
  const state: EnrollmentState = {
    version: ENROLLMENT_STATE_VERSION,
    ambientNamespaces: [...new Set(ambientNamespaces)].sort(),
    updatedAt: now.toISOString(),
  };
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Plugin side: one small synchronous read per ADD. */
export function readEnrollmentStateFile(path: string): EnrollmentStateRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing', path };
    return { kind: 'invalid', path, error: `${path}: ${(err as Error).message}` };
  }
  const parsed = parseEnrollmentState(text, path);
  return parsed.ok ? { kind: 'ok', state: parsed.state } : { kind: 'invalid', path, error: parsed.error };
}

/**
 * Agent side: write to a temporary sibling and rename over, so a plugin never reads half a file.
 * The temporary name starts with a dot and has no config extension, so no runtime loads it.
 */
export function writeEnrollmentStateFile(path: string, ambientNamespaces: Iterable<string>, now = new Date()): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, renderEnrollmentState(ambientNamespaces, now), { mode: 0o644 });
  renameSync(tmp, path);
}
