// Forwarding the queries the proxy does not answer itself to the upstream resolvers (ztunnel's
// resolv.conf). Each forward uses a fresh socket (a fresh source port) and a fresh query id, accepts
// only a reply from the server it asked that matches id and question, and tries the next server on a
// timeout or failure. A truncated UDP reply is retried over TCP when the client itself asked over TCP
// (over UDP it is relayed, so the client retries over TCP). Sockets come from a factory: the pod
// proxy makes them inside the pod netns with the in-pod mark.
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type net from 'node:net';
import type { UdpSocket } from '../../../lib/netns/index.ts';
import { canonicalName, parseMessage, type DnsQuestion } from './message.ts';
import type { DnsProtocol } from './metrics.ts';
import type { Upstream } from './resolv-conf.ts';

export interface UpstreamSockets {
  /** A bound UDP socket (ephemeral port) able to reach upstreams of `family`. */
  udp(family: 4 | 6): UdpSocket;
  /** A TCP socket connecting to the upstream; connection errors arrive as 'error'. */
  tcp(address: string, port: number): net.Socket;
}

export interface ForwarderOptions {
  upstreams: readonly Upstream[];
  sockets: UpstreamSockets;
  /** Per upstream attempt. */
  timeoutMs: number;
  /** Forwards in flight at once; more are refused at once (SERVFAIL) rather than queued. */
  maxInFlight?: number;
}

export type ForwardErrorCode = 'DNS_NO_UPSTREAMS' | 'DNS_UPSTREAM_BUSY' | 'DNS_UPSTREAM_TIMEOUT' | 'DNS_UPSTREAM_ERROR';

export class ForwardError extends Error {
  readonly code: ForwardErrorCode;
  constructor(code: ForwardErrorCode, message: string) {
    super(message);
    this.name = 'ForwardError';
    this.code = code;
  }
}

export type ForwardResult = { ok: true; response: Buffer; upstream: Upstream; transport: DnsProtocol } | { ok: false; error: ForwardError };

const MAX_TCP_MESSAGE = 0xffff;

export class Forwarder {
  readonly #opts: ForwarderOptions;
  readonly #maxInFlight: number;
  #inFlight = 0;

