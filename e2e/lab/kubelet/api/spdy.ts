// The server side of a SPDY/3.1 session as Kubernetes speaks it (the apiserver's Go spdystream
// client, after an `Upgrade: SPDY/3.1` handshake): the client opens streams (SYN_STREAM with
// headers such as `streamtype`), the server accepts each (SYN_REPLY) or refuses it (RST_STREAM),
// data flows as DATA frames with FIN for half-close, PINGs are echoed, GOAWAY ends the session.
//
// Written here rather than taken from npm: `spdy-transport` (the one SPDY library there) treats
// every SYN_STREAM as an HTTP request and rejects streams without `:method`/`:path`, and enforces
// send windows that spdystream never opens (it sends no WINDOW_UPDATE). spdystream does no flow
// control in either direction, so neither does this; backpressure is the TCP socket's.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.ts';

export const SPDY_PROTOCOL = 'SPDY/3.1';

const CONTROL_BIT = 0x8000;
const VERSION = 3;
export const FrameType = { SynStream: 1, SynReply: 2, RstStream: 3, Settings: 4, Ping: 6, GoAway: 7, Headers: 8, WindowUpdate: 9 } as const;
const FLAG_FIN = 0x01;
/** RST_STREAM status codes (SPDY/3 §2.6.3). */
export const RstStatus = { ProtocolError: 1, InvalidStream: 2, RefusedStream: 3, Cancel: 5, InternalError: 6 } as const;
/** DATA frames we send are cut to this size (the Go reader holds each frame in memory). */
const MAX_DATA_FRAME = 32 * 1024;
/** A peer frame larger than this is a protocol error (SPDY lengths go to 16 MiB). */
const MAX_FRAME = 16 * 1024 * 1024;

