// Finding and removing what a lab left behind: processes tagged with the run env var, network
// namespaces and their /run/netns mounts with the lab prefix.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { LAB_PREFIX, LAB_RUN_ENV } from './config.ts';
import { processRef, stopProcesses, type ProcessRef } from './daemons.ts';
import { run } from './exec.ts';

export interface Leftovers {
  processes: { pid: number; run: string; cmd: string }[];
  netns: string[];
  mounts: string[];
}

/** Lab processes: their environment carries AMBIENT_LAB_RUN (of `runId`, or of any run). */
export function labProcesses(runId?: string): Leftovers['processes'] {
  const out: Leftovers['processes'] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${d}/environ`, 'latin1');
    } catch {
      continue;
    }
    const entry = env.split('\0').find((e) => e.startsWith(`${LAB_RUN_ENV}=`));
    if (!entry) continue;
    const run = entry.slice(LAB_RUN_ENV.length + 1);
    if (runId !== undefined && run !== runId) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0').join(' ').trim();
    } catch {
      /* exited meanwhile */
    }
    if (!cmd) continue; // zombie or gone
    out.push({ pid, run, cmd });
  }
  return out;
}

export function labNetns(prefix = `${LAB_PREFIX}-`): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
}

export function labMounts(prefix = `${LAB_PREFIX}-`): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`/run/netns/${prefix}`) || m.startsWith(`/var/run/netns/${prefix}`));
}

export function leftovers(runId?: string, prefix?: string): Leftovers {
  return { processes: labProcesses(runId), netns: labNetns(prefix), mounts: labMounts(prefix) };
}

/**
 * Stops the lab's processes and returns once they are gone, not merely signalled: they are found by
 * their tag first, then followed by pid (an exiting process loses its environ before its threads
 * and sockets are gone). Rounds repeat while new tagged processes show up; what survives is returned.
 */
export async function killProcesses(runId: string | undefined, graceMs = 5000): Promise<ProcessRef[]> {
  let left: ProcessRef[] = [];
  for (let round = 0; round < 3; round++) {
    const found = labProcesses(runId).map((p) => processRef(p.pid)).filter((p): p is ProcessRef => p !== undefined);
    if (!found.length) break;
    left = await stopProcesses(found, { graceMs, killMs: 5000 });
  }
  return left;
}

export function deleteNetns(prefix: string): void {
  for (const ns of labNetns(prefix)) {
    run(['ip', 'netns', 'del', ns], { allowFail: true });
    // A netns file without its bind mount (crash mid-create) is removed by hand.
    if (existsSync(`/run/netns/${ns}`)) rmSync(`/run/netns/${ns}`, { force: true });
  }
  for (const m of labMounts(prefix)) {
    run(['umount', '-l', m], { allowFail: true });
    rmSync(m, { force: true });
  }
}
