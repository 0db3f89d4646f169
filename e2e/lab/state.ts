// The running lab's record (one per machine): what it made, so `down` can undo it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CURRENT_FILE, STATE_ROOT } from './config.ts';

export interface LabNode {
  name: string;
  netns: string;
  fabricIp: string;
  podCidr: string;
  gateway: string;
  /** Directory of this node's CNI config (the node's /etc/cni/net.d). */
  cniConfDir: string;
  /** This node's CNI plugin dir (searched before the system's): where the node agent installs ours. */
  cniBinDir: string;
}

export interface LabProcess {
  name: string;
  pid: number;
  log: string;
}

export interface LabState {
  runId: string;
  /** `aml-<runId>`: prefix of every netns this lab makes. */
  prefix: string;
  dir: string;
  toolsBin: string;
  kubeconfig: string;
  apiserverUrl: string;
  fabricNetns: string;
  nodes: LabNode[];
  processes: LabProcess[];
  startedAt: string;
  phase: 'starting' | 'up';
  /** Node name → its ztunnel's admin port on 127.0.0.1, while the mesh harness runs (for `lab ambientctl`). */
  ztunnelAdminPorts?: Record<string, number>;
}

export function readState(): LabState | undefined {
  if (!existsSync(CURRENT_FILE)) return undefined;
  try {
    return JSON.parse(readFileSync(CURRENT_FILE, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(state: LabState): void {
  mkdirSync(STATE_ROOT, { recursive: true });
  const tmp = `${CURRENT_FILE}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  renameSync(tmp, CURRENT_FILE);
}

/** A process counts as alive while it exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself hold spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