export class SpdyError extends Error {
  readonly code: 'SPDY_PROTOCOL' | 'SPDY_COMPRESSION';
  constructor(code: SpdyError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export type Frame =
  | { kind: 'control'; type: number; flags: number; body: Buffer }
  | { kind: 'data'; streamId: number; flags: number; body: Buffer };

/** Cuts one whole frame off the front of `buf`, or returns undefined when more bytes are needed. Pure. */
export function readFrame(buf: Buffer): { frame: Frame; rest: Buffer } | undefined {
  if (buf.length < 8) return undefined;
  const length = buf.readUIntBE(5, 3);
  if (length > MAX_FRAME) throw new SpdyError('SPDY_PROTOCOL', `frame of ${length} bytes is too large`);
  if (buf.length < 8 + length) return undefined;
  const flags = buf[4]!;
  const body = buf.subarray(8, 8 + length);
  const rest = buf.subarray(8 + length);
  const first = buf.readUInt16BE(0);
  if (first & CONTROL_BIT) {
    const version = first & 0x7fff;
    if (version !== VERSION) throw new SpdyError('SPDY_PROTOCOL', `unsupported SPDY version ${version}`);
    return { frame: { kind: 'control', type: buf.readUInt16BE(2), flags, body }, rest };
  }
  return { frame: { kind: 'data', streamId: buf.readUInt32BE(0) & 0x7fffffff, flags, body }, rest };
}

export function controlFrame(type: number, flags: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(CONTROL_BIT | VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt8(flags, 4);
  head.writeUIntBE(body.length, 5, 3);
  return Buffer.concat([head, body]);
}

export function dataFrame(streamId: number, flags: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt8(flags, 4);
  head.writeUIntBE(body.length, 5, 3);
  return body.length ? Buffer.concat([head, body]) : head;
}

/** An uncompressed SPDY/3 name/value block; names are lowercased as the protocol requires. Pure. */
export function encodeHeaderBlock(headers: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  const entries = Object.entries(headers);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [name, value] of entries) {
    for (const s of [name.toLowerCase(), value]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

/** Parses an uncompressed name/value block; several values of one name (NUL-separated) are joined with ','. Pure. */
export function decodeHeaderBlock(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  const take = (): string => {
    if (off + 4 > buf.length) throw new SpdyError('SPDY_PROTOCOL', 'truncated header block');
    const len = buf.readUInt32BE(off);
    off += 4;
    if (off + len > buf.length) throw new SpdyError('SPDY_PROTOCOL', 'truncated header block');
    const s = buf.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  if (buf.length < 4) throw new SpdyError('SPDY_PROTOCOL', 'truncated header block');
  const n = buf.readUInt32BE(0);
  off = 4;
  for (let i = 0; i < n; i++) {
    const name = take().toLowerCase();
    const value = take().split('\0').join(',');
    out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
  }
  return out;
}

/**
 * One direction's zlib stream: SPDY compresses every header block of a session with one shared
 * stream, each block ended by a sync flush. Calls must not overlap (callers serialise them).
 */
export class HeaderZlib {
  private readonly z: zlib.Inflate | zlib.Deflate;
  private chunks: Buffer[] = [];
  private failure: Error | undefined;

  constructor(mode: 'inflate' | 'deflate') {
    this.z = mode === 'inflate' ? zlib.createInflate({ dictionary: SPDY3_DICTIONARY }) : zlib.createDeflate({ dictionary: SPDY3_DICTIONARY });
    this.z.on('data', (c: Buffer) => this.chunks.push(c));
    this.z.on('error', (err: Error) => (this.failure = err));
  }

  run(input: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(new SpdyError('SPDY_COMPRESSION', this.failure.message));
      this.z.write(input);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (this.failure) return reject(new SpdyError('SPDY_COMPRESSION', this.failure.message));
        const out = Buffer.concat(this.chunks);
        this.chunks = [];
        resolve(out);
      });
    });
  }

  close(): void {
    this.z.close();
  }
}

/** One SPDY stream as a Duplex: what the peer sends is readable, what we write goes out as DATA; end() sends FIN. */
export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: Readonly<Record<string, string>>;
  private readonly session: SpdySession;
  /** The peer half-closed (FIN) or reset the stream. */
  remoteClosed = false;

  constructor(session: SpdySession, id: number, headers: Record<string, string>) {
    super({ allowHalfOpen: true });
    this.session = session;
    this.id = id;
    this.headers = headers;
  }

  override _read(): void {
    this.session.resumeInput();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.session.sendData(this.id, chunk, false).then(() => cb(), (err: Error) => cb(err));
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.session.sendData(this.id, Buffer.alloc(0), true).then(() => cb(), (err: Error) => cb(err));
  }

  /** RST_STREAM towards the peer, and this side is torn down. */
  reset(status: number = RstStatus.Cancel): void {
    this.session.sendRst(this.id, status);
    this.destroy();
  }

  /** Called by the session. */
  deliver(data: Buffer, fin: boolean): boolean {
    if (this.destroyed) return true;
    let more = true;
    if (data.length) more = this.push(data);
    if (fin && !this.remoteClosed) {
      this.remoteClosed = true;
      this.push(null);
    }
    return more;
  }
}

export interface SpdySessionOptions {
  /**
   * Decides on each stream the peer opens: `true` accepts it (SYN_REPLY), a string refuses it
   * (RST_STREAM REFUSED_STREAM; the string is logged).
   */
  onStream: (stream: SpdyStream) => true | string;
  onError?: (err: Error) => void;
}

/** The server side of one SPDY/3.1 connection on an upgraded socket. */
export class SpdySession {
  private readonly socket: Socket;
  private readonly opts: SpdySessionOptions;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflate = new HeaderZlib('inflate');
  private readonly deflate = new HeaderZlib('deflate');
  private buf: Buffer = Buffer.alloc(0);
  private pumping = false;
  private sendChain: Promise<void> = Promise.resolve();
  private lastStreamId = 0;
  private closed = false;

