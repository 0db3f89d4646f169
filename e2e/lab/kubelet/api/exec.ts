// `/exec/{ns}/{pod}/{container}`: runs a command as the container would (in the pod's netns, with
// the container's env and cwd) and streams it over the remotecommand protocols the real kubelet
// serves over SPDY (v4.channel.k8s.io down to channel.k8s.io; v5 is WebSocket-only there, and the
// apiserver translates a client's WebSocket v5 into SPDY towards the kubelet). The exit status goes
// on the error stream as the kubelet writes it: a metav1.Status (v4) or a plain message (v1-v3).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isAbsolute, join } from 'node:path';
import { REPO_ROOT } from '../../config.ts';
import { SpdySession, type SpdyStream } from './spdy.ts';
import { negotiate, writeSpdySwitch, PROTOCOL_HEADER, type Reply } from './upgrade.ts';
import type { ContainerTarget } from './host.ts';

/** What the kubelet negotiates over SPDY, in its order (remotecommand SupportedStreamingProtocols). */
export const SPDY_EXEC_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
const STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface ExecOptions {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** The query as the kubelet reads it (`input`, `output`, `error`, `tty` = "1"; repeated `command`). Pure. */
export function parseExecOptions(q: URLSearchParams): ExecOptions | { error: string } {
  const tty = q.get('tty') === '1';
  const stdin = q.get('input') === '1';
  const stdout = q.get('output') === '1';
  // As the kubelet does: a TTY merges stderr into stdout.
  const stderr = q.get('error') === '1' && !tty;
  if (!stdin && !stdout && !stderr) return { error: 'you must specify at least 1 of stdin, stdout, stderr' };
  const command = q.getAll('command');
  if (!command.length || !command[0]) return { error: 'you must specify a command (query parameter "command")' };
  return { command, stdin, stdout, stderr, tty };
}

/**
 * The argv to run for `command`: a name the image's catalogue entry lists under `commands` runs
 * that lab program with the project's node; any other name is a host binary found on PATH. Pure
 * apart from the file-system look-up of PATH entries.
 */
export function resolveCommand(command: string[], commands: Readonly<Record<string, string>>, path: string | undefined): { argv: string[] } | { error: string } {
  const [name, ...args] = command;
  if (!name) return { error: 'empty command' };
  const program = commands[name];
  if (program !== undefined) return { argv: [process.execPath, isAbsolute(program) ? program : join(REPO_ROOT, program), ...args] };
  if (name.includes('/')) return executable(name) ? { argv: command } : { error: `exec: "${name}": stat ${name}: no such file or directory` };
  for (const dir of (path ?? '').split(':').filter(Boolean)) {
    const file = join(dir, name);
    if (executable(file)) return { argv: [file, ...args] };
  }
  return { error: `exec: "${name}": executable file not found in $PATH` };
}

function executable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export type ExecOutcome = { kind: 'exited'; code: number } | { kind: 'failed'; message: string };

/** The metav1.Status the kubelet reports for an outcome (Go's JSON of it: empty fields left out). Pure. */
export function execStatus(outcome: ExecOutcome, command: string[]): Record<string, unknown> {
  if (outcome.kind === 'exited' && outcome.code === 0) return { metadata: {}, status: 'Success' };
  if (outcome.kind === 'exited') {
    return {
      metadata: {}, status: 'Failure',
      message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${outcome.code}`,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(outcome.code) }] },
    };
  }
  const err = `error executing command in container: ${outcome.message}`;
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: ${err}`, reason: 'InternalError', details: { causes: [{ message: err }] }, code: 500 };
}

/** The bytes for the error stream: v4 writes the Status as JSON; older protocols only a failure's message. Pure. */
export function errorStreamBytes(protocol: string, status: Record<string, unknown>): Buffer {
  if (protocol === 'v4.channel.k8s.io') return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? Buffer.alloc(0) : Buffer.from(String(status.message));
}

type Log = (msg: string, fields?: Record<string, unknown>) => void;

export interface ExecStreams {
  stdin?: Duplex;
  stdout?: Duplex;
  stderr?: Duplex;
  /** Writes the final status; the caller then ends the connection. */
  finish: (outcome: ExecOutcome) => Promise<void>;
  /** Resolves when the client went away. */
  gone: Promise<void>;
}

/** Runs the command with the client's streams; resolves after the status is written. */
export async function runExec(target: ContainerTarget, opts: ExecOptions, streams: ExecStreams, log: Log): Promise<void> {
  const resolved = resolveCommand(opts.command, target.commands, target.env.PATH);
  if ('error' in resolved) {
    await streams.finish({ kind: 'failed', message: resolved.error });
    return;
  }
  // A TTY is util-linux `script` running the command on a fresh pty (no resize: the lab has no pty
  // library); without `script` the command gets pipes.
  const script = opts.tty ? resolveCommand(['script'], {}, target.env.PATH) : undefined;
  const command = script && 'argv' in script ? [script.argv[0]!, '-qfec', resolved.argv.map(shellQuote).join(' '), '/dev/null'] : resolved.argv;
  const argv = target.netnsPath ? ['nsenter', `--net=${target.netnsPath}`, '--', ...command] : command;
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), {
      env: opts.tty ? { TERM: 'xterm', ...target.env } : target.env, cwd: target.cwd, detached: true,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    await streams.finish({ kind: 'failed', message: (err as Error).message });
    return;
  }
  const kill = (): void => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  void streams.gone.then(kill);
  if (child.stdin && streams.stdin) {
    child.stdin.on('error', () => {
      /* the command closed its stdin early */
    });
    streams.stdin.pipe(child.stdin);
  }
  const pipeOut = (from: NodeJS.ReadableStream | null, to: Duplex | undefined): Promise<void> => new Promise((resolve) => {
    if (!from) return resolve();
    if (!to) {
      from.on('end', resolve);
      (from as NodeJS.ReadableStream & { resume(): void }).resume();
      return;
    }
    from.on('data', (d: Buffer) => {
      if (!to.destroyed && !to.write(d)) from.pause();
    });
    to.on('drain', () => from.resume());
    from.on('end', resolve);
    from.on('error', () => resolve());
  });
  const outputs = Promise.all([pipeOut(child.stdout, streams.stdout), pipeOut(child.stderr, opts.tty ? streams.stdout : streams.stderr)]);
  const outcome = await new Promise<ExecOutcome>((resolve) => {
    child.on('error', (err) => resolve({ kind: 'failed', message: err.message }));
    child.on('exit', (code, signal) => resolve({ kind: 'exited', code: code ?? 128 + signalNumber(signal) }));
  });
  await outputs;
  log('exec finished', { pod: `${target.namespace}/${target.name}`, container: target.container, command: opts.command, outcome });
  await streams.finish(outcome);
}

/** One word for `sh -c`. Pure. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };
  return (signal && table[signal]) ?? 0;
}

const endStream = (s: Duplex | undefined): Promise<void> => new Promise((resolve) => {
  if (!s || s.destroyed || s.writableEnded) return resolve();
  s.end(() => resolve());
  s.once('close', () => resolve());
});

/** The SPDY form: handshake, the client's streams (error, stdin, stdout, stderr, resize), then runExec. */
export function serveSpdyExec(req: IncomingMessage, socket: Duplex, head: Buffer, reply: Reply, target: ContainerTarget, opts: ExecOptions, log: Log): void {
  const n = negotiate(req.headers[PROTOCOL_HEADER], SPDY_EXEC_PROTOCOLS);
  if (n.kind === 'error') return reply.error(n.status, n.message, n.headers);
  const protocol = n.protocol;
  log('exec stream', { pod: `${target.namespace}/${target.name}`, transport: 'SPDY/3.1', protocol, offered: req.headers[PROTOCOL_HEADER] });
  writeSpdySwitch(socket, protocol);
  const byType = new Map<string, SpdyStream>();
  const resize = opts.tty && protocol !== 'v2.channel.k8s.io' && protocol !== 'channel.k8s.io';
  const expected = 1 + Number(opts.stdin) + Number(opts.stdout) + Number(opts.stderr) + Number(resize);
  let started = false;
  const session = new SpdySession(socket as import('node:net').Socket, head, {
    onStream: (s) => {
      const type = s.headers.streamtype ?? '';
      if (!['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type)) return `unexpected stream type: ${JSON.stringify(type)}`;
      byType.set(type, s);
      s.on('error', () => {
        /* reset by the peer */
      });
      // Streams the client only reads are drained of anything it might still send.
      if (type !== 'stdin') s.resume();
      if (!started && byType.size >= expected) {
        started = true;
        clearTimeout(timer);
        queueMicrotask(start);
      }
      return true;
    },
    onError: (err) => log('exec stream error', { pod: `${target.namespace}/${target.name}`, error: err.message }),
  });
  const timer = setTimeout(() => {
    log('exec: timed out waiting for client to create streams', { pod: `${target.namespace}/${target.name}` });
    session.destroy();
  }, STREAM_CREATION_TIMEOUT_MS);
  void session.done.then(() => clearTimeout(timer));
  const start = (): void => {
    const errorStream = byType.get('error');
    const streams: ExecStreams = {
      ...(opts.stdin ? { stdin: byType.get('stdin') } : {}),
      ...(opts.stdout ? { stdout: byType.get('stdout') } : {}),
      ...(opts.stderr ? { stderr: byType.get('stderr') } : {}),
      gone: session.done,
      finish: async (outcome) => {
        await Promise.all([endStream(byType.get('stdout')), endStream(byType.get('stderr'))]);
        if (errorStream && !errorStream.destroyed) {
          await new Promise<void>((resolve) => errorStream.write(errorStreamBytes(protocol, execStatus(outcome, opts.command)), () => resolve()));
          await endStream(errorStream);
        }
        session.close();
      },
    };
    runExec(target, opts, streams, log).catch((err: Error) => {
      log('exec failed', { pod: `${target.namespace}/${target.name}`, error: err.message });
      session.destroy();
    });
  };
}
