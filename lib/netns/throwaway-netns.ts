// Test support: throwaway network namespaces (unique `amt-netns-` names, lo up, no route out) and
// the root check the netns tests skip on. Used only by lib/netns tests; lib/ cannot import e2e/.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const isRoot = process.getuid?.() === 0;
export const ROOT_REASON = 'requires root: creates network namespaces and netfilter rules';

export interface ThrowawayNetns {
  readonly name: string;
  /** /run/netns/<name>, usable wherever a NetnsRef is taken. */
  readonly path: string;
  /** Runs a command inside the netns; throws with its stderr on a non-zero exit. */
  exec(cmd: string[]): string;
  /** Runs a command inside the netns and reports success, for optional features (ip6tables). */
  tryExec(cmd: string[]): boolean;
  /** Deletes the netns (and with it every interface, address and netfilter rule made inside it). */
  remove(): void;
}

export function createThrowawayNetns(): ThrowawayNetns {
  const name = `amt-netns-${randomBytes(5).toString('hex')}`;
  run(['ip', 'netns', 'add', name]);
  let removed = false;
  const ns: ThrowawayNetns = {
    name,
    path: `/run/netns/${name}`,
    exec: (cmd) => run(['ip', 'netns', 'exec', name, ...cmd]),
    tryExec: (cmd) => spawnSync('ip', ['netns', 'exec', name, ...cmd], { stdio: 'ignore' }).status === 0,
    remove: () => {
      if (removed) return;
      removed = true;
      run(['ip', 'netns', 'delete', name]);
    },
  };
  try {
    ns.exec(['ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    ns.remove();
    throw err;
  }
  return ns;
}

/**
 * Adds a test interface carrying the given addresses (CIDR): a dummy device, or where the kernel
 * has no dummy driver a veth pair with both ends in this netns. Either way nothing routed out of it
 * can leave the netns; its addresses are local, so traffic to them loops through lo.
 */
export function addTestInterface(ns: ThrowawayNetns, dev: string, cidrs: string[]): void {
  if (!ns.tryExec(['ip', 'link', 'add', dev, 'type', 'dummy'])) {
    ns.exec(['ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
    ns.exec(['ip', 'link', 'set', `${dev}p`, 'up']);
  }
  for (const cidr of cidrs) {
    const v6 = cidr.includes(':');
    // nodad: a tentative IPv6 address cannot be bound until DAD finishes.
    ns.exec(['ip', ...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
  }
  ns.exec(['ip', 'link', 'set', dev, 'up']);
}

function run(cmd: string[]): string {
  const [file, ...args] = cmd;
  if (!file) throw new Error('run: empty command');
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}
