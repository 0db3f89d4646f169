// The WebSocket forms of exec and port-forward, as the kubelet serves them to clients whose
// WebSocket the apiserver passes through unchanged (it translates only v5.channel.k8s.io exec and
// the SPDY-tunnelling port-forward into SPDY): the channel protocols `channel.k8s.io`,
// `base64.channel.k8s.io` and their `v4.` forms. Every message is one channel's data behind a
// channel byte (binary) or a channel digit with base64 data (text).
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { connectTcp } from '../../../../lib/netns/index.ts';
import { errorStreamBytes, execStatus, runExec, type ExecOptions } from './exec.ts';
import type { ContainerTarget, PodTarget } from './host.ts';
import { headerList, type Reply } from './upgrade.ts';

export const WS_EXEC_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'] as const;
export const WS_PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'] as const;

const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

type Log = (msg: string, fields?: Record<string, unknown>) => void;

/** The subprotocol the kubelet picks: the client's first it supports; none offered means binary without one. Pure. */
export function pickSubprotocol(offered: string | string[] | undefined, supported: readonly string[]): { protocol: string } | { error: string } {
  const list = headerList(offered);
  if (!list.length) return { protocol: '' };
  const chosen = list.find((p) => supported.includes(p));
  return chosen === undefined ? { error: `requested protocol(s) are not supported: [${list.join(' ')}]; supports [${supported.join(' ')}]` } : { protocol: chosen };
}

/** The `port` query parameters of a WebSocket port-forward (repeatable, comma lists). Pure. */
export function parseWebSocketPorts(q: URLSearchParams): number[] | { error: string } {
  const values = q.getAll('port');
  if (!values.length) return { error: 'query parameter "port" is required' };
  const ports: number[] = [];
  for (const v of values) {
    if (!v) return { error: 'query parameter "port" cannot be empty' };
    for (const p of v.split(',')) {
      if (!/^\d+$/.test(p) || Number(p) > 65535) return { error: `unable to parse "${v}" as a port` };
      if (Number(p) < 1) return { error: `port "${v}" must be > 0` };
      ports.push(Number(p));
    }
  }
  return ports;
}

type KubeletRequest = IncomingMessage & { kubeletProtocol?: string };

// ws answers the handshake with the protocol chosen before (none for clients that offer none, as the kubelet).
const wss = new WebSocketServer({
  noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024,
  handleProtocols: (protocols: Set<string>, req: IncomingMessage): string | false => {
    const chosen = (req as KubeletRequest).kubeletProtocol;
    return chosen && protocols.has(chosen) ? chosen : false;
  },
});

class ChannelCodec {
  readonly base64: boolean;
  private readonly ws: WebSocket;
  constructor(ws: WebSocket, protocol: string) {
    this.ws = ws;
    this.base64 = protocol.includes('base64');
  }

  send(channel: number, data: Buffer, cb?: (err?: Error) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      cb?.();
      return;
    }
    if (this.base64) this.ws.send(`${String.fromCharCode(48 + channel)}${data.toString('base64')}`, (err) => cb?.(err));
    else this.ws.send(Buffer.concat([Buffer.from([channel]), data]), { binary: true }, (err) => cb?.(err));
  }

  decode(raw: RawData, isBinary: boolean): { channel: number; data: Buffer } | undefined {
    const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer);
    if (!buf.length) return undefined;
    if (this.base64 || !isBinary) {
      const text = buf.toString('utf8');
      return { channel: text.charCodeAt(0) - 48, data: Buffer.from(text.slice(1), 'base64') };
    }
    return { channel: buf[0]!, data: buf.subarray(1) };
  }
}

function upgrade(req: KubeletRequest, socket: Duplex, head: Buffer, protocol: string): Promise<WebSocket> {
  req.kubeletProtocol = protocol;
  return new Promise((resolve) => {
    wss.handleUpgrade(req, socket, head, (ws) => resolve(ws));
  });
}

function writer(codec: ChannelCodec, channel: number): Duplex {
  return new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      codec.send(channel, chunk, cb);
    },
  });
}

