// One watch request to the apiserver: a streamed GET with `watch=true`, one JSON event per line,
// authenticated and TLS-configured from the KubeConfig. It owns its two timers (connect, and idle
// once streaming: a stream silent longer than the apiserver's bookmark period is presumed dead) and
// says how it ended, so the informer can tell a normal end (re-open at once) from a failure.
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

export interface WatchRequest {
  kubeconfig: KubeConfig;
  path: string;
  query: Record<string, string | number | boolean>;
  onEvent(type: string, object: unknown): void;
  /** No response headers within this: a failure. */
  connectTimeoutMs?: number;
  /** No byte on an open stream for this long: the stream is closed (a normal end, re-opened by the caller). */
  idleTimeoutMs?: number;
}

export type WatchEnd =
  | { kind: 'closed'; by: 'server' | 'idle-timer' | 'client' }
  | { kind: 'status'; code: number; message: string }
  | { kind: 'error'; err: Error };

export interface OpenWatch {
  /** Resolves once, when the request is over. */
  readonly done: Promise<WatchEnd>;
  abort(): void;
}

export function openWatch(req: WatchRequest): OpenWatch {
  let request: http.ClientRequest | undefined;
  let finish!: (end: WatchEnd) => void;
  let over = false;
  let aborted = false;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<WatchEnd>((resolve) => {
    finish = (end) => {
      if (over) return;
      over = true;
      if (timer) clearTimeout(timer);
      request?.destroy();
      resolve(end);
    };
  });
  const arm = (ms: number, onFire: () => void) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onFire, ms);
  };
  const start = async () => {
    const cluster = req.kubeconfig.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    const url = new URL(cluster.server.replace(/\/$/, '') + req.path);
    url.searchParams.set('watch', 'true');
    for (const [k, v] of Object.entries(req.query)) url.searchParams.set(k, String(v));
    const opts: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
    await req.kubeconfig.applyToHTTPSOptions(opts);
    if (aborted) return finish({ kind: 'closed', by: 'client' });
    const idleMs = req.idleTimeoutMs ?? 90_000;
    const r = (url.protocol === 'http:' ? http : https).request(url, opts, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body = (body + c).slice(0, 4096)));
        res.on('end', () => finish({ kind: 'status', code: res.statusCode ?? 0, message: statusMessage(body) || (res.statusMessage ?? '') }));
        res.on('error', (err) => finish({ kind: 'error', err }));
        return;
      }
      const idle = () => arm(idleMs, () => finish({ kind: 'closed', by: 'idle-timer' }));
      idle();
      res.on('data', idle);
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      // readline re-emits its input's errors; the stream's own handler below decides.
      lines.on('error', () => {});
      lines.on('line', (line) => {
        if (!line.trim()) return;
        let ev: { type?: unknown; object?: unknown };
        try {
          ev = JSON.parse(line) as { type?: unknown; object?: unknown };
        } catch {
          return finish({ kind: 'error', err: new Error(`watch ${req.path}: a line that is not JSON`) });
        }
        if (typeof ev.type === 'string') req.onEvent(ev.type, ev.object);
      });
      res.on('end', () => finish({ kind: 'closed', by: 'server' }));
      res.on('error', (err) => finish(aborted ? { kind: 'closed', by: 'client' } : { kind: 'error', err }));
      res.on('close', () => finish(aborted ? { kind: 'closed', by: 'client' } : res.complete ? { kind: 'closed', by: 'server' } : { kind: 'error', err: new Error('watch stream cut') }));
    });
    request = r;
    arm(req.connectTimeoutMs ?? 30_000, () => finish({ kind: 'error', err: new Error(`watch ${req.path}: no response within ${req.connectTimeoutMs ?? 30_000} ms`) }));
    r.on('error', (err) => finish(aborted ? { kind: 'closed', by: 'client' } : { kind: 'error', err }));
    r.end();
  };
  start().catch((err: unknown) => finish({ kind: 'error', err: err instanceof Error ? err : new Error(String(err)) }));
  return {
    done,
    abort: () => {
      aborted = true;
      finish({ kind: 'closed', by: 'client' });
    },
  };
}

/** The message of a Status body, if the error response carries one. */
function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: unknown };
    return typeof s.message === 'string' ? s.message : '';
  } catch {
    return '';
  }
}
