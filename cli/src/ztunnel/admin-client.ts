// Reads ztunnel's admin `/config_dump`: over plain HTTP from an address, or from a pod through an
// apiserver port-forward (a loopback listener whose connections are tunnelled to the pod's port).
import { request } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';
import { CliError } from '../args.ts';
import { toKubeError, ztunnelPods, type PodRef } from '../kube.ts';

const TIMEOUT_MS = 15_000;

/** GET `base + path` with no keep-alive; the body as text, or a CliError naming the address. */
export function httpGet(base: string, path: string, timeoutMs = TIMEOUT_MS): Promise<string> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new CliError(`failed to read ${url.href}: ${err.message}`)));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) reject(new CliError(`${url.href} answered ${res.statusCode}: ${body.trim().slice(0, 200)}`));
        else resolve(body);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new CliError(`failed to execute command on ztunnel at ${url.origin}: ${err.message}`)));
    req.end();
  });
}

/** The pod to read when none is named: the first Running one by name (istioctl takes the first pod of the DaemonSet). */
export function pickPod(pods: readonly PodRef[]): PodRef | undefined {
  return [...pods].sort((a, b) => Number(b.running) - Number(a.running) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0];
}

export async function resolveZtunnelPod(kc: KubeConfig, istioNamespace: string, node?: string): Promise<{ name: string; namespace: string }> {
  let pods: PodRef[];
  try {
    pods = await ztunnelPods(kc, istioNamespace, node);
  } catch (err) {
    throw new CliError(`failed to find ztunnel pods in ${istioNamespace}: ${toKubeError(err).message}`);
  }
  const p = pickPod(pods);
  if (!p) throw new CliError(node ? 'no pods found' : `no ztunnel pods found in namespace ${istioNamespace}`);
  return p;
}

/** GET `path` on `port` of a pod through the apiserver's portforward subresource (WebSocket). */
export async function getThroughPortForward(kc: KubeConfig, pod: { name: string; namespace: string }, port: number, path: string): Promise<string> {
  const forward = new PortForward(kc, true);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    forward.portForward(pod.namespace, pod.name, [port], socket, null, socket).catch((err: unknown) => {
      socket.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  try {
    const { port: local } = server.address() as AddressInfo;
    return await httpGet(`http://127.0.0.1:${local}`, path).catch((err: Error) => {
      throw new CliError(`failed to execute command on ${pod.name}.${pod.namespace} ztunnel: ${err.message}`);
    });
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
}
