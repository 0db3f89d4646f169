// The downstream request body as the router sends it upstream: streamed with backpressure to the
// current attempt, and the first RETRY_BUFFER_BYTES kept so a retry can send it again. Once the
// body outgrows the buffer it is no longer replayable (no retry), as Envoy's retry buffer limit.
import type { Readable } from 'node:stream';
import type { HeaderMap } from '../http/headers.ts';
import type { UpstreamRequest } from '../upstream/upstream-request.ts';

export const RETRY_BUFFER_BYTES = 64 * 1024;

export class RequestBody {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #replayable = true;
  #ended = false;
  #sink: UpstreamRequest | undefined;
  #trailers: (() => HeaderMap) | undefined;
  #received = 0;

  private readonly body: Readable;
  private readonly limit: number;
  readonly #onBytes: ((n: number) => void) | undefined;

  constructor(body: Readable, trailers: () => HeaderMap, onBytes?: (n: number) => void, limit = RETRY_BUFFER_BYTES) {
    this.body = body;
    this.limit = limit;
    this.#onBytes = onBytes;
    this.#trailers = trailers;
    body.pause();
    body.on('data', (chunk: Buffer) => this.#onData(chunk));
    body.once('end', () => {
      this.#ended = true;
      this.#sink?.end(this.#trailers?.());
      for (const cb of this.#onEnded.splice(0)) cb();
    });
  }

  readonly #onEnded: (() => void)[] = [];

  get replayable(): boolean {
    return this.#replayable;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Body bytes read from downstream so far. */
  get received(): number {
    return this.#received;
  }

  /** The whole body as read, while it is replayable (what a retry or a mirror sends). */
  get buffered(): readonly Buffer[] {
    return this.#chunks;
  }

  /** Request trailers (once ended). */
  trailers(): HeaderMap | undefined {
    return this.#trailers?.();
  }

  whenEnded(cb: () => void): void {
    if (this.#ended) cb();
    else this.#onEnded.push(cb);
  }

  /** Sends what is buffered to `up`, then streams the rest into it. */
  attach(up: UpstreamRequest): void {
    this.#sink = up;
    for (const c of this.#chunks) up.write(c);
    if (this.#ended) {
      up.end(this.#trailers?.());
      return;
    }
    this.body.resume();
  }

  /** The attempt failed: stop feeding it. */
  detach(): void {
    this.#sink = undefined;
    if (!this.#ended) this.body.pause();
  }

  #onData(chunk: Buffer): void {
    this.#received += chunk.length;
    this.#onBytes?.(chunk.length);
    if (this.#replayable) {
      this.#buffered += chunk.length;
      if (this.#buffered > this.limit) {
        this.#replayable = false;
        this.#chunks = [];
      } else {
        this.#chunks.push(chunk);
      }
    }
    const sink = this.#sink;
    if (!sink) {
      this.body.pause();
      return;
    }
    if (!sink.write(chunk)) {
      this.body.pause();
      sink.onDrain(() => {
        if (this.#sink === sink) this.body.resume();
      });
    }
  }
}
