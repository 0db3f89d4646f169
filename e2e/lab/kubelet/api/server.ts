// The kubelet API of a lab node: HTTPS on a per-node port with the node's serving certificate,
// every request authenticated as the real kubelet's callers are (a client certificate from the
// cluster CA) and allowed only for the apiserver's kubelet-client identity. Serves /healthz,
// /exec, /portForward and /containerLogs as pkg/kubelet/server routes them (with and without the
// pod uid segment); anything else is 404, a malformed request 400, and no failure of one request
// reaches the process.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { parseExecOptions, serveSpdyExec } from './exec.ts';
import type { KubeletHost } from './host.ts';
import { parseLogOptions, serveLogs } from './logs.ts';
import { serveSpdyPortForward } from './port-forward.ts';
import { isSpdyUpgrade, isWebSocketUpgrade, responseReply, socketReply, type Reply } from './upgrade.ts';
import { parseWebSocketPorts, serveWebSocketExec, serveWebSocketPortForward } from './websocket.ts';

export type Route =
  | { kind: 'healthz' }
  | { kind: 'exec'; namespace: string; pod: string; uid?: string; container: string }
  | { kind: 'portForward'; namespace: string; pod: string; uid?: string }
  | { kind: 'containerLogs'; namespace: string; pod: string; container: string }
  | { kind: 'methodNotAllowed'; allowed: string[] }
  | { kind: 'notFound' }
  | { kind: 'bad'; message: string };

/** Which endpoint a request is for. Pure. */
export function route(method: string, pathname: string): Route {
  let parts: string[];
  try {
    parts = pathname.split('/').slice(1).map((p) => decodeURIComponent(p));
  } catch {
    return { kind: 'bad', message: `malformed path ${JSON.stringify(pathname)}` };
  }
  if (parts.at(-1) === '' && parts.length > 1) parts.pop();
  const [root, ...rest] = parts;
  const only = (allowed: string[], r: Route): Route => (allowed.includes(method) ? r : { kind: 'methodNotAllowed', allowed });
  switch (root) {
    case 'healthz':
      return rest.length === 0 ? only(['GET', 'HEAD'], { kind: 'healthz' }) : { kind: 'notFound' };
    case 'exec':
      if (rest.length === 3) return only(['GET', 'POST'], { kind: 'exec', namespace: rest[0]!, pod: rest[1]!, container: rest[2]! });
      if (rest.length === 4) return only(['GET', 'POST'], { kind: 'exec', namespace: rest[0]!, pod: rest[1]!, uid: rest[2]!, container: rest[3]! });
      return { kind: 'notFound' };
    case 'portForward':
      if (rest.length === 2) return only(['GET', 'POST'], { kind: 'portForward', namespace: rest[0]!, pod: rest[1]! });
      if (rest.length === 3) return only(['GET', 'POST'], { kind: 'portForward', namespace: rest[0]!, pod: rest[1]!, uid: rest[2]! });
      return { kind: 'notFound' };
    case 'containerLogs':
      if (rest.length === 3) return only(['GET'], { kind: 'containerLogs', namespace: rest[0]!, pod: rest[1]!, container: rest[2]! });
      return { kind: 'notFound' };
    default:
      return { kind: 'notFound' };
  }
}

export type AuthResult = { kind: 'ok'; user: string } | { kind: 'deny'; status: 401 | 403; message: string };

/** The kubelet's decision on a caller: a verified client certificate whose CN is one of `allowed`. Pure. */
export function authorize(peer: { authorized: boolean; error?: string; cn?: string }, allowed: readonly string[], verb: string, path: string): AuthResult {
  if (!peer.authorized || !peer.cn) {
    return { kind: 'deny', status: 401, message: `Unauthorized: the kubelet API needs a client certificate from the cluster CA${peer.error ? ` (${peer.error})` : ''}` };
  }
  if (!allowed.includes(peer.cn)) return { kind: 'deny', status: 403, message: `Forbidden (user=${peer.cn}, verb=${verb}, path=${path})` };
  return { kind: 'ok', user: peer.cn };
}

