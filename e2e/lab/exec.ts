// Running host commands for the lab: captured output, typed failures, optional netns and stdin.
import { spawn, spawnSync } from 'node:child_process';

export class CommandError extends Error {
  readonly code = 'LAB_COMMAND_FAILED';
  readonly command: string[];
  readonly status: number | null;
  readonly stderr: string;
  constructor(command: string[], status: number | null, stderr: string) {
    super(`${command.join(' ')} exited with ${status}: ${stderr.trim().slice(0, 2000)}`);
    this.command = command;
    this.status = status;
    this.stderr = stderr;
  }
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Do not throw on a non-zero exit. */
  allowFail?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Synchronous: for short setup commands (ip, iptables, openssl). */
export function run(cmd: string[], opts: RunOptions = {}): RunResult {
  const [file, ...args] = cmd;
  if (!file) throw new Error('run: empty command');
  const r = spawnSync(file, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new CommandError(cmd, null, r.error.message);
  const res = { status: r.status, stdout: r.stdout, stderr: r.stderr };
  if (r.status !== 0 && !opts.allowFail) throw new CommandError(cmd, r.status, r.stderr || r.stdout);
  return res;
}

/** Asynchronous variant, for commands run while the event loop must keep serving (kubelet). */
export function runAsync(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = cmd;
  if (!file) return Promise.reject(new Error('runAsync: empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(cmd, null, err.message));
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      if (status !== 0 && !opts.allowFail) reject(new CommandError(cmd, status, stderr || stdout));
      else resolve({ status, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Prefix for a command run inside a named network namespace (no mount namespace games). */
export function inNetns(netns: string, cmd: string[]): string[] {
  return ['nsenter', `--net=/run/netns/${netns}`, '--', ...cmd];
}
