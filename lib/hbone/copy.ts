// Bidirectional byte copy between two duplex streams (TCP socket ⇄ HBONE stream) that keeps TCP
// semantics across the tunnel: a half-close (FIN / END_STREAM) is forwarded as a half-close, an
// abort (RST / RST_STREAM / error) as an abort. Backpressure: a source pauses while its destination
// is over its high-water mark, so at most one buffer per direction is in flight. Counts bytes.
import { constants as h2 } from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';

export interface CopyStats {
  /** Bytes read from `a` and written to `b`. */
  aToB: number;
  /** Bytes read from `b` and written to `a`. */
  bToA: number;
}

export type CopyResult =
  | { kind: 'closed'; stats: CopyStats }
  /** `side` is the stream that aborted first, or 'local' for abort(). */
  | { kind: 'reset'; stats: CopyStats; side: 'a' | 'b' | 'local'; error: Error | undefined };

export interface CopyHandle {
  /** Live counters, readable at any time (e.g. for periodic metrics). */
  readonly stats: CopyStats;
  /** Settles once both directions finished, or at the first abort. Never rejects. */
  readonly done: Promise<CopyResult>;
  /** Aborts both sides (e.g. on a policy change or drain deadline). */
  abort(error?: Error): void;
}

/**
 * Aborts a stream so the peer sees an abort, not an orderly close: TCP RST for sockets, RST_STREAM
 * (CANCEL) for HTTP/2 streams, plain destroy for anything else.
 */
export function resetStream(s: Duplex): void {
  if (s instanceof net.Socket) {
    if (s.destroyed) return;
    try {
      s.resetAndDestroy();
    } catch {
      s.destroy(); // no handle to reset yet (still connecting) or a wrapped socket
    }
    return;
  }
  if (isHttp2Stream(s)) {
    if (s.closed) return;
    // Node ends an open writable side before it sends RST_STREAM, which puts an END_STREAM on the
    // wire first; the peer would forward that as a FIN and the reset would arrive too late to
    // matter. Making this stream's shutdown a no-op leaves only the RST_STREAM, as h2 peers send.
    if (!s.writableEnded) (s as unknown as { _final: (cb: () => void) => void })._final = (cb) => cb();
    s.close(h2.NGHTTP2_CANCEL);
    return;
  }
  s.destroy();
}

interface Http2StreamLike extends Duplex {
  close(code?: number): void;
  readonly rstCode: number | undefined;
}

function isHttp2Stream(s: Duplex): s is Http2StreamLike {
  return 'rstCode' in s && typeof (s as Partial<Http2StreamLike>).close === 'function';
}

function wasReset(s: Duplex): boolean {
  return isHttp2Stream(s) && s.rstCode !== undefined && s.rstCode !== h2.NGHTTP2_NO_ERROR;
}

