// The Bookinfo programs' sockets: one HTTP/1.1 server per program (the lab image contract: listen on
// $PORT, log JSON, print the ready line, stop on SIGTERM), JSON replies, and a JSON GET with a
// deadline for the calls between the services.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CallResult } from './bookinfo-pages.ts';
import { drainSockets, exitOnSignal, listen, log, podIdentity, portFromEnv, ready } from './program.ts';

export type Handler = (req: IncomingMessage, url: URL, res: ServerResponse) => void | Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves `handler` on $PORT (default 9080) until SIGTERM; `/health` answers 200 for every program. */
export async function serveBookinfo(name: string, handler: Handler): Promise<void> {
  const id = podIdentity();
  const sockets = new Set<Socket>();
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    req.resume();
    if (url.pathname === '/health') return sendJson(res, 200, { status: `${name} is healthy` });
    Promise.resolve()
      .then(() => handler(req, url, res))
      .catch((err: unknown) => {
        log('error', 'handler failed', { path: url.pathname, error: (err as Error).message });
        sendJson(res, 500, { error: 'internal error' });
      });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {
      /* a reset peer; 'close' follows */
    });
  });
  exitOnSignal(async () => {
    server.close();
    server.closeIdleConnections();
    await drainSockets(sockets);
  });
  const port = await listen(server, portFromEnv(9080));
  log('info', `${name} listening`, { port, pod: id.pod, namespace: id.namespace, version: id.labels.version ?? null });
  ready(port);
}

/**
 * GET `url` and parse the JSON answer; the whole exchange must finish within `timeoutMs` (a late
 * answer is a failure and the request is cut). Never throws.
 */
export function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<CallResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: CallResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    // A fresh connection per call: a cut request never leaves a half-read socket in a pool.
    const req = request(url, { method: 'GET', headers: { accept: 'application/json', ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => done({ kind: 'failed', reason: 'reset', status: res.statusCode, ms: ms() }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON: kept as text, the caller decides */
        }
        done({ kind: 'ok', status: res.statusCode ?? 0, body, ms: ms() });
      });
    });
    const timer = setTimeout(() => {
      done({ kind: 'failed', reason: `timeout after ${timeoutMs} ms`, ms: ms() });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'failed', reason: err.code ?? err.message, ms: ms() }));
    req.end();
  });
}

/** A non-negative integer from env, else the default. */
export function envMs(name: string, dflt: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  const n = Number(raw);
  return raw !== undefined && raw !== '' && Number.isInteger(n) && n >= 0 ? n : dflt;
}
