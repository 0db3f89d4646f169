// Lab-wide constants and paths: the IP plan, ports, where state and tools live.
import { join } from 'node:path';
import { homedir } from 'node:os';

/** Every OS object the lab makes (netns, process marker, state dir) starts with this. */
export const LAB_PREFIX = 'aml';
/** Environment variable carried by every lab process, so `down --all` can find them after a crash. */
export const LAB_RUN_ENV = 'AMBIENT_LAB_RUN';

export const STATE_ROOT = process.env.AMBIENT_LAB_DIR ?? '/run/ambient-mesh-lab';
export const CURRENT_FILE = join(STATE_ROOT, 'current.json');
export const CACHE_ROOT = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ambient-mesh');

export const REPO_ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
export const CNI_BIN_DIR = process.env.AMBIENT_LAB_CNI_BIN ?? '/usr/lib/cni';

export const PORTS = {
  etcdClient: 23790,
  etcdPeer: 23800,
  apiserver: 16443,
  controllerManager: 16257,
  scheduler: 16259,
  /** Node n's kubelet API listens on 127.0.0.1:<kubeletBase + n>. */
  kubeletBase: 16250,
} as const;

export const NET = {
  serviceCidr: '10.96.0.0/16',
  kubernetesServiceIp: '10.96.0.1',
  clusterCidr: '10.244.0.0/16',
  fabricCidr: '172.18.0.0/24',
} as const;

/** Node n (1-based): its fabric address and pod CIDR. */
export function nodePlan(n: number): { name: string; fabricIp: string; podCidr: string; gateway: string } {
  return {
    name: `node${n}`,
    fabricIp: `172.18.0.${10 + n}`,
    podCidr: `10.244.${n}.0/24`,
    gateway: `10.244.${n}.1`,
  };
}

export function runDir(runId: string): string {
  return join(STATE_ROOT, runId);
}
