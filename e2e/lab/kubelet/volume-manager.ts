// The kubelet stand-in's volume manager: materialises a pod's volumes under its pod directory and
// links them into the pod root at their mount paths, with the node's own credentials (TokenRequest
// bound to the Pod, ConfigMaps and Secrets through single-object watches the Node authorizer
// allows), and keeps them fresh: tokens at 80% of their lifetime, objects as they change.
import { chmodSync, existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KubeClient } from '../kube-client.ts';
import type { Pod } from './types.ts';
import {
  dataObject, planMounts, referencedObjects, renderVolume, tokenRefreshAt, tokenSourceKey,
  type DataObject, type FileSource, type MountPlan, type RenderInputs,
} from './volumes.ts';

export type SetUpResult = { ok: true; root: string } | { ok: false; error: string };

interface Watched {
  /** undefined until the first list answered; null when the object does not exist. */
  value: DataObject | null | undefined;
  users: Set<string>;
  stop: () => void;
  synced: Promise<void>;
}

interface TokenState {
  token?: string;
  timer?: NodeJS.Timeout;
}

interface PodVolumes {
  pod: Pod;
  uid: string;
  namespace: string;
  podDir: string;
  plan?: MountPlan;
  objects: Set<string>;
  tokens: Map<string, TokenState>;
  /** Every volume rendered and linked once: from then on changes are written in place. */
  ready: boolean;
  torn: boolean;
  wake?: () => void;
  /** Last bytes written per `<volume>/<path>`, so unchanged files are not rewritten. */
  written: Map<string, Buffer>;
}

export interface VolumeManagerConfig {
  client: KubeClient;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** The node's root directory (see node-root.ts): hostPath `/x/y` is `<nodeRoot>/x/y`. */
  nodeRoot?: string;
}

/** How long a first mount waits for the watch of a ConfigMap/Secret to list it. */
const FIRST_LIST_MS = 10_000;
const TOKEN_RETRY_MS = 10_000;

export function podRoot(podDir: string): string {
  return join(podDir, 'root');
}

export class VolumeManager {
  private readonly cfg: VolumeManagerConfig;
  private readonly pods = new Map<string, PodVolumes>();
  private readonly watched = new Map<string, Watched>();

  constructor(cfg: VolumeManagerConfig) {
    this.cfg = cfg;
  }

  /**
   * Makes the pod root (the containers' cwd) with every mount in place. Returns the reason when a
   * volume cannot be set up yet (a missing ConfigMap, a refused token); call again to retry.
   */
  async setUp(pod: Pod, podDir: string): Promise<SetUpResult> {
    const uid = pod.metadata.uid!;
    const namespace = pod.metadata.namespace ?? 'default';
    let pv = this.pods.get(uid);
    if (!pv) {
      pv = { pod, uid, namespace, podDir, objects: new Set(), tokens: new Map(), ready: false, torn: false, written: new Map() };
      this.pods.set(uid, pv);
    }
    const planned = planMounts(pod);
    if (!planned.ok) return { ok: false, error: planned.errors.join('; ') };
    pv.plan = planned.plan;
    for (const ref of referencedObjects(planned.plan)) this.watch(pv, ref.kind, ref.name);
    await Promise.race([
      Promise.all([...pv.objects].map((k) => this.watched.get(k)?.synced)),
      new Promise((r) => setTimeout(r, FIRST_LIST_MS).unref()),
    ]);
    for (const v of planned.plan.volumes) {
      for (const s of v.sources) {
        if (s.kind !== 'token') continue;
        const key = tokenSourceKey(s);
        if (pv.tokens.get(key)?.token !== undefined) continue;
        const err = await this.fetchToken(pv, s);
        if (err) return { ok: false, error: `MountVolume.SetUp failed for volume "${v.name}" : failed to fetch token: ${err}` };
      }
    }
    if (pv.torn) return { ok: false, error: 'pod is being removed' };
    const inputs = this.inputs(pv);
    const rendered = [];
    for (const v of planned.plan.volumes) {
      if (v.kind !== 'files') continue;
      const r = renderVolume(v, inputs);
      if (!r.ok) return { ok: false, error: r.error };
      rendered.push({ name: v.name, files: r.files });
    }
    const hostDirs = new Map<string, string>();
    for (const v of planned.plan.volumes) {
      if (v.kind !== 'hostPath' || !v.hostPath) continue;
      const r = this.hostPath(v.name, v.hostPath);
      if (!r.ok) return r;
      hostDirs.set(v.name, r.path);
    }
    const root = podRoot(podDir);
    mkdirSync(root, { recursive: true });
    for (const v of planned.plan.volumes) if (v.kind !== 'hostPath') mkdirSync(this.volumeDir(pv, v.name), { recursive: true });
    for (const r of rendered) this.writeFiles(pv, r.name, r.files);
    for (const link of planned.plan.links) {
      const target = join(hostDirs.get(link.volume) ?? this.volumeDir(pv, link.volume), link.subPath ?? '');
      const at = join(root, link.path);
      mkdirSync(dirname(at), { recursive: true });
      if (link.subPath && !existsSync(target)) mkdirSync(target, { recursive: true });
      if (existsSync(at) || isLink(at)) {
        if (isLink(at) && readlinkSync(at) === target) continue;
        rmSync(at, { recursive: true, force: true });
      }
      symlinkSync(target, at);
    }
    pv.ready = true;
    return { ok: true, root };
  }

