// Starting the lab's long-running processes detached, logging to files, tagged with the run id.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
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