export async function serveWebSocketExec(req: IncomingMessage, socket: Duplex, head: Buffer, reply: Reply, target: ContainerTarget, opts: ExecOptions, log: Log): Promise<void> {
  const pick = pickSubprotocol(req.headers['sec-websocket-protocol'], WS_EXEC_PROTOCOLS);
  if ('error' in pick) return reply.error(403, pick.error);
  const ws = await upgrade(req, socket, head, pick.protocol);
  const protocol = pick.protocol;
  log('exec stream', { pod: `${target.namespace}/${target.name}`, transport: 'WebSocket', protocol });
  const codec = new ChannelCodec(ws, protocol);
  const stdin = new PassThrough();
  const gone = new Promise<void>((resolve) => ws.on('close', () => {
    stdin.end();
    resolve();
  }));
  ws.on('error', () => {
    /* the peer went away; 'close' follows */
  });
  ws.on('message', (raw, isBinary) => {
    const m = codec.decode(raw, isBinary);
    if (m?.channel === Channel.stdin && opts.stdin) stdin.write(m.data);
  });
  // As the kubelet does: one empty message tells the client the streams are up.
  codec.send(opts.stdout ? Channel.stdout : opts.stderr ? Channel.stderr : Channel.error, Buffer.alloc(0));
  const statusProtocol = protocol.startsWith('v4.') ? 'v4.channel.k8s.io' : 'channel.k8s.io';
  await runExec(target, opts, {
    ...(opts.stdin ? { stdin } : {}),
    ...(opts.stdout ? { stdout: writer(codec, Channel.stdout) } : {}),
    ...(opts.stderr ? { stderr: writer(codec, Channel.stderr) } : {}),
    gone,
    finish: async (outcome) => {
      const bytes = errorStreamBytes(statusProtocol, execStatus(outcome, opts.command));
      if (bytes.length) await new Promise<void>((resolve) => codec.send(Channel.error, bytes, () => resolve()));
      ws.close(1000);
    },
  }, log);
}

export async function serveWebSocketPortForward(req: IncomingMessage, socket: Duplex, head: Buffer, reply: Reply, pod: PodTarget, ports: number[], log: Log): Promise<void> {
  const pick = pickSubprotocol(req.headers['sec-websocket-protocol'], WS_PORT_FORWARD_PROTOCOLS);
  if ('error' in pick) return reply.error(403, pick.error);
  const ws = await upgrade(req, socket, head, pick.protocol);
  log('port-forward stream', { pod: `${pod.namespace}/${pod.name}`, transport: 'WebSocket', protocol: pick.protocol, ports });
  const codec = new ChannelCodec(ws, pick.protocol);
  const conns: (Socket | undefined)[] = [];
  let open = ports.length;
  const done = (): void => {
    if (--open === 0) ws.close(1000);
  };
  ws.on('error', () => {
    /* the peer went away; 'close' follows */
  });
  ws.on('close', () => {
    for (const c of conns) c?.destroy();
  });
  ws.on('message', (raw, isBinary) => {
    const m = codec.decode(raw, isBinary);
    if (!m || m.channel % 2 !== 0) return;
    conns[m.channel / 2]?.write(m.data);
  });
  ports.forEach((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    codec.send(i * 2, portBytes);
    codec.send(i * 2 + 1, portBytes);
    let conn: Socket;
    try {
      // v4 channels have no half-close: the pod's side closing ends the forward.
      conn = pod.netnsPath ? connectTcp({ netns: pod.netnsPath, host: '127.0.0.1', port, allowHalfOpen: false }) : connect({ host: '127.0.0.1', port, allowHalfOpen: false });
    } catch (err) {
      codec.send(i * 2 + 1, Buffer.from(`error forwarding port ${port} to pod ${pod.name}_${pod.namespace}, uid ${pod.uid}: ${(err as Error).message}`));
      done();
      return;
    }
    conns[i] = conn;
    let connected = false;
    conn.on('connect', () => (connected = true));
    conn.on('data', (d: Buffer) => codec.send(i * 2, d));
    conn.on('error', (err) => {
      if (!connected) codec.send(i * 2 + 1, Buffer.from(`error forwarding port ${port} to pod ${pod.name}_${pod.namespace}, uid ${pod.uid}: ${err.message}`));
    });
    conn.on('close', done);
  });
}
