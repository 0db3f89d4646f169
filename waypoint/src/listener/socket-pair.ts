// An in-memory socket pair between the HBONE tunnel and the connection manager / tcp proxy (like
// stream.duplexPair, whose ends do not forward a destroy): bytes written on one end are read on
// the other, with backpressure (a write completes when the reader asks for more); end() is a FIN;
// destroying one end aborts the other unless that end had already finished cleanly (then only the
// peer's further writes are dropped, so an orderly close never turns into a reset).
import { Duplex } from 'node:stream';

class PairSide extends Duplex {
  other!: PairSide;
  #writeCb: ((err?: Error | null) => void) | undefined;

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {
    const cb = this.other.#writeCb;
    if (cb) {
      this.other.#writeCb = undefined;
      cb();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const o = this.other;
    if (o.destroyed || o.readableEnded) return cb();
    if (o.push(chunk)) cb();
    else this.#writeCb = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const pending = this.#writeCb;
    this.#writeCb = undefined;
    pending?.();
    const o = this.other;
    if (!o.destroyed) {
      if (err || !this.writableFinished) o.destroy(err ?? undefined);
      else {
        // Clean close from this end: release a writer of the other end waiting on our reads.
        const w = o.#writeCb;
        o.#writeCb = undefined;
        w?.();
      }
    }
    cb(err);
  }
}

/** `[tunnelEnd, serverEnd]`: give the first to the HBONE server, serve the second. */
export function socketPair(): [Duplex, Duplex] {
  const a = new PairSide();
  const b = new PairSide();
  a.other = b;
  b.other = a;
  return [a, b];
}
