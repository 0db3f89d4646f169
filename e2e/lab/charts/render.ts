// Rendering the mesh's Helm charts (charts/{istiod,cni,ztunnel}) with the lab's helm, and reading
// the result: the documents, one object by kind and name, a container's environment.
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../config.ts';
import { run, type RunResult } from '../exec.ts';

export type ChartName = 'istiod' | 'cni' | 'ztunnel';

/** Istio's release names for the charts. */
export const RELEASE: Record<ChartName, string> = { istiod: 'istiod', cni: 'istio-cni', ztunnel: 'ztunnel' };

export const chartDir = (chart: ChartName): string => join(REPO_ROOT, 'charts', chart);
export const testdata = (file: string): string => join(REPO_ROOT, 'e2e/lab/charts', file);

export interface RenderOptions {
  namespace?: string;
  valuesFiles?: string[];
  /** `--set key=value` pairs. */
  set?: Record<string, string>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

function valueArgs(opts: RenderOptions): string[] {
  return [
    ...(opts.valuesFiles ?? []).flatMap((f) => ['-f', f]),
    ...Object.entries(opts.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
  ];
}

/** `helm template` of one chart; the result, not thrown (tests check failures too). */
export function helmTemplate(helm: string, chart: ChartName, opts: RenderOptions = {}): RunResult {
  return run([helm, 'template', RELEASE[chart], chartDir(chart), '--namespace', opts.namespace ?? 'istio-system', ...valueArgs(opts)], { allowFail: true });
}

export function helmLint(helm: string, chart: ChartName, opts: RenderOptions = {}): RunResult {
  return run([helm, 'lint', '--strict', chartDir(chart), '--namespace', opts.namespace ?? 'istio-system', ...valueArgs(opts)], { allowFail: true });
}

export function parseManifests(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`rendered YAML: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as KubeObject | null;
    if (obj) out.push(obj);
  }
  return out;
}

/** Renders and parses; throws with helm's message when it fails. */
export function render(helm: string, chart: ChartName, opts: RenderOptions = {}): KubeObject[] {
  const r = helmTemplate(helm, chart, opts);
  if (r.status !== 0) throw new Error(`helm template ${chart} failed: ${r.stderr}`);
  return parseManifests(r.stdout);
}

export function find<T = KubeObject>(objs: KubeObject[], kind: string, name: string): T {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in [${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}]`);
  return o as T;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string; readOnly?: boolean }[];
  readinessProbe?: { httpGet?: { path: string; port: number } };
  resources?: Record<string, unknown>;
}

export interface PodSpec {
  containers: Container[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  serviceAccountName?: string;
  priorityClassName?: string;
  terminationGracePeriodSeconds?: number;
  volumes?: ({ name: string } & Record<string, unknown>)[];
}

export interface Workload extends KubeObject {
  spec: { replicas?: number; updateStrategy?: unknown; template: { metadata: { labels?: Record<string, string> }; spec: PodSpec } };
}

/** The literal env of a container as a map; fieldRef entries as `fieldRef:<path>`. Duplicates throw. */
export function envMap(c: Container): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.name in out) throw new Error(`${c.name}: env ${e.name} twice`);
    out[e.name] = e.value ?? (e.valueFrom?.fieldRef ? `fieldRef:${e.valueFrom.fieldRef.fieldPath}` : '');
  }
  return out;
}

/** The environment a kubelet would give the process: fieldRefs resolved from `fields`. */
export function resolvedEnv(c: Container, fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(envMap(c))) {
    if (!v.startsWith('fieldRef:')) {
      out[k] = v;
      continue;
    }
    const path = v.slice('fieldRef:'.length);
    const resolved = fields[path];
    if (resolved === undefined) throw new Error(`${c.name}: env ${k} wants field ${path}, not given`);
    out[k] = resolved;
  }
  return out;
}
