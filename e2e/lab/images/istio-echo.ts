// lab/istio-echo: the server of Istio's echo application, as the Gateway API conformance suite's
// `echo-advanced` image runs it (`--port=8080 --grpc=7070 --tcp=9090 --port=8443 --tls=8443 …`).
// HTTP ports answer every request with the `key=value` lines the suite parses (istio-echo-format.ts)
// over HTTP/1.1 and cleartext HTTP/2 (prior knowledge), honouring `?codes=`, `?headers=`, `?delay=`.
// TCP ports send the greeting fields once the client's first bytes arrive, then echo every byte.
// TLS ports are served with `--crt`/`--key` when those files exist, and left closed otherwise (the
// lab has no image filesystem with the suite's /cert.crt). gRPC ports serve the unary
// `proto.EchoTestService/Echo` over h2c (the suite's MESH-GRPC test calls it) and answer any other
// request as HTTP ports do; ForwardEcho is not implemented.
//
// Env: POD_NAME (the Hostname field; os.hostname() when unset), NAMESPACE (the Namespace field, as
// the real server reads it), BIND_ADDRESS (default `::`), LOG_REQUESTS=1 to log each request.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { decodeEchoMessage, ECHO_GRPC_PATH, echoGrpcBody, echoHttpBody, echoTcpFields, encodeEchoMessage, parseServerArgs, planEchoHttp, type EchoIdentity } from './istio-echo-format.ts';
import { dispatchHttp, drainSockets, exitOnSignal, listen, log, plainAddress, ready } from './program.ts';


const parsed = parseServerArgs(process.argv.slice(2));
if (!parsed.ok) {
  log('error', 'invalid arguments', { error: parsed.error });
  process.exit(2);
}
const cfg = parsed.value;
const logRequests = process.env.LOG_REQUESTS === '1';
const identityFor = (port: number): EchoIdentity => ({
  port,
  version: cfg.version,
  cluster: cfg.cluster,
  namespace: process.env.NAMESPACE ?? '',
  hostname: process.env.POD_NAME || hostname(),
});

const sockets = new Set<Socket>();
const sessions = new Set<ServerHttp2Session>();
const servers: Server[] = [];

/** A unary `proto.EchoTestService/Echo` call on a gRPC port: the request message in, the echo fields out. */
function grpcEcho(req: Http2ServerRequest, res: Http2ServerResponse, id: EchoIdentity): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (res.stream.destroyed) return;
    const fail = (status: number, message: string): void => {
      res.writeHead(200, { 'content-type': 'application/grpc' });
      res.addTrailers({ 'grpc-status': String(status), 'grpc-message': encodeURIComponent(message) });
      res.end();
    };
    if ((req.url ?? '').split('?', 1)[0] !== ECHO_GRPC_PATH) return fail(12, `unknown method ${req.url ?? ''}`);
    const msg = decodeEchoMessage(Buffer.concat(chunks));
    if (!msg.ok) return fail(13, msg.error);
    const body = echoGrpcBody(req.headers, msg.value, plainAddress(req.socket.remoteAddress), id);
    res.writeHead(200, { 'content-type': 'application/grpc' });
    res.addTrailers({ 'grpc-status': '0' });
    res.end(encodeEchoMessage(body));
    if (logRequests) log('info', 'request', { method: 'POST', path: req.url, port: id.port, protocol: 'grpc', from: plainAddress(req.socket.remoteAddress) });
  });
}