  /** Resolves after `ms`, or sooner when something the pod's volumes read changes (or it is torn down). */
  waitForChange(uid: string, ms: number): Promise<void> {
    const pv = this.pods.get(uid);
    if (!pv) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        if (pv!.wake === done) pv!.wake = undefined;
        resolve();
      }
      pv.wake = done;
    });
  }

  /** The pod object changed (labels, annotations): re-render what reads them. */
  podUpdated(pod: Pod): void {
    const pv = this.pods.get(pod.metadata.uid!);
    if (!pv) return;
    const before = JSON.stringify([pv.pod.metadata.labels, pv.pod.metadata.annotations]);
    pv.pod = pod;
    if (pv.ready && JSON.stringify([pod.metadata.labels, pod.metadata.annotations]) !== before) this.refresh(pv);
  }

  /** Stops refreshing the pod's volumes and removes them and its root. */
  tearDown(uid: string): void {
    const pv = this.pods.get(uid);
    if (!pv) return;
    pv.torn = true;
    this.pods.delete(uid);
    for (const t of pv.tokens.values()) if (t.timer) clearTimeout(t.timer);
    for (const key of pv.objects) {
      const w = this.watched.get(key);
      if (!w) continue;
      w.users.delete(uid);
      if (w.users.size === 0) {
        w.stop();
        this.watched.delete(key);
      }
    }
    pv.wake?.();
    rmSync(podRoot(pv.podDir), { recursive: true, force: true });
    rmSync(join(pv.podDir, 'volumes'), { recursive: true, force: true });
  }

  tearDownAll(): void {
    for (const uid of [...this.pods.keys()]) this.tearDown(uid);
  }

  /**
   * The node directory (or file) a hostPath volume names, made as its type asks: the node roots of
   * the lab start empty, so `Directory`, `File` and `Socket` are made or awaited like the *OrCreate types.
   */
  private hostPath(volume: string, hp: { path: string; type: string }): { ok: true; path: string } | { ok: false; error: string } {
    if (!this.cfg.nodeRoot) return { ok: false, error: `MountVolume.SetUp failed for volume "${volume}" : this kubelet has no node root for hostPath volumes` };
    const path = join(this.cfg.nodeRoot, hp.path);
    if (hp.type === 'FileOrCreate' || hp.type === 'File') {
      mkdirSync(dirname(path), { recursive: true });
      if (!existsSync(path)) writeFileSync(path, '', { mode: 0o644 });
    } else if (hp.type === 'Socket' || hp.type === 'CharDevice' || hp.type === 'BlockDevice') {
      mkdirSync(dirname(path), { recursive: true });
    } else if (!existsSync(path)) mkdirSync(path, { recursive: true });
    return { ok: true, path };
  }

  private volumeDir(pv: PodVolumes, name: string): string {
    return join(pv.podDir, 'volumes', name);
  }

  private inputs(pv: PodVolumes): RenderInputs {
    const objects = new Map<string, DataObject | null>();
    for (const key of pv.objects) {
      const v = this.watched.get(key)?.value;
      if (v !== undefined) objects.set(key.slice(key.indexOf('/') + 1), v);
    }
    const tokens = new Map<string, string>();
    for (const [k, t] of pv.tokens) if (t.token !== undefined) tokens.set(k, t.token);
    const md = pv.pod.metadata;
    return {
      objects,
      tokens,
      pod: { name: md.name, namespace: pv.namespace, uid: pv.uid, labels: md.labels ?? {}, annotations: md.annotations ?? {} },
    };
  }

  /** One watch per object (`<ns>/configMap/<name>`), shared by the pods that mount it. */
  private watch(pv: PodVolumes, kind: 'configMap' | 'secret', name: string): void {
    const key = `${pv.namespace}/${kind}/${name}`;
    pv.objects.add(key);
    const existing = this.watched.get(key);
    if (existing) {
      existing.users.add(pv.uid);
      return;
    }
    let markSynced!: () => void;
    const w: Watched = { value: undefined, users: new Set([pv.uid]), stop: () => {}, synced: new Promise((r) => (markSynced = r)) };
    this.watched.set(key, w);
    const resource = kind === 'configMap' ? 'configmaps' : 'secrets';
    const set = (value: DataObject | null): void => {
      w.value = value;
      markSynced();
      for (const uid of w.users) this.changed(uid);
    };
    type Obj = { metadata: { name: string }; data?: Record<string, string>; binaryData?: Record<string, string> };
    w.stop = this.cfg.client.informer<Obj>(`/api/v1/namespaces/${pv.namespace}/${resource}?fieldSelector=metadata.name%3D${encodeURIComponent(name)}`, {
      onSync: (items) => set(items[0] ? dataObject(kind, items[0]) : null),
      onEvent: (ev) => set(ev.type === 'DELETED' ? null : dataObject(kind, ev.object)),
      onError: (err) => this.cfg.log('volume source watch error', { object: key, error: err.message }),
    });
  }

  /** Something a pod's volumes read changed: wake a waiting first mount, or rewrite in place. */
  private changed(uid: string): void {
    const pv = this.pods.get(uid);
    if (!pv || pv.torn) return;
    if (!pv.ready) {
      pv.wake?.();
      return;
    }
    this.refresh(pv);
  }

  /** Re-renders every volume of a mounted pod; a volume that cannot be rendered keeps its last files (as kubelet). */
  private refresh(pv: PodVolumes): void {
    if (!pv.plan) return;
    const inputs = this.inputs(pv);
    for (const v of pv.plan.volumes) {
      if (v.kind !== 'files') continue;
      const r = renderVolume(v, inputs);
      if (!r.ok) {
        this.cfg.log('volume refresh failed, keeping the last files', { pod: `${pv.namespace}/${pv.pod.metadata.name}`, error: r.error });
        continue;
      }
      this.writeFiles(pv, v.name, r.files);
    }
  }

  private writeFiles(pv: PodVolumes, volume: string, files: { path: string; data: Buffer; mode: number }[]): void {
    const dir = this.volumeDir(pv, volume);
    const keep = new Set<string>();
    for (const f of files) {
      const key = `${volume}/${f.path}`;
      keep.add(key);
      if (pv.written.get(key)?.equals(f.data)) continue;
      const dest = join(dir, f.path);
      mkdirSync(dirname(dest), { recursive: true });
      // Write then rename: a reader sees the old file or the new one, never half of it.
      const tmp = join(dirname(dest), `..${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
      writeFileSync(tmp, f.data);
      chmodSync(tmp, f.mode);
      renameSync(tmp, dest);
      pv.written.set(key, f.data);
    }
    for (const key of [...pv.written.keys()]) {
      if (!key.startsWith(`${volume}/`) || keep.has(key)) continue;
      rmSync(join(dir, key.slice(volume.length + 1)), { force: true });
      pv.written.delete(key);
    }
  }

  /** TokenRequest for the pod's service account, bound to the Pod; schedules its refresh. Returns an error text on failure. */
  private async fetchToken(pv: PodVolumes, s: Extract<FileSource, { kind: 'token' }>): Promise<string | undefined> {
    const key = tokenSourceKey(s);
    const state = pv.tokens.get(key) ?? {};
    pv.tokens.set(key, state);
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
    const issuedAt = Date.now();
    try {
      const res = await this.cfg.client.request<{ status: { token: string; expirationTimestamp: string } }>(
        'POST', `/api/v1/namespaces/${pv.namespace}/serviceaccounts/${s.serviceAccount}/token`, {
          apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
          spec: {
            ...(s.audience ? { audiences: [s.audience] } : {}),
            expirationSeconds: s.expirationSeconds,
            boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pv.pod.metadata.name, uid: pv.uid },
          },
        });
      if (pv.torn) return 'pod is being removed';
      state.token = res.status.token;
      const expires = Date.parse(res.status.expirationTimestamp);
      const at = tokenRefreshAt(issuedAt, Number.isFinite(expires) ? expires : issuedAt + s.expirationSeconds * 1000, Date.now());
      state.timer = setTimeout(() => void this.refreshToken(pv, s), at - Date.now());
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  private async refreshToken(pv: PodVolumes, s: Extract<FileSource, { kind: 'token' }>): Promise<void> {
    if (pv.torn) return;
    const err = await this.fetchToken(pv, s);
    if (pv.torn) return;
    if (err) {
      // The old token stays in the file until it expires; try again soon.
      this.cfg.log('token refresh failed', { pod: `${pv.namespace}/${pv.pod.metadata.name}`, serviceAccount: s.serviceAccount, error: err });
      const state = pv.tokens.get(tokenSourceKey(s));
      if (state) state.timer = setTimeout(() => void this.refreshToken(pv, s), TOKEN_RETRY_MS);
      return;
    }
    this.refresh(pv);
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
