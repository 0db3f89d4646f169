// A tiny HTTP server scaffold for the operational endpoints (admin, metrics, readiness): exact-path
// routes, JSON and text helpers, and errors mapped to 500 without taking the process down.
import type http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

// Loaded with require, not `import`: an ESM import of node:http reads every export, and the lazy
// `WebSocket`/`MessageEvent` getters among them load undici (with its llhttp WebAssembly), about
// 13 MiB of RSS in every process that serves /metrics (bench/README.md).
const { createServer } = createRequire(import.meta.url)('node:http') as typeof http;

export type RouteResult = { status?: number; contentType?: string; body: string | Buffer };
export type Route = (req: http.IncomingMessage, url: URL) => RouteResult | Promise<RouteResult>;

export interface OpsServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export function json(value: unknown, status = 200): RouteResult {
  return { status, contentType: 'application/json', body: `${JSON.stringify(value, null, 2)}\n` };
}

export function text(body: string, status = 200, contentType = 'text/plain; charset=utf-8'): RouteResult {
  return { status, contentType, body };
}

export async function startOpsServer(host: string, port: number, routes: Record<string, Route>, onError?: (err: Error) => void): Promise<OpsServer> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routes[url.pathname];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such path ${url.pathname}\n`);
      return;
    }
    Promise.resolve()
      .then(() => route(req, url))
      .then((r) => {
        res.writeHead(r.status ?? 200, { 'content-type': r.contentType ?? 'text/plain; charset=utf-8' }).end(r.body);
      })
      .catch((err: Error) => {
        onError?.(err);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${err.message}\n`);
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
