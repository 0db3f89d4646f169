// What the benches read of a process and of the machine: CPU seconds (utime + stime) and resident
// size from /proc, and the one-line description of the host that heads every table.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';

let clockTicks: number | undefined;

function hz(): number {
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return clockTicks;
}

/** utime + stime of a /proc/<pid>/stat line, in clock ticks (the command may hold spaces and parens). */
export function statTicks(statLine: string): number {
  const f = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line (11 and 12 after the command).
  return Number(f[11]) + Number(f[12]);
}

/** CPU seconds `pid` has used so far (user + system, all its threads). */
export function cpuSeconds(pid: number): number {
  return statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / hz();
}

/** A `<field>: N kB` line of a /proc/<pid>/status text, in MiB; NaN when absent (a zombie, a kernel thread). */
function statusMiB(statusText: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(statusText);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** `VmRSS` of a /proc/<pid>/status text, in MiB; NaN when absent. */
export function vmRssMiB(statusText: string): number {
  return statusMiB(statusText, 'VmRSS');
}

export interface RssParts {
  /** VmRSS, MiB. */
  rss: number;
  /** RssAnon: the process's own memory (V8's heap, malloc), MiB. */
  anon: number;
  /** RssFile: pages of mapped files (the node binary's code and data), shared with every process mapping them, MiB. */
  file: number;
}

/** VmRSS split into anonymous and file-backed pages, from a /proc/<pid>/status text. */
export function rssParts(statusText: string): RssParts {
  return { rss: vmRssMiB(statusText), anon: statusMiB(statusText, 'RssAnon'), file: statusMiB(statusText, 'RssFile') };
}

export function rssMiB(pid: number): number {
  return vmRssMiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** `AMD EPYC x2, Linux 6.x, Node v24.x`: what the numbers were measured on. */
export function hostLine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'} x${cpu.length}, Linux ${release()}, Node ${process.version}`;
}
