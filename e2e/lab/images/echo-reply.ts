// What lab/http-echo answers to a request: a pure plan (status, delay, JSON body) over plain data,
// so the routes are table-tested without sockets.
import type { PodIdentity } from './program.ts';

export const MAX_DELAY_MS = 10_000;

export interface EchoRequest {
  method: string;
  /** Request target as sent (path and query). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  bodyBytes: number;
}

export interface EchoBody {
  pod: string;
  namespace: string;
  node: string;
  ip: string;
  labels: { app: string | null; version: string | null };
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  protocol: EchoRequest['protocol'];
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  bodyBytes: number;
}

export interface EchoPlan {
  status: number;
  delayMs: number;
  /** Undefined for statuses that must not carry a body (204, 205, 304). */
  body: EchoBody | undefined;
}

const NO_BODY = new Set([204, 205, 304]);

/**
 * Routes: `/status/<code>` (200-599) answers with that status, `/delay/<ms>` waits (at most
 * MAX_DELAY_MS), `/healthz` and everything else answer 200. A malformed code or delay is a 400.
 */
export function planEcho(req: EchoRequest, id: PodIdentity): EchoPlan {
  const pathname = req.path.split('?', 1)[0] ?? '';
  let status = 200;
  let delayMs = 0;
  const statusMatch = /^\/status\/([^/]*)\/?$/.exec(pathname);
  const delayMatch = /^\/delay\/([^/]*)\/?$/.exec(pathname);
  if (statusMatch) {
    const code = Number(statusMatch[1]);
    status = Number.isInteger(code) && code >= 200 && code <= 599 ? code : 400;
  } else if (delayMatch) {
    const ms = Number(delayMatch[1]);
    if (delayMatch[1] !== '' && Number.isFinite(ms) && ms >= 0) delayMs = Math.min(Math.round(ms), MAX_DELAY_MS);
    else status = 400;
  }
  const body: EchoBody = {
    pod: id.pod,
    namespace: id.namespace,
    node: id.node,
    ip: id.ip,
    labels: { app: id.labels.app ?? null, version: id.labels.version ?? null },
    method: req.method,
    path: req.path,
    headers: req.headers,
    protocol: req.protocol,
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
    localPort: req.localPort,
    bodyBytes: req.bodyBytes,
  };
  return { status, delayMs, body: NO_BODY.has(status) ? undefined : body };
}