export function copyBidirectional(a: Duplex, b: Duplex): CopyHandle {
  const stats: CopyStats = { aToB: 0, bToA: 0 };
  let settled = false;
  let resolve!: (r: CopyResult) => void;
  const done = new Promise<CopyResult>((r) => (resolve = r));

  const state = {
    a: { stream: a, ended: a.readableEnded, finished: a.writableFinished },
    b: { stream: b, ended: b.readableEnded, finished: b.writableFinished },
  };

  const complete = (): void => {
    if (settled || !(state.a.ended && state.a.finished && state.b.ended && state.b.finished)) return;
    settled = true;
    detach();
    resolve({ kind: 'closed', stats });
  };

  const fail = (side: 'a' | 'b' | 'local', error: Error | undefined): void => {
    if (settled) return;
    settled = true;
    detach();
    // The aborting side is reset too: an errored TCP socket may still hold a handle.
    if (!a.destroyed) resetStream(a);
    if (!b.destroyed) resetStream(b);
    resolve({ kind: 'reset', stats, side, error });
  };

  // One listener set per direction, created once: nothing is allocated per chunk.
  // Chunks that arrive in the same tick go out in one write: the destination is corked at the
  // first and uncorked on the next tick. An HTTP/2 stream delivers its DATA per TLS record (16 KiB),
  // plus the remnant of every frame that straddles two records, all from one socket read; without
  // this each became its own write syscall into the pod.
  let corkedA = false;
  let corkedB = false;
  const uncorkA = (): void => {
    corkedA = false;
    a.uncork();
  };
  const uncorkB = (): void => {
    corkedB = false;
    b.uncork();
  };
  const onDataA = (chunk: Buffer): void => {
    stats.aToB += chunk.length;
    if (!corkedB) {
      corkedB = true;
      b.cork();
      process.nextTick(uncorkB);
    }
    if (!b.write(chunk)) a.pause();
  };
  const onDataB = (chunk: Buffer): void => {
    stats.bToA += chunk.length;
    if (!corkedA) {
      corkedA = true;
      a.cork();
      process.nextTick(uncorkA);
    }
    if (!a.write(chunk)) b.pause();
  };
  const onDrainA = (): void => void b.resume();
  const onDrainB = (): void => void a.resume();
  // Node delivers EOF on an HTTP/2 stream also when it was reset (RST_STREAM): forwarding that as
  // a FIN would turn an abort into an orderly close, so a reset stream aborts instead.
  const onEndA = (): void => {
    if (wasReset(a)) return fail('a', undefined);
    state.a.ended = true;
    b.end(); // FIN / END_STREAM: the other direction stays open
    complete();
  };
  const onEndB = (): void => {
    if (wasReset(b)) return fail('b', undefined);
    state.b.ended = true;
    a.end();
    complete();
  };
  const onFinishA = (): void => {
    state.a.finished = true;
    complete();
  };
  const onFinishB = (): void => {
    state.b.finished = true;
    complete();
  };
  const onErrorA = (err: Error): void => fail('a', err);
  const onErrorB = (err: Error): void => fail('b', err);
  // HTTP/2 only: RST_STREAM received while our side was still open.
  const onAbortedA = (): void => fail('a', undefined);
  const onAbortedB = (): void => fail('b', undefined);
  // A close before both directions completed is an abort (peer RST, destroy()). So is an HTTP/2
  // stream closed with an error code: Node ends the writable side itself on RST_STREAM, so the
  // flags alone could look like an orderly close.
  const onCloseA = (): void => {
    if (!(state.a.ended && state.a.finished) || wasReset(a)) fail('a', undefined);
  };
  const onCloseB = (): void => {
    if (!(state.b.ended && state.b.finished) || wasReset(b)) fail('b', undefined);
  };

  a.on('data', onDataA).on('end', onEndA).on('finish', onFinishA).on('error', onErrorA).on('close', onCloseA).on('drain', onDrainA).on('aborted', onAbortedA);
  b.on('data', onDataB).on('end', onEndB).on('finish', onFinishB).on('error', onErrorB).on('close', onCloseB).on('drain', onDrainB).on('aborted', onAbortedB);

  function detach(): void {
    a.off('data', onDataA).off('end', onEndA).off('finish', onFinishA).off('close', onCloseA).off('drain', onDrainA).off('aborted', onAbortedA);
    b.off('data', onDataB).off('end', onEndB).off('finish', onFinishB).off('close', onCloseB).off('drain', onDrainB).off('aborted', onAbortedB);
    // 'error' listeners stay: a late error on a stream we reset must not become an uncaught exception.
  }

  // Either side may already be gone (the client reset the stream while the upstream was dialling).
  if (a.destroyed && !(state.a.ended && state.a.finished)) fail('a', undefined);
  else if (b.destroyed && !(state.b.ended && state.b.finished)) fail('b', undefined);
  else {
    if (state.a.ended) b.end();
    if (state.b.ended) a.end();
    complete();
  }

  return { stats, done, abort: (error?: Error) => fail('local', error) };
}
