// Running netfilter and iproute2 tools inside a network namespace (nsenter --net=<path>), with
// stdin for restore scripts, a timeout, and failures turned into RedirectError carrying stderr.
// The only module here that spawns processes.
import { spawnSync } from 'node:child_process';
import { RedirectError } from './errors.ts';

/** A network namespace by path: /run/netns/<name> or /proc/<pid>/ns/net. */
export interface NetnsPath {
  path: string;
}

export interface CommandStep {
  argv: string[];
  stdin?: string;
}

const TIMEOUT_MS = 30_000;

/** Runs argv inside the netns; returns stdout, throws RedirectError on any failure. */
export function execInNetns(netns: NetnsPath, argv: readonly string[], stdin?: string): string {
  if (!netns.path) throw new RedirectError('INVALID_OPTIONS', 'netns path is empty');
  const command = ['nsenter', `--net=${netns.path}`, '--', ...argv];
  const r = spawnSync(command[0]!, command.slice(1), {
    input: stdin ?? '',
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    // A restore script or an nft listing of a busy host can be large.
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) {
    throw new RedirectError('SPAWN_FAILED', `${argv.join(' ')} in ${netns.path}: ${r.error.message}`, { command, stderr: r.stderr ?? '', cause: r.error });
  }
  if (r.status !== 0) {
    const how = r.signal ? `killed by ${r.signal}` : `exited with ${r.status}`;
    throw new RedirectError('COMMAND_FAILED', `${argv.join(' ')} in ${netns.path} ${how}`, { command, status: r.status, stderr: r.stderr });
  }
  return r.stdout;
}

/** Runs each step in order; the first failure stops the rest. */
export function execSteps(netns: NetnsPath, steps: readonly CommandStep[]): void {
  for (const s of steps) execInNetns(netns, s.argv, s.stdin);
}
