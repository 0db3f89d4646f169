// Starting the lab's long-running processes detached, logging to files, tagged with the run id;
// stopping them and waiting until they are really gone.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { LAB_RUN_ENV } from './config.ts';
import type { LabProcess } from './state.ts';

export function startDaemon(name: string, cmd: string[], log: string, runId: string, env: NodeJS.ProcessEnv = {}): LabProcess {
  const [file, ...args] = cmd;
  if (!file) throw new Error(`startDaemon ${name}: empty command`);
  const fd = openSync(log, 'a');
  try {
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env, [LAB_RUN_ENV]: runId },
    });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${file})`);
    child.unref();
    return { name, pid: child.pid, log };
  } finally {
    closeSync(fd);
  }
}

/** Last lines of a log, for error messages. */
export function tail(path: string, lines = 20): string {
  if (!existsSync(path)) return '';
  const all = readFileSync(path, 'utf8').trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** A process as found at one moment: its start time tells it apart from a later one with the same pid. */
export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot). */
  start: string;
}

const statFields = (stat: string): string[] => stat.slice(stat.lastIndexOf(')') + 2).split(' ');

/** The process now at `pid`, or undefined if there is none. */
export function processRef(pid: number): ProcessRef | undefined {
  try {
    const start = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[19];
    return start ? { pid, start } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Gone: no such process (or the pid now belongs to a newer one), or every thread of it has exited.
 * A process whose main thread exited first (its /proc cmdline and environ already empty, its state
 * Z) can still have threads tearing down and holding its sockets: it is not gone until they are.
 */
export function processGone(p: ProcessRef): boolean {
  const now = processRef(p.pid);
  if (!now || now.start !== p.start) return true;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${p.pid}/task`);
  } catch {
    return true;
  }
  return tasks.every((t) => {
    try {
      const state = statFields(readFileSync(`/proc/${p.pid}/task/${t}/stat`, 'utf8'))[0];
      return state === 'Z' || state === 'X';
    } catch {
      return true;
    }
  });
}

async function waitGone(procs: ProcessRef[], deadlineMs: number): Promise<ProcessRef[]> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const left = procs.filter((p) => !processGone(p));
    if (!left.length || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function signal(procs: ProcessRef[], sig: NodeJS.Signals): void {
  for (const p of procs) {
    // Only the process we found: its pid may belong to another one by now.
    if (processGone(p)) continue;
    try {
      process.kill(p.pid, sig);
    } catch {
      /* gone */
    }
  }
}

/**
 * SIGTERM, wait up to `graceMs` for every one to be gone, SIGKILL the rest, wait up to `killMs`.
 * Returns those still there (none, unless a process is stuck in the kernel).
 */
export async function stopProcesses(procs: ProcessRef[], opts: { graceMs?: number; killMs?: number } = {}): Promise<ProcessRef[]> {
  signal(procs, 'SIGTERM');
  const left = await waitGone(procs, opts.graceMs ?? 5000);
  if (!left.length) return [];
  signal(left, 'SIGKILL');
  return waitGone(left, opts.killMs ?? 5000);
}
