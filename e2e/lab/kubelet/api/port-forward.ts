// `/portForward/{ns}/{pod}`: the portforward.k8s.io protocol over SPDY, as the kubelet serves it.
// Each forwarded connection is a pair of client streams sharing a `requestID` header: `error` and
// `data`, both with a `port` header. The kubelet connects to 127.0.0.1:<port> inside the pod netns
// (a host-process pod: the host's loopback), copies both ways with half-close, and on a failed
// connect writes the reason on the error stream and resets the pair. (The apiserver turns a
// client's WebSocket tunnel into this same SPDY towards the kubelet.)
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connectTcp } from '../../../../lib/netns/index.ts';
import { RstStatus, SpdySession, type SpdyStream } from './spdy.ts';
import { negotiate, writeSpdySwitch, PROTOCOL_HEADER, type Reply } from './upgrade.ts';
import type { PodTarget } from './host.ts';

export const PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io'] as const;
const PAIR_TIMEOUT_MS = 30_000;

type Log = (msg: string, fields?: Record<string, unknown>) => void;

/** A stream's port header, validated as the kubelet does. Pure. */
export function streamPort(headers: Readonly<Record<string, string>>): number | { error: string } {
  const v = headers.port;
  if (v === undefined || v === '') return { error: '"port" header is required' };
  if (!/^\d+$/.test(v) || Number(v) > 65535) return { error: `unable to parse "${v}" as a port` };
  const port = Number(v);
  if (port < 1) return { error: `port "${v}" must be > 0` };
  return port;
}

/** The pair a stream belongs to: its requestID, or (old clients) one derived from the stream id. Pure. */
export function requestIdOf(s: { id: number; headers: Readonly<Record<string, string>> }): string {
  const id = s.headers.requestid;
  if (id) return id;
  return String(s.headers.streamtype === 'error' ? s.id : s.id - 2);
}

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function serveSpdyPortForward(req: IncomingMessage, socket: Duplex, head: Buffer, reply: Reply, pod: PodTarget, log: Log): void {
  const n = negotiate(req.headers[PROTOCOL_HEADER], PORT_FORWARD_PROTOCOLS);
  if (n.kind === 'error') return reply.error(n.status, n.message, n.headers);
  log('port-forward stream', { pod: `${pod.namespace}/${pod.name}`, transport: 'SPDY/3.1', protocol: n.protocol });
  writeSpdySwitch(socket, n.protocol);
  const pairs = new Map<string, Pair>();
  const podName = `${pod.namespace}/${pod.name}`;
  const session = new SpdySession(socket as Socket, head, {
    onStream: (s) => {
      const port = streamPort(s.headers);
      if (typeof port !== 'number') return port.error;
      const type = s.headers.streamtype;
      if (type !== 'error' && type !== 'data') return `invalid stream type ${JSON.stringify(type ?? '')}`;
      const id = requestIdOf(s);
      let p = pairs.get(id);
      if (!p) {
        p = {
          timer: setTimeout(() => {
            log('port-forward: timed out waiting for streams', { pod: podName, request: id });
            pairs.delete(id);
            p?.data?.reset();
            p?.error?.reset();
          }, PAIR_TIMEOUT_MS),
        };
        pairs.set(id, p);
      }
      if (p[type]) return `${type} stream already assigned`;
      p[type] = s;
      s.on('error', () => {
        /* reset by the peer */
      });
      if (type === 'error') s.resume();
      if (p.data && p.error) {
        clearTimeout(p.timer);
        pairs.delete(id);
        const { data, error } = p;
        queueMicrotask(() => forward(pod, port, data, error, log));
      }
      return true;
    },
    onError: (err) => log('port-forward stream error', { pod: podName, error: err.message }),
  });
  void session.done.then(() => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });
}

function forward(pod: PodTarget, port: number, data: SpdyStream, error: SpdyStream, log: Log): void {
  let conn: Socket;
  const fail = (err: Error): void => {
    const msg = `error forwarding port ${port} to pod ${pod.name}_${pod.namespace}, uid ${pod.uid}: ${err.message}`;
    log('port-forward failed', { pod: `${pod.namespace}/${pod.name}`, port, error: err.message });
    if (!error.destroyed) error.write(msg, () => {
      data.reset(RstStatus.InternalError);
      error.reset(RstStatus.InternalError);
    });
  };
  try {
    conn = pod.netnsPath
      ? connectTcp({ netns: pod.netnsPath, host: '127.0.0.1', port })
      : connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  } catch (err) {
    fail(err as Error);
    return;
  }
  let connected = false;
  conn.on('connect', () => {
    connected = true;
    data.pipe(conn);
    conn.pipe(data);
  });
  conn.on('error', (err) => {
    if (!connected) fail(err);
    else data.destroy();
  });
  conn.on('close', () => {
    if (connected && !error.destroyed) error.end();
  });
  data.on('close', () => {
    if (connected && !conn.destroyed) conn.end();
  });
}