export interface KubeletServerOptions {
  host: KubeletHost;
  port: number;
  bindAddress: string;
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  /** Client-certificate common names allowed to call (the apiserver's kubelet client). */
  allowedClients: readonly string[];
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export async function startKubeletServer(opts: KubeletServerOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const { host, log } = opts;
  const server = createServer({
    cert: readFileSync(opts.certFile), key: readFileSync(opts.keyFile), ca: readFileSync(opts.clientCaFile),
    requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2',
  });

  const peerOf = (socket: TLSSocket): { authorized: boolean; error?: string; cn?: string } => {
    const cert = socket.getPeerCertificate();
    const cn = cert && typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
    const error = socket.authorizationError ? String(socket.authorizationError) : cert && Object.keys(cert).length ? undefined : 'no certificate presented';
    return { authorized: socket.authorized, ...(error ? { error } : {}), ...(cn ? { cn } : {}) };
  };

  const handle = (req: IncomingMessage, reply: Reply, upgrade?: { socket: Duplex; head: Buffer }, res?: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const method = req.method ?? 'GET';
    const auth = authorize(peerOf(req.socket as TLSSocket), opts.allowedClients, method, url.pathname);
    if (auth.kind === 'deny') {
      log('kubelet API request refused', { path: url.pathname, status: auth.status, reason: auth.message });
      return reply.error(auth.status, auth.message);
    }
    const r = route(method, url.pathname);
    switch (r.kind) {
      case 'bad':
        return reply.error(400, r.message);
      case 'notFound':
        return reply.error(404, '404 page not found');
      case 'methodNotAllowed':
        return reply.error(405, `method ${method} not allowed`, { Allow: r.allowed.join(', ') });
      case 'healthz':
        if (!res) return reply.error(400, 'healthz is not an upgrade endpoint');
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return;
      case 'containerLogs': {
        if (!res) return reply.error(400, 'containerLogs is not an upgrade endpoint');
        const o = parseLogOptions(url.searchParams);
        if ('status' in o) return reply.error(o.status, o.message);
        const pod = host.findPod(r.namespace, r.pod);
        if (!pod) return reply.error(404, `pod "${r.pod}" does not exist`);
        const c = host.findContainer(r.namespace, r.pod, r.container);
        if (!c) return reply.error(404, `container "${r.container}" not found in pod "${r.pod}"`);
        serveLogs(res, c, o, () => host.findContainer(r.namespace, r.pod, r.container));
        return;
      }
      case 'exec': {
        const o = parseExecOptions(url.searchParams);
        if ('error' in o) return reply.error(400, o.error);
        const pod = host.findPod(r.namespace, r.pod);
        if (!pod || (r.uid && r.uid !== pod.uid)) return reply.error(404, 'pod does not exist');
        const c = host.findContainer(r.namespace, r.pod, r.container);
        if (!c) return reply.error(404, `container "${r.container}" not found in pod "${r.pod}"`);
        if (c.state.kind !== 'running') return reply.error(400, `container ${r.container} is not running (${c.state.kind})`);
        if (!upgrade) return reply.error(400, 'unable to upgrade: missing upgrade headers in request');
        log('exec', { pod: `${r.namespace}/${r.pod}`, container: r.container, command: o.command });
        if (isWebSocketUpgrade(req.headers)) {
          serveWebSocketExec(req, upgrade.socket, upgrade.head, reply, c, o, log).catch((err: Error) => {
            log('exec failed', { pod: `${r.namespace}/${r.pod}`, error: err.message });
            upgrade.socket.destroy();
          });
          return;
        }
        if (!isSpdyUpgrade(req.headers)) return reply.error(400, 'unable to upgrade: missing upgrade headers in request');
        serveSpdyExec(req, upgrade.socket, upgrade.head, reply, c, o, log);
        return;
      }
      case 'portForward': {
        const pod = host.findPod(r.namespace, r.pod);
        if (!pod || (r.uid && r.uid !== pod.uid)) return reply.error(404, 'pod does not exist');
        if (upgrade && isWebSocketUpgrade(req.headers)) {
          const ports = parseWebSocketPorts(url.searchParams);
          if (!Array.isArray(ports)) return reply.error(400, ports.error);
          serveWebSocketPortForward(req, upgrade.socket, upgrade.head, reply, pod, ports, log).catch((err: Error) => {
            log('port-forward failed', { pod: `${r.namespace}/${r.pod}`, error: err.message });
            upgrade.socket.destroy();
          });
          return;
        }
        if (!upgrade || !isSpdyUpgrade(req.headers)) return reply.error(400, 'unable to upgrade: missing upgrade headers in request');
        serveSpdyPortForward(req, upgrade.socket, upgrade.head, reply, pod, log);
        return;
      }
    }
  };

  const guard = (what: string, fn: () => void, onFail: (err: Error) => void): void => {
    try {
      fn();
    } catch (err) {
      log('kubelet API request failed', { what, error: (err as Error).stack ?? String(err) });
      onFail(err as Error);
    }
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    guard(req.url ?? '', () => handle(req, responseReply(res), undefined, res), (err) => responseReply(res).error(500, err.message));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {
      /* the peer went away */
    });
    guard(req.url ?? '', () => handle(req, socketReply(socket), { socket, head }), (err) => socketReply(socket).error(500, err.message));
  });
  server.on('tlsClientError', (err) => log('kubelet API TLS handshake failed', { error: err.message }));
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bindAddress, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : opts.port);
    });
  });
  return {
    server, port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