  constructor(socket: Socket, head: Buffer, opts: SpdySessionOptions) {
    this.socket = socket;
    this.opts = opts;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      void this.pump();
    });
    socket.on('error', () => {
      /* the peer went away; 'close' cleans up */
    });
    socket.on('close', () => this.teardown());
    if (head.length) {
      this.buf = head;
      void this.pump();
    }
  }

  /** Resolves when the socket is gone. */
  readonly done: Promise<void>;
  private resolveDone: () => void = () => {};

  get isClosed(): boolean {
    return this.closed;
  }

  resumeInput(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const next = readFrame(this.buf);
        if (!next) break;
        this.buf = next.rest;
        await this.handle(next.frame);
        if (this.closed) return;
      }
    } catch (err) {
      this.opts.onError?.(err as Error);
      this.destroy();
    } finally {
      this.pumping = false;
    }
  }

  private async handle(f: Frame): Promise<void> {
    if (f.kind === 'data') {
      const s = this.streams.get(f.streamId);
      if (!s) return; // a stream we refused or already reset
      if (!s.deliver(Buffer.from(f.body), (f.flags & FLAG_FIN) !== 0)) this.socket.pause();
      return;
    }
    const b = f.body;
    switch (f.type) {
      case FrameType.SynStream: {
        if (b.length < 10) throw new SpdyError('SPDY_PROTOCOL', 'short SYN_STREAM');
        const id = b.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.inflate.run(b.subarray(10)));
        if (id % 2 === 0 || id <= this.lastStreamId) {
          this.sendRst(id, RstStatus.ProtocolError);
          return;
        }
        this.lastStreamId = id;
        const s = new SpdyStream(this, id, headers);
        this.streams.set(id, s);
        s.on('close', () => this.streams.delete(id));
        const verdict = this.opts.onStream(s);
        if (verdict !== true) {
          this.opts.onError?.(new SpdyError('SPDY_PROTOCOL', `stream ${id} refused: ${verdict}`));
          s.reset(RstStatus.RefusedStream);
          return;
        }
        this.enqueue(async () => {
          const body = Buffer.alloc(4);
          body.writeUInt32BE(id);
          return controlFrame(FrameType.SynReply, 0, Buffer.concat([body, await this.deflate.run(encodeHeaderBlock({}))]));
        });
        if (f.flags & FLAG_FIN) s.deliver(Buffer.alloc(0), true);
        return;
      }
      case FrameType.SynReply:
      case FrameType.Headers:
        // Never expected (we open no streams), but their header blocks advance the shared zlib stream.
        if (b.length >= 4) await this.inflate.run(b.subarray(4));
        return;
      case FrameType.RstStream: {
        const s = this.streams.get(b.readUInt32BE(0) & 0x7fffffff);
        if (s) {
          s.remoteClosed = true;
          s.destroy();
        }
        return;
      }
      case FrameType.Ping:
        this.enqueue(() => controlFrame(FrameType.Ping, 0, Buffer.from(b)));
        return;
      case FrameType.GoAway:
        this.close();
        return;
      default:
        return; // SETTINGS, WINDOW_UPDATE: spdystream's peers do no flow control either
    }
  }

  private enqueue(build: () => Buffer | Promise<Buffer>): Promise<void> {
    const p = this.sendChain.then(async () => {
      if (this.closed && this.socket.destroyed) throw new SpdyError('SPDY_PROTOCOL', 'session closed');
      const frame = await build();
      await new Promise<void>((resolve, reject) => {
        if (this.socket.destroyed) return reject(new SpdyError('SPDY_PROTOCOL', 'session closed'));
        this.socket.write(frame, (err) => (err ? reject(err) : resolve()));
      });
    });
    this.sendChain = p.catch(() => {});
    return p;
  }

  sendData(streamId: number, data: Buffer, fin: boolean): Promise<void> {
    if (data.length <= MAX_DATA_FRAME) return this.enqueue(() => dataFrame(streamId, fin ? FLAG_FIN : 0, data));
    let last: Promise<void> = Promise.resolve();
    for (let off = 0; off < data.length; off += MAX_DATA_FRAME) {
      const end = Math.min(off + MAX_DATA_FRAME, data.length);
      last = this.enqueue(() => dataFrame(streamId, fin && end === data.length ? FLAG_FIN : 0, data.subarray(off, end)));
    }
    return last;
  }

  sendRst(streamId: number, status: number): void {
    const body = Buffer.alloc(8);
    body.writeUInt32BE(streamId & 0x7fffffff, 0);
    body.writeUInt32BE(status, 4);
    this.enqueue(() => controlFrame(FrameType.RstStream, 0, body)).catch(() => {});
  }

  /** GOAWAY after everything queued, then the socket is ended. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const body = Buffer.alloc(8);
    body.writeUInt32BE(this.lastStreamId, 0);
    this.enqueue(() => controlFrame(FrameType.GoAway, 0, body))
      .catch(() => {})
      .finally(() => {
        this.socket.end();
        // A peer that never closes its side is cut after a moment.
        setTimeout(() => this.socket.destroy(), 5000).unref();
      });
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private teardown(): void {
    this.closed = true;
    for (const s of this.streams.values()) {
      s.remoteClosed = true;
      s.destroy();
    }
    this.streams.clear();
    this.inflate.close();
    this.deflate.close();
    this.resolveDone();
  }
}
