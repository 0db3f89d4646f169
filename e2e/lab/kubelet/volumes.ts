// Pure: a pod's volumes as the kubelet stand-in materialises them. `planMounts` checks the spec and
// says which volumes exist and where each is mounted in the pod's root; `renderVolume` turns one
// volume's sources plus what was fetched (ConfigMaps, Secrets, tokens) into the files it holds.
import { posix } from 'node:path';

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface DownwardApiItem {
  path: string;
  fieldRef?: { fieldPath: string };
  resourceFieldRef?: unknown;
  mode?: number;
}

export interface ProjectedSource {
  serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean };
  secret?: { name: string; items?: KeyToPath[]; optional?: boolean };
  downwardAPI?: { items?: DownwardApiItem[] };
  [other: string]: unknown;
}

export interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean; defaultMode?: number };
  secret?: { secretName: string; items?: KeyToPath[]; optional?: boolean; defaultMode?: number };
  emptyDir?: Record<string, unknown>;
  downwardAPI?: { items?: DownwardApiItem[]; defaultMode?: number };
  projected?: { sources?: ProjectedSource[]; defaultMode?: number };
  hostPath?: { path: string; type?: string };
  [other: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

/** One part of a volume's files. Objects are named in the pod's namespace. */
export type FileSource =
  | { kind: 'configMap'; name: string; items?: KeyToPath[]; optional: boolean; mode: number }
  | { kind: 'secret'; name: string; items?: KeyToPath[]; optional: boolean; mode: number }
  | { kind: 'downwardAPI'; items: DownwardApiItem[]; mode: number }
  | { kind: 'token'; serviceAccount: string; audience: string; expirationSeconds: number; path: string; mode: number };

export interface VolumePlan {
  name: string;
  /**
   * `emptyDir`: a directory the containers write; `files`: rendered from sources and kept fresh;
   * `hostPath`: a path of the node (in the lab, below the node's root directory in the lab state).
   */
  kind: 'emptyDir' | 'files' | 'hostPath';
  sources: FileSource[];
  /** hostPath only: the absolute node path and its Kubernetes type ('' when unset). */
  hostPath?: { path: string; type: string };
}

export interface MountLink {
  /** Relative to the pod root, no leading slash (`var/run/secrets/tokens`). */
  path: string;
  volume: string;
  subPath?: string;
}

export interface MountPlan {
  volumes: VolumePlan[];
  links: MountLink[];
}

/** The part of a Pod the plan reads. */
export interface PodVolumeSpec {
  spec: { serviceAccountName?: string; volumes?: Volume[]; containers: { name: string; volumeMounts?: VolumeMount[] }[] };
}

export type PlanResult = { ok: true; plan: MountPlan } | { ok: false; errors: string[] };

// The apiserver defaults defaultMode to 0644; these only apply to specs that bypassed defaulting
// (unit tests). A token without a mode is kept private.
const DEFAULT_MODE = 0o644;
const TOKEN_MODE = 0o600;
/** The apiserver's floor for expirationSeconds; kubelet's default when the spec has none is 1 h. */
const DEFAULT_TOKEN_SECONDS = 3600;

/** Kubernetes' hostPath types; the lab makes every path on demand (its node roots start empty). */
const HOST_PATH_TYPES = new Set(['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice']);

/** A relative path inside a volume: no `..` components, not absolute, not empty. */
function relativeOk(p: string): boolean {
  if (!p || p.startsWith('/')) return false;
  return p.split('/').every((c) => c !== '..' && c !== '');
}

function tokenKey(s: Extract<FileSource, { kind: 'token' }>): string {
  return `${s.serviceAccount}|${s.audience}|${s.expirationSeconds}`;
}

/** What a token source is fetched by: the same account, audience and lifetime share one token. */
export function tokenSourceKey(s: Extract<FileSource, { kind: 'token' }>): string {
  return tokenKey(s);
}

function volumeSources(v: Volume, serviceAccount: string, errors: string[]): VolumePlan | undefined {
  const at = `volume "${v.name}"`;
  if (v.emptyDir) return { name: v.name, kind: 'emptyDir', sources: [] };
  if (v.hostPath) {
    const raw = v.hostPath.path ?? '';
    const path = posix.normalize(raw);
    if (!raw.startsWith('/') || raw.split('/').includes('..')) {
      errors.push(`${at}: hostPath.path must be an absolute path: ${JSON.stringify(v.hostPath.path)}`);
      return undefined;
    }
    const type = v.hostPath.type ?? '';
    if (!HOST_PATH_TYPES.has(type)) {
      errors.push(`${at}: hostPath.type ${JSON.stringify(type)} is not one of ${[...HOST_PATH_TYPES].map((t) => JSON.stringify(t)).join(', ')}`);
      return undefined;
    }
    return { name: v.name, kind: 'hostPath', sources: [], hostPath: { path: path.replace(/\/+$/, '') || '/', type } };
  }
  if (v.configMap) {
    return { name: v.name, kind: 'files', sources: [{ kind: 'configMap', name: v.configMap.name, items: v.configMap.items, optional: v.configMap.optional === true, mode: v.configMap.defaultMode ?? DEFAULT_MODE }] };
  }
  if (v.secret) {
    return { name: v.name, kind: 'files', sources: [{ kind: 'secret', name: v.secret.secretName, items: v.secret.items, optional: v.secret.optional === true, mode: v.secret.defaultMode ?? DEFAULT_MODE }] };
  }
  if (v.downwardAPI) {
    return { name: v.name, kind: 'files', sources: [{ kind: 'downwardAPI', items: v.downwardAPI.items ?? [], mode: v.downwardAPI.defaultMode ?? DEFAULT_MODE }] };
  }
  if (v.projected) {
    const mode = v.projected.defaultMode;
    const sources: FileSource[] = [];
    for (const [i, s] of (v.projected.sources ?? []).entries()) {
      if (s.serviceAccountToken) {
        const t = s.serviceAccountToken;
        if (!relativeOk(t.path)) errors.push(`${at}: sources[${i}].serviceAccountToken.path: not a relative path: ${JSON.stringify(t.path)}`);
        sources.push({ kind: 'token', serviceAccount, audience: t.audience ?? '', expirationSeconds: t.expirationSeconds ?? DEFAULT_TOKEN_SECONDS, path: t.path, mode: mode ?? TOKEN_MODE });
      } else if (s.configMap) sources.push({ kind: 'configMap', name: s.configMap.name, items: s.configMap.items, optional: s.configMap.optional === true, mode: mode ?? DEFAULT_MODE });
      else if (s.secret) sources.push({ kind: 'secret', name: s.secret.name, items: s.secret.items, optional: s.secret.optional === true, mode: mode ?? DEFAULT_MODE });
      else if (s.downwardAPI) sources.push({ kind: 'downwardAPI', items: s.downwardAPI.items ?? [], mode: mode ?? DEFAULT_MODE });
      else errors.push(`${at}: sources[${i}]: unsupported projection (${Object.keys(s).join(', ') || 'empty'}); the lab supports serviceAccountToken, configMap, secret, downwardAPI`);
    }
    return { name: v.name, kind: 'files', sources };
  }
  const kinds = Object.keys(v).filter((k) => k !== 'name');
  errors.push(`${at}: unsupported volume source (${kinds.join(', ') || 'none'}); the lab supports emptyDir, configMap, secret, downwardAPI, projected, hostPath`);
  return undefined;
}

/**
 * Checks a pod's volumes and mounts: every mount names a volume, paths are absolute and normalised,
 * subPaths stay inside their volume, and no two mounts share or nest paths (mounts are links in one
 * pod root, so a nested mount would land inside its parent's volume).
 */
export function planMounts(pod: PodVolumeSpec): PlanResult {
  const errors: string[] = [];
  const serviceAccount = pod.spec.serviceAccountName ?? 'default';
  const volumes: VolumePlan[] = [];
  const seen = new Set<string>();
  for (const v of pod.spec.volumes ?? []) {
    if (seen.has(v.name)) {
      errors.push(`volume "${v.name}": declared twice`);
      continue;
    }
    seen.add(v.name);
    const plan = volumeSources(v, serviceAccount, errors);
    if (plan) volumes.push(plan);
  }
  const links = new Map<string, MountLink>();
  for (const c of pod.spec.containers) {
    for (const m of c.volumeMounts ?? []) {
      const at = `container "${c.name}": volumeMount "${m.name}" at ${JSON.stringify(m.mountPath)}`;
      if (!seen.has(m.name)) {
        errors.push(`${at}: no volume named "${m.name}"`);
        continue;
      }
      if (!m.mountPath.startsWith('/')) {
        errors.push(`${at}: mountPath must be absolute`);
        continue;
      }
      const path = posix.normalize(m.mountPath).replace(/^\/+|\/+$/g, '');
      if (!path || path.split('/').includes('..')) {
        errors.push(`${at}: mountPath must name a directory below /`);
        continue;
      }
      if (m.subPath !== undefined && m.subPath !== '' && !relativeOk(m.subPath)) {
        errors.push(`${at}: subPath must be a relative path inside the volume`);
        continue;
      }
      const link: MountLink = { path, volume: m.name, ...(m.subPath ? { subPath: m.subPath } : {}) };
      const same = links.get(path);
      if (same) {
        // Containers mounting the same volume at the same place share the link.
        if (same.volume !== link.volume || same.subPath !== link.subPath) errors.push(`${at}: another mount uses that path`);
        continue;
      }
      links.set(path, link);
    }
  }
  const paths = [...links.keys()];
  for (const p of paths) {
    const parent = paths.find((q) => q !== p && p.startsWith(`${q}/`));
    if (parent) errors.push(`mount /${p} is inside mount /${parent}: nested mounts are not supported in the lab`);
  }
  return errors.length ? { ok: false, errors } : { ok: true, plan: { volumes, links: [...links.values()] } };
}

/** The objects a volume's sources read (`configMap/<name>`, `secret/<name>`), in the pod's namespace. */
export function referencedObjects(plan: MountPlan): { kind: 'configMap' | 'secret'; name: string }[] {
  const out = new Map<string, { kind: 'configMap' | 'secret'; name: string }>();
  for (const v of plan.volumes) {
    for (const s of v.sources) if (s.kind === 'configMap' || s.kind === 'secret') out.set(`${s.kind}/${s.name}`, { kind: s.kind, name: s.name });
  }
  return [...out.values()];
}

export interface DataObject {
  /** Values as bytes (ConfigMap `data` UTF-8, `binaryData` and Secret `data` base64-decoded). */
  data: Map<string, Buffer>;
}

export interface RenderInputs {
  /** `configMap/<name>` or `secret/<name>` → the object, or null when the apiserver says it does not exist. */
  objects: Map<string, DataObject | null>;
  /** tokenSourceKey → token. */
  tokens: Map<string, string>;
  pod: { name: string; namespace: string; uid: string; labels: Record<string, string>; annotations: Record<string, string> };
}

export interface VolumeFile {
  /** Relative to the volume directory. */
  path: string;
  data: Buffer;
  mode: number;
}

export type RenderResult = { ok: true; files: VolumeFile[] } | { ok: false; error: string };

/** `key="value"` lines sorted by key, values quoted as Go's %q would (the downward API's format). */
export function formatMap(m: Record<string, string>): string {
  return Object.keys(m).sort().map((k) => `${k}=${JSON.stringify(m[k])}`).join('\n');
}

function downwardValue(path: string, pod: RenderInputs['pod']): string | undefined {
  switch (path) {
    case 'metadata.name': return pod.name;
    case 'metadata.namespace': return pod.namespace;
    case 'metadata.uid': return pod.uid;
    case 'metadata.labels': return formatMap(pod.labels);
    case 'metadata.annotations': return formatMap(pod.annotations);
    default: {
      const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
      if (m) return (m[1] === 'labels' ? pod.labels : pod.annotations)[m[2]!] ?? '';
      return undefined;
    }
  }
}

/**
 * The files of one volume, or the first reason it cannot be set up, worded like kubelet's
 * `MountVolume.SetUp failed for volume "x" : configmap "y" not found`.
 */
export function renderVolume(v: VolumePlan, inputs: RenderInputs): RenderResult {
  const fail = (why: string): RenderResult => ({ ok: false, error: `MountVolume.SetUp failed for volume "${v.name}" : ${why}` });
  const files = new Map<string, VolumeFile>();
  const put = (path: string, data: Buffer, mode: number): string | undefined => {
    if (!relativeOk(path)) return `invalid path ${JSON.stringify(path)}`;
    files.set(path, { path, data, mode });
    return undefined;
  };
  for (const s of v.sources) {
    if (s.kind === 'token') {
      const t = inputs.tokens.get(tokenKey(s));
      if (t === undefined) return fail(`no token yet for service account "${s.serviceAccount}"`);
      const bad = put(s.path, Buffer.from(t), s.mode);
      if (bad) return fail(bad);
    } else if (s.kind === 'downwardAPI') {
      for (const item of s.items) {
        const value = item.fieldRef ? downwardValue(item.fieldRef.fieldPath, inputs.pod) : undefined;
        if (value === undefined) return fail(`downwardAPI item ${JSON.stringify(item.path)}: unsupported field (the lab supports metadata name, namespace, uid, labels, annotations)`);
        const bad = put(item.path, Buffer.from(value), item.mode ?? s.mode);
        if (bad) return fail(bad);
      }
    } else {
      const word = s.kind === 'configMap' ? 'configmap' : 'secret';
      const obj = inputs.objects.get(`${s.kind}/${s.name}`);
      if (obj === undefined) return fail(`${word} "${s.name}" not fetched yet`);
      if (obj === null) {
        if (s.optional) continue;
        return fail(`${word} "${s.name}" not found`);
      }
      const items: KeyToPath[] = s.items ?? [...obj.data.keys()].sort().map((key) => ({ key, path: key }));
      for (const item of items) {
        const value = obj.data.get(item.key);
        if (value === undefined) {
          if (s.optional) continue;
          return fail(`${word} "${s.name}": references non-existent key "${item.key}"`);
        }
        const bad = put(item.path, value, item.mode ?? s.mode);
        if (bad) return fail(bad);
      }
    }
  }
  return { ok: true, files: [...files.values()].sort((a, b) => a.path.localeCompare(b.path)) };
}

/** ConfigMap/Secret JSON from the apiserver → bytes per key. */
export function dataObject(kind: 'configMap' | 'secret', obj: { data?: Record<string, string>; binaryData?: Record<string, string> }): DataObject {
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(obj.data ?? {})) data.set(k, kind === 'secret' ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(obj.binaryData ?? {})) data.set(k, Buffer.from(v, 'base64'));
  return { data };
}

/**
 * When to refresh a token: at 80% of its lifetime (kubelet's rule), never later than 24 h after
 * issue, and not sooner than 10 s from now so a short-lived token cannot spin.
 */
export function tokenRefreshAt(issuedAtMs: number, expiresAtMs: number, nowMs: number): number {
  const at = issuedAtMs + Math.min((expiresAtMs - issuedAtMs) * 0.8, 24 * 3600_000);
  return Math.max(at, nowMs + 10_000);
}
