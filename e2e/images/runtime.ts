// Running our OCI images under runc, as a node's container runtime would: the archive is unpacked
// with umoci into a runtime bundle whose config.json comes from the image's own config (entrypoint,
// env, user, working dir), then each run gets its own config (extra env, args, a network namespace
// the test created) over the one shared, read-only root filesystem. Every container and netns is
// named with the lab prefix (`aml-`), so `lab down --all` sweeps what a crashed run left.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lab/exec.ts';

/** The parts of an OCI runtime config.json the tests read or change. */
export interface RuntimeConfig {
  process: {
    args: string[];
    env: string[];
    cwd: string;
    user: { uid: number; gid: number };
    terminal?: boolean;
    capabilities?: Partial<Record<'bounding' | 'effective' | 'permitted' | 'inheritable' | 'ambient', string[]>>;
  };
  root: { path: string; readonly?: boolean };
  linux: { namespaces: { type: string; path?: string }[] };
  [key: string]: unknown;
}

export interface UnpackedImage {
  component: string;
  /** The image's reference name inside the archive (index.json's ref.name). */
  refName: string;
  /** Its full name (io.containerd.image.name). */
  imageName: string;
  rootfs: string;
  /** config.json as umoci generated it from the image config. */
  config: RuntimeConfig;
}

/** Extracts an oci-archive and unpacks its one image into `<dir>/bundle`. */
export function unpackImage(component: string, archive: string, dir: string): UnpackedImage {
  const layout = join(dir, 'layout');
  mkdirSync(layout, { recursive: true });
  run(['tar', '--extract', '--file', archive, '--directory', layout]);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
  const annotations = index.manifests[0]?.annotations ?? {};
  const refName = annotations['org.opencontainers.image.ref.name'];
  if (index.manifests.length !== 1 || !refName) throw new Error(`${archive}: expected one image with a ref.name, got ${JSON.stringify(index.manifests)}`);
  const bundle = join(dir, 'bundle');
  run(['umoci', 'unpack', '--image', `${layout}:${refName}`, bundle]);
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as RuntimeConfig;
  return { component, refName, imageName: annotations['io.containerd.image.name'] ?? '', rootfs: join(bundle, 'rootfs'), config };
}

export interface RunSpec {
  /** Added to (or replacing, by name) the image's environment. */
  env?: Record<string, string>;
  /** Replaces the image's entrypoint + cmd. */
  args?: string[];
  /** Path of a network namespace to join; omitted: runc's new, empty one. */
  netnsPath?: string;
  stdin?: string;
  /** Capabilities added to the default set (e.g. CAP_NET_ADMIN, as the chart grants the agent). */
  capabilities?: string[];
}

/** Pure: the config of one run, from the image's generated config. */
export function runConfig(image: UnpackedImage, spec: RunSpec): RuntimeConfig {
  const c = structuredClone(image.config);
  const env = new Map(c.process.env.map((e) => [e.slice(0, e.indexOf('=')), e] as const));
  for (const [k, v] of Object.entries(spec.env ?? {})) env.set(k, `${k}=${v}`);
  c.process.env = [...env.values()];
  if (spec.args) c.process.args = spec.args;
  c.process.terminal = false;
  if (spec.capabilities?.length) {
    const caps = c.process.capabilities ?? {};
    for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...new Set([...(caps[set] ?? []), ...spec.capabilities])];
    c.process.capabilities = caps;
  }
  c.root = { path: image.rootfs, readonly: true };
  if (spec.netnsPath) {
    c.linux.namespaces = c.linux.namespaces.map((ns) => (ns.type === 'network' ? { type: 'network', path: spec.netnsPath! } : ns));
  }
  return c;
}

export interface Container {
  id: string;
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code once runc returns (the container's process ended). */
  exited: Promise<number | null>;
  hasExited(): boolean;
}

/** Starts a container in the foreground of a `runc run` child; its stdio are the container's. */
export function startContainer(image: UnpackedImage, id: string, bundleDir: string, spec: RunSpec = {}): Container {
  mkdirSync(bundleDir, { recursive: true });
  writeFileSync(join(bundleDir, 'config.json'), JSON.stringify(runConfig(image, spec)));
  const child: ChildProcess = spawn('runc', ['run', '--bundle', bundleDir, id], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let done = false;
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin!.on('error', () => {}); // the container may exit before reading it
  child.stdin!.end(spec.stdin ?? '');
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => {
      done = true;
      resolve(code);
    });
    child.on('error', (err) => {
      stderr += `runc: ${err.message}\n`;
      done = true;
      resolve(null);
    });
  });
  return { id, output: () => ({ stdout, stderr }), exited, hasExited: () => done };
}

/** Kills and deletes a container whatever its state; true when runc no longer knows it. */
export function removeContainer(id: string): boolean {
  run(['runc', 'kill', id, 'KILL'], { allowFail: true });
  run(['runc', 'delete', '--force', id], { allowFail: true });
  return !existsSync(`/run/runc/${id}`);
}

/** Runs a command inside a running container (runc exec), returning its output. */
export function execInContainer(id: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return run(['runc', 'exec', id, ...args], { allowFail: true });
}
