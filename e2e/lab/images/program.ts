// The container contract every lab image follows: identity from the kubelet stand-in's environment,
// JSON-line logs on stdout, one `{"msg":"ready","port":N}` line once serving, clean exit on SIGTERM.
import type { Server, Socket } from 'node:net';

export interface PodIdentity {
  pod: string;
  namespace: string;
  node: string;
  ip: string;
  labels: Record<string, string>;
}

export function podIdentity(env: NodeJS.ProcessEnv = process.env): PodIdentity {
  return {
    pod: env.POD_NAME ?? '',
    namespace: env.POD_NAMESPACE ?? '',
    node: env.NODE_NAME ?? '',
    ip: env.POD_IP ?? '',
    labels: parseLabels(env.POD_LABELS),
  };
}

/** POD_LABELS is a JSON object; anything else (absent, malformed, non-string values) reads as no labels. */
export function parseLabels(text: string | undefined): Record<string, string> {
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
    return out;
  } catch {
    return {};
  }
}

/** `$PORT` as a TCP port; 0 means ephemeral (the real port goes in the ready line). */
export function portFromEnv(fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PORT;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    log('error', 'invalid PORT', { port: raw });
    process.exit(2);
  }
  return n;
}

// stdout is a pipe under the kubelet stand-in, and pipes are written synchronously on Linux, so
// lines are not lost when the process exits right after logging.
export function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

/** Exactly the line the kubelet stand-in waits for before it marks the pod Ready. */
export function ready(port: number | null): void {
  process.stdout.write(`${JSON.stringify({ msg: 'ready', port })}\n`);
}

/**
 * Listens on `BIND_ADDRESS` if set, else on `::` (dual-stack), falling back to 0.0.0.0 where the netns
 * has IPv6 disabled. Resolves with the bound port.
 */
export async function listen(server: Server, port: number, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const hosts = env.BIND_ADDRESS ? [env.BIND_ADDRESS] : ['::', '0.0.0.0'];
  let lastErr: unknown;
  for (const host of hosts) {
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen({ host, port }, () => {
          server.off('error', onError);
          resolve();
        });
      });
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('server has no TCP address');
      return addr.port;
    } catch (err) {
      lastErr = err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') break;
    }
  }
  throw lastErr;
}

/**
 * On SIGTERM/SIGINT: run `stop` (close listeners, end connections), then exit 0 as soon as it
 * settles, or after `graceMs` regardless, so the pod never outlives the kubelet's grace period.
 */
export function exitOnSignal(stop: () => Promise<void> | void, graceMs = 800): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal });
    setTimeout(() => process.exit(0), graceMs).unref();
    Promise.resolve()
      .then(stop)
      .catch((err: unknown) => log('warn', 'stop failed', { error: (err as Error).message }))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Strips the IPv4-mapped prefix a dual-stack socket reports, so addresses compare with pod IPs. */
export function plainAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/** Shutdown helper: gives open sockets a moment to finish, then cuts the rest (bounded, < 1 s). */
export async function drainSockets(sockets: Set<Socket>, cutAfterMs = 300, waitMs = 600): Promise<void> {
  const cut = setTimeout(() => {
    for (const s of sockets) s.destroy();
  }, cutAfterMs);
  const deadline = Date.now() + waitMs;
  while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  clearTimeout(cut);
}

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SNIFF_TIMEOUT_MS = 30_000;

/** The two servers behind one plaintext port: HTTP/1.1 and h2c (prior knowledge). */
export interface HttpServers {
  http1: { emit(event: 'connection', socket: Socket): boolean };
  http2: { emit(event: 'connection', socket: Socket): boolean };
}

/**
 * Reads until the first bytes either are or cannot be the HTTP/2 preface, then hands the socket to
 * the HTTP/2 or the HTTP/1.1 server. A socket that says nothing for 30 s (or, with `destroyOnEnd`,
 * ends before deciding) is destroyed.
 */
export function dispatchHttp(socket: Socket, servers: HttpServers, opts: { destroyOnEnd?: boolean } = {}): void {
  let head: Buffer = Buffer.alloc(0);
  const decide = (kind: 'h2' | 'http1'): void => {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.setTimeout(0);
    if (kind === 'h2') {
      // The http2 session feeds itself whatever is buffered on the socket before it reads the handle.
      socket.pause();
      socket.unshift(head);
      servers.http2.emit('connection', socket);
    } else {
      // The http server's parser reads the native handle directly from here on; it never sees the
      // readable buffer, so the bytes already read are handed to it as a 'data' event.
      servers.http1.emit('connection', socket);
      socket.emit('data', head);
    }
  };
  const onData = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const n = Math.min(head.length, HTTP2_PREFACE.length);
    if (!head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) decide('http1');
    else if (n === HTTP2_PREFACE.length) decide('h2');
  };
  const onEnd = (): void => void socket.destroy();
  socket.on('data', onData);
  if (opts.destroyOnEnd) socket.on('end', onEnd);
  socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
}
