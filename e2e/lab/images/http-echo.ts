// lab/http-echo: answers every request with who served it and what it received, over HTTP/1.1 and
// cleartext HTTP/2 (prior knowledge) on the same port. Each connection's first bytes pick the
// protocol: the HTTP/2 client preface goes to an http2 server, anything else to an http server.
// An HTTP/1.1 `Upgrade: h2c` is ignored (answered in HTTP/1.1), which RFC 9110 allows.
// A gRPC request (HTTP/2, content-type application/grpc*) is a bidirectional echo: every byte of
// the request body is streamed back as it arrives (so length-prefixed messages come back one by one),
// then trailers `grpc-status: 0` and `x-echo-pod: <pod>` name who answered. `POST /echo` streams
// the request body back the same way over HTTP/1.1 or HTTP/2 (for body-integrity checks).
//
// Env: PORT (default 8080, 0 = ephemeral), BIND_ADDRESS (default `::`), LOG_REQUESTS=1 to log each
// request (off by default: the echo server is also a benchmark baseline).
import { createServer as createHttpServer, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import {
  createServer as createH2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { planEcho, type EchoRequest } from './echo-reply.ts';
import { dispatchHttp, drainSockets, exitOnSignal, listen, log, plainAddress, podIdentity, portFromEnv, ready } from './program.ts';


const identity = podIdentity();
const logRequests = process.env.LOG_REQUESTS === '1';

/** What the handler needs of a response; http's ServerResponse and http2's compat response both fit. */
interface Reply {
  readonly destroyed: boolean;
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  end(text: string): unknown;
  on(event: 'close', listener: () => void): unknown;
}

function isGrpc(req: IncomingMessage | Http2ServerRequest): boolean {
  return req.httpVersion === '2.0' && String(req.headers['content-type'] ?? '').startsWith('application/grpc');
}

/** What `/echo` and gRPC responses need of a response, on both HTTP versions. */
interface StreamReply {
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  write(chunk: Buffer): boolean;
  end(): unknown;
  on(event: 'drain', listener: () => void): unknown;
  addTrailers(trailers: OutgoingHttpHeaders): void;
}

function isBodyEcho(req: IncomingMessage | Http2ServerRequest): boolean {
  return req.method === 'POST' && (req.url ?? '').split('?', 1)[0] === '/echo';
}

/** Streams the request body back as it arrives (backpressure both ways), then the trailers. */
function streamEcho(req: IncomingMessage | Http2ServerRequest, res: StreamReply, contentType: string, trailers: OutgoingHttpHeaders): void {
  res.writeHead(200, { 'content-type': contentType, 'x-echo-pod': identity.pod, ...(req.httpVersion === '2.0' ? {} : { trailer: Object.keys(trailers).join(', ') }) });
  req.on('data', (chunk: Buffer) => {
    if (!res.write(chunk)) req.pause();
  });
  res.on('drain', () => req.resume());
  req.on('error', () => {
    /* the peer reset the stream */
  });
  req.on('end', () => {
    res.addTrailers(trailers);
    res.end();
    if (logRequests) log('info', 'request', { method: req.method, path: req.url, protocol: 'stream', status: 200 });
  });
}

function handle(req: IncomingMessage | Http2ServerRequest, res: Reply): void {
  if (isGrpc(req)) return streamEcho(req, res as unknown as Http2ServerResponse, String(req.headers['content-type']), { 'grpc-status': '0', 'grpc-message': '', 'x-echo-pod': identity.pod });
  if (isBodyEcho(req)) return streamEcho(req, res as unknown as StreamReply, 'application/octet-stream', { 'x-echo-pod': identity.pod });
  let bodyBytes = 0;
  req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
  req.on('error', () => {
    /* the peer went away; 'close' below cancels any pending reply */
  });
  req.on('end', () => {
    const sock = req.socket;
    const echo: EchoRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      protocol: req.httpVersion === '2.0' ? 'HTTP/2' : req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1',
      remoteAddress: plainAddress(sock.remoteAddress),
      remotePort: sock.remotePort ?? 0,
      localPort: sock.localPort ?? 0,
      bodyBytes,
    };
    const plan = planEcho(echo, identity);
    const send = (): void => {
      if (res.destroyed) return;
      const text = plan.body ? `${JSON.stringify(plan.body)}\n` : '';
      const headers: OutgoingHttpHeaders = plan.body
        ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }
        : {};
      res.writeHead(plan.status, headers);
      res.end(text);
      if (logRequests) log('info', 'request', { method: echo.method, path: echo.path, protocol: echo.protocol, from: echo.remoteAddress, status: plan.status });
    };
    if (plan.delayMs === 0) return send();
    const timer = setTimeout(send, plan.delayMs);
    res.on('close', () => clearTimeout(timer));
  });
}

const http1 = createHttpServer({ requireHostHeader: false }, handle);
// Streamed echoes keep up to a stream window of response bytes queued per stream: Node's 10 MB
// session default would refuse a fast 10 MiB echo with ENHANCE_YOUR_CALM.
const http2 = createH2Server({ maxSessionMemory: 64 }, handle);
const sockets = new Set<Socket>();
const sessions = new Set<ServerHttp2Session>();
http2.on('session', (s: ServerHttp2Session) => {
  sessions.add(s);
  s.on('close', () => sessions.delete(s));
  s.on('error', () => {
    /* one bad peer; the session is torn down */
  });
});


const server = createNetServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {
    /* resets are normal for an echo server; nothing to clean up beyond 'close' */
  });
  dispatchHttp(socket, { http1, http2 }, { destroyOnEnd: true });
});

exitOnSignal(async () => {
  server.close();
  http1.closeIdleConnections();
  for (const s of sessions) s.close();
  // In-flight requests (a /delay/ in progress) get a moment, then everything is cut.
  await drainSockets(sockets);
});

const port = await listen(server, portFromEnv(8080));
log('info', 'http-echo listening', { port, pod: identity.pod, namespace: identity.namespace });
ready(port);