/** `id.port` is the bound port once listening (the same as asked unless 0 was). */
function handler(id: EchoIdentity, grpc: boolean) {
  return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    req.on('error', () => {
      /* the peer went away */
    });
    if (grpc && req.httpVersion === '2.0' && String(req.headers['content-type'] ?? '').startsWith('application/grpc')) {
      grpcEcho(req as Http2ServerRequest, res as Http2ServerResponse, id);
      return;
    }
    // The body is read and dropped: the server answers once the request is complete.
    req.resume();
    req.on('end', () => {
      const requestUri = req.url ?? '/';
      const plan = planEchoHttp(requestUri, Math.random());
      const h2 = req.httpVersion === '2.0';
      const tls = (req.socket as Partial<TLSSocket>).encrypted ? { alpn: String((req.socket as TLSSocket).alpnProtocol || ''), sni: String((req.socket as TLSSocket & { servername?: string }).servername || '') } : undefined;
      const body =
        plan.errors.map((e) => `error=${e}\n`).join('') +
        echoHttpBody({
          method: req.method ?? '',
          requestUri,
          host: String((h2 ? req.headers[':authority'] : req.headers.host) ?? ''),
          proto: h2 ? 'HTTP/2.0' : `HTTP/${req.httpVersion}`,
          remoteIp: plainAddress(req.socket.remoteAddress),
          // One RequestHeader line per received value, as Go's Header keeps them (HTTP/1.1 only; http2 joins).
          headers: 'headersDistinct' in req ? req.headersDistinct : req.headers,
          ...(tls ? { tls } : {}),
        }, id);
      const send = (): void => {
        if (res.destroyed) return;
        const r = res as ServerResponse;
        for (const [k, v] of plan.headers) r.setHeader(k, v);
        r.setHeader('content-type', 'application/text');
        r.setHeader('content-length', Buffer.byteLength(body));
        r.writeHead(plan.status);
        r.end(body);
        if (logRequests) log('info', 'request', { method: req.method, path: requestUri, port: id.port, status: plan.status, from: plainAddress(req.socket.remoteAddress) });
      };
      if (plan.delayMs === 0) return send();
      const timer = setTimeout(send, Math.min(plan.delayMs, 60_000));
      res.on('close', () => clearTimeout(timer));
    });
  };
}

/** HTTP/1.1 and h2c on one port: the first bytes decide (the HTTP/2 preface, or anything else). */
function httpListener(id: EchoIdentity, useTls: boolean, grpc: boolean): Server {
  const handle = handler(id, grpc);
  const http1 = createHttpServer({ requireHostHeader: false }, handle);
  const http2 = createH2Server({}, handle);
  http2.on('session', (s: ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {
      /* one bad peer */
    });
  });
  const dispatch = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {
      /* resets are normal */
    });
    dispatchHttp(socket, { http1, http2 });
  };
  if (!useTls) return createNetServer(dispatch);
  // Over TLS the ALPN decides instead; only HTTP/1.1 is offered.
  const server = createTlsServer({ cert: readFileSync(cfg.crt), key: readFileSync(cfg.key), ALPNProtocols: ['http/1.1'] }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    http1.emit('connection', socket);
  });
  return server;
}

function tcpListener(id: EchoIdentity): Server {
  return createNetServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let first = true;
    socket.on('data', (chunk: Buffer) => {
      if (first) {
        first = false;
        socket.write(echoTcpFields(id, plainAddress(socket.remoteAddress)));
      }
      if (!socket.write(chunk)) socket.pause();
    });
    socket.on('drain', () => socket.resume());
    socket.on('end', () => socket.end());
  });
}

const tlsPorts = new Set(cfg.tls);
const certsReadable = (() => {
  if (!cfg.crt || !cfg.key) return false;
  try {
    readFileSync(cfg.crt);
    readFileSync(cfg.key);
    return true;
  } catch {
    return false;
  }
})();

const bound: { http: number[]; grpc: number[]; tcp: number[]; tls: number[] } = { http: [], grpc: [], tcp: [], tls: [] };
const plan: { port: number; kind: 'http' | 'grpc' | 'tcp' }[] = [
  ...cfg.http.map((port) => ({ port, kind: 'http' as const })),
  ...cfg.grpc.map((port) => ({ port, kind: 'grpc' as const })),
  ...cfg.tcp.map((port) => ({ port, kind: 'tcp' as const })),
];
for (const { port, kind } of plan) {
  const useTls = tlsPorts.has(port);
  if (useTls && !certsReadable) {
    log('warn', 'TLS port left closed: certificate or key not readable', { port, crt: cfg.crt, key: cfg.key });
    continue;
  }
  const id = identityFor(port);
  const server = kind === 'tcp' ? tcpListener(id) : httpListener(id, useTls, kind === 'grpc');
  servers.push(server);
  try {
    id.port = await listen(server, port);
  } catch (err) {
    log('error', 'cannot listen', { port, error: (err as Error).message });
    process.exit(1);
  }
  bound[useTls ? 'tls' : kind].push(id.port);
}

exitOnSignal(async () => {
  for (const s of servers) s.close();
  for (const s of sessions) s.close();
  await drainSockets(sockets);
});

log('info', 'istio-echo listening', { ...bound, pod: process.env.POD_NAME, namespace: process.env.POD_NAMESPACE });
ready(bound.http[0] ?? null);