  constructor(opts: ForwarderOptions) {
    this.#opts = opts;
    this.#maxInFlight = opts.maxInFlight ?? 256;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Sends `query` (wire bytes of a parsed query with exactly one question) upstream and resolves
   * with the reply carrying the client's own id. Never rejects.
   */
  async forward(query: Buffer, question: DnsQuestion, clientProtocol: DnsProtocol): Promise<ForwardResult> {
    if (this.#opts.upstreams.length === 0) return { ok: false, error: new ForwardError('DNS_NO_UPSTREAMS', 'no upstream resolvers configured') };
    if (this.#inFlight >= this.#maxInFlight) {
      return { ok: false, error: new ForwardError('DNS_UPSTREAM_BUSY', `${this.#inFlight} forwards already in flight`) };
    }
    this.#inFlight++;
    try {
      let last: ForwardError | undefined;
      for (const upstream of this.#opts.upstreams) {
        try {
          let response = await this.#exchangeUdp(query, question, upstream);
          let transport: DnsProtocol = 'udp';
          if (clientProtocol === 'tcp' && (response[2]! & 0x02) !== 0) {
            response = await this.#exchangeTcp(query, question, upstream);
            transport = 'tcp';
          }
          response.writeUInt16BE(query.readUInt16BE(0), 0);
          return { ok: true, response, upstream, transport };
        } catch (err) {
          last = err instanceof ForwardError ? err : new ForwardError('DNS_UPSTREAM_ERROR', (err as Error).message);
        }
      }
      return { ok: false, error: last! };
    } finally {
      this.#inFlight--;
    }
  }

  #exchangeUdp(query: Buffer, question: DnsQuestion, upstream: Upstream): Promise<Buffer> {
    const { id, wire } = withFreshId(query);
    const where = `${upstream.address}:${upstream.port}`;
    return new Promise<Buffer>((resolve, reject) => {
      let socket: UdpSocket;
      try {
        socket = this.#opts.sockets.udp(upstream.address.includes(':') ? 6 : 4);
      } catch (err) {
        reject(new ForwardError('DNS_UPSTREAM_ERROR', `${where}: cannot open a socket: ${(err as Error).message}`));
        return;
      }
      const done = (err: ForwardError | undefined, reply?: Buffer): void => {
        clearTimeout(timer);
        socket.close();
        if (err) reject(err);
        else resolve(reply!);
      };
      const timer = setTimeout(() => done(new ForwardError('DNS_UPSTREAM_TIMEOUT', `${where}: no reply in ${this.#opts.timeoutMs} ms`)), this.#opts.timeoutMs);
      socket.on('error', (err) => done(new ForwardError('DNS_UPSTREAM_ERROR', `${where}: ${err.message}`)));
      socket.on('message', (data, rinfo) => {
        // Anything else reaching this port (another host, a stale or forged reply) is ignored.
        if (rinfo.port !== upstream.port || !sameAddress(rinfo.address, upstream.address)) return;
        if (isReplyTo(data, id, question)) done(undefined, data);
      });
      try {
        socket.send(wire, upstream.port, upstream.address);
      } catch (err) {
        done(new ForwardError('DNS_UPSTREAM_ERROR', `${where}: ${(err as Error).message}`));
      }
    });
  }

  #exchangeTcp(query: Buffer, question: DnsQuestion, upstream: Upstream): Promise<Buffer> {
    const { id, wire } = withFreshId(query);
    const where = `${upstream.address}:${upstream.port} (tcp)`;
    return new Promise<Buffer>((resolve, reject) => {
      let socket: net.Socket;
      try {
        socket = this.#opts.sockets.tcp(upstream.address, upstream.port);
      } catch (err) {
        reject(new ForwardError('DNS_UPSTREAM_ERROR', `${where}: cannot open a socket: ${(err as Error).message}`));
        return;
      }
      let buffered: Buffer = Buffer.alloc(0);
      const done = (err: ForwardError | undefined, reply?: Buffer): void => {
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(reply!);
      };
      const timer = setTimeout(() => done(new ForwardError('DNS_UPSTREAM_TIMEOUT', `${where}: no reply in ${this.#opts.timeoutMs} ms`)), this.#opts.timeoutMs);
      socket.on('error', (err) => done(new ForwardError('DNS_UPSTREAM_ERROR', `${where}: ${err.message}`)));
      socket.on('end', () => done(new ForwardError('DNS_UPSTREAM_ERROR', `${where}: closed before a reply`)));
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2) {
          const len = buffered.readUInt16BE(0);
          if (buffered.length < 2 + len) return;
          const reply = buffered.subarray(2, 2 + len);
          buffered = buffered.subarray(2 + len);
          if (isReplyTo(reply, id, question)) {
            done(undefined, Buffer.from(reply));
            return;
          }
        }
      });
      const frame = Buffer.alloc(2 + wire.length);
      frame.writeUInt16BE(Math.min(wire.length, MAX_TCP_MESSAGE), 0);
      wire.copy(frame, 2);
      socket.write(frame);
    });
  }
}

function withFreshId(query: Buffer): { id: number; wire: Buffer } {
  const wire = Buffer.from(query);
  const id = randomInt(0, 0x10000);
  wire.writeUInt16BE(id, 0);
  return { id, wire };
}

/** A well-formed response with our id and the question we asked. */
function isReplyTo(data: Buffer, id: number, question: DnsQuestion): boolean {
  const parsed = parseMessage(data);
  if (!parsed.ok) return false;
  const { header, questions } = parsed.message;
  if (!header.qr || header.id !== id) return false;
  // Some servers leave the question out of an error reply (FORMERR, NOTIMP, REFUSED).
  if (questions.length === 0) return header.rcode !== 0;
  const q = questions[0]!;
  return questions.length === 1 && q.type === question.type && q.class === question.class && canonicalName(q.name) === canonicalName(question.name);
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  if (!isIPv6(a) || !isIPv6(b)) return false;
  const canonical = (v6: string): string => new URL(`http://[${v6}]/`).hostname;
  return canonical(a) === canonical(b);
}
