// Running netfilter and iproute2 tools inside a network namespace (nsenter --net=<path>), with
// stdin for restore scripts, a timeout, and failures turned into RedirectError carrying stderr.
// Synchronously (tests, one-shot tools) or on the event loop (the node agent, which keeps serving
// ZDS, the plugin socket and its informers while a tool runs). The only module here that spawns
// processes.
import { spawn, spawnSync } from 'node:child_process';
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
/** A restore script or an nft listing of a busy host can be large. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

function nsenterCommand(netns: NetnsPath, argv: readonly string[]): string[] {
  if (!netns.path) throw new RedirectError('INVALID_OPTIONS', 'netns path is empty');
  return ['nsenter', `--net=${netns.path}`, '--', ...argv];
}

/** Runs argv inside the netns; returns stdout, throws RedirectError on any failure. */
export function execInNetns(netns: NetnsPath, argv: readonly string[], stdin?: string): string {
  const command = nsenterCommand(netns, argv);
  const r = spawnSync(command[0]!, command.slice(1), {
    input: stdin ?? '',
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    maxBuffer: MAX_OUTPUT_BYTES,
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

/** execInNetns without blocking the event loop: resolves with stdout, rejects with RedirectError. */
export function execInNetnsAsync(netns: NetnsPath, argv: readonly string[], stdin?: string): Promise<string> {
  let command: string[];
  try {
    command = nsenterCommand(netns, argv);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], timeout: TIMEOUT_MS, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let failure: Error | undefined;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES) {
        failure ??= new Error(`output larger than ${MAX_OUTPUT_BYTES} bytes`);
        child.kill('SIGKILL');
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.on('error', (e) => {
      failure ??= e;
    });
    // A tool that exits without reading its stdin gives EPIPE here; its exit status tells the story.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? '');
    child.on('close', (status, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      const what = `${argv.join(' ')} in ${netns.path}`;
      if (failure) {
        reject(new RedirectError('SPAWN_FAILED', `${what}: ${failure.message}`, { command, stderr, cause: failure }));
      } else if (status !== 0) {
        // The timeout kills with SIGKILL; as with spawnSync that reads as a spawn failure.
        const how = signal ? `killed by ${signal}` : `exited with ${status}`;
        reject(new RedirectError(signal === 'SIGKILL' ? 'SPAWN_FAILED' : 'COMMAND_FAILED', `${what} ${how}`, { command, status, stderr }));
      } else {
        resolve(Buffer.concat(out).toString('utf8'));
      }
    });
  });
}
