// Clients that speak from inside a pod: every socket is created in the pod's network namespace, so
// the pod's capture rules send it to its node's ztunnel exactly as the pod's own traffic would be.
// HTTP/1.1 (keep-alive over one connection), cleartext HTTP/2 (one multiplexed session) and a
// gRPC-shaped exchange (length-prefixed messages, trailers), as the waypoint suites drive them.
import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders as H2Headers } from 'node:http2';
import type net from 'node:net';
import { connectTcp } from '../../lib/netns/index.ts';

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders | H2Headers;
  body: Buffer;
  trailers: Record<string, string | string[] | undefined>;
}

function dial(netns: string, host: string, port: number): net.Socket {
  return connectTcp({ netns: `/run/netns/${netns}`, host, port, allowHalfOpen: false });
}

/** HTTP/1.1 requests one after another on ONE keep-alive connection from the pod. */
export async function http1Requests(netns: string, host: string, port: number, requests: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer }[], timeoutMs = 20_000): Promise<HttpResult[]> {
  const socket = dial(netns, host, port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let used = false;
  // One socket for every request: the agent is told how to "connect" once.
  (agent as unknown as { createConnection: () => net.Socket }).createConnection = () => {
    if (used) throw new Error('the keep-alive connection was not reused');
    used = true;
    return socket;
  };
  const out: HttpResult[] = [];
  try {
    for (const r of requests) {
      out.push(await new Promise<HttpResult>((resolve, reject) => {
        const req = http.request({ agent, host, port, method: r.method ?? 'GET', path: r.path, headers: { host: `${host}:${port}`, ...r.headers }, timeout: timeoutMs }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`HTTP/1.1 ${r.path}: no answer in ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(r.body);
      }));
    }
  } finally {
    agent.destroy();
    socket.destroy();
  }
  return out;
}

/** A cleartext HTTP/2 session from the pod (prior knowledge). */
export function h2Session(netns: string, host: string, port: number): ClientHttp2Session {
  const session = http2.connect(`http://${host}:${port}`, { createConnection: () => dial(netns, host, port), maxSessionMemory: 64 });
  session.on('error', () => {
    /* surfaced through the streams */
  });
  return session;
}

export function h2Request(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer, timeoutMs = 20_000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const st = session.request({ ':method': body ? 'POST' : 'GET', ...headers });
    const timer = setTimeout(() => st.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
    let head: H2Headers = {};
    let trailers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    st.on('response', (h) => (head = h));
    st.on('trailers', (t) => (trailers = t));
    st.on('data', (c: Buffer) => chunks.push(c));
    st.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    st.on('close', () => {
      clearTimeout(timer);
      if (head[':status'] === undefined) return reject(new Error(`HTTP/2 ${headers[':path']}: stream closed without a response (code ${st.rstCode})`));
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), trailers });
    });
    st.end(body);
  });
}

/** A gRPC message frame: 1 byte compressed flag, 4 bytes length, the message. */
export function grpcFrame(message: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(message.length, 1);
  return Buffer.concat([h, message]);
}

export interface GrpcStreamResult {
  status: number;
  headers: H2Headers;
  /** What came back after each message was sent (the echo answers message by message). */
  replies: Buffer[];
  trailers: Record<string, string | string[] | undefined>;
}

/**
 * A bidirectional gRPC-shaped stream: sends each message only after the previous one's reply came
 * back, so a reply that waited for the end of the request would hang the exchange (streaming proven).
 */
export function grpcStream(session: ClientHttp2Session, path: string, messages: Buffer[], timeoutMs = 20_000): Promise<GrpcStreamResult> {
  return new Promise((resolve, reject) => {
    const st = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    const timer = setTimeout(() => st.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
    let head: H2Headers = {};
    let trailers: Record<string, string | string[] | undefined> = {};
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    let sent = 0;
    const sendNext = () => {
      const m = messages[sent++];
      if (m) st.write(grpcFrame(m));
      else st.end();
    };
    st.on('response', (h) => {
      head = h;
    });
    st.on('data', (c: Buffer) => {
      pending = Buffer.concat([pending, c]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const n = pending.readUInt32BE(1);
        replies.push(pending.subarray(5, 5 + n));
        pending = pending.subarray(5 + n);
        sendNext();
      }
    });
    st.on('trailers', (t) => (trailers = t));
    st.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    st.on('close', () => {
      clearTimeout(timer);
      if (head[':status'] === undefined) return reject(new Error(`gRPC ${path}: stream closed without a response (code ${st.rstCode})`));
      resolve({ status: Number(head[':status']), headers: head, replies, trailers });
    });
    sendNext();
  });
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
