// An incremental HTTP/1.1 response parser for the load generator: status line, the framing headers
// (content-length, transfer-encoding: chunked, connection) and the body skipped without copying.
// Only what a client needs to find where one response ends and whether the connection is reusable;
// no header values are kept. Pure (no sockets), so table-tested over arbitrary chunk splits.

export class HttpResponseError extends Error {
  readonly code = 'HTTP_RESPONSE_MALFORMED';
}

/** A complete response. `keepAlive` false: the server closes (or body ran to the close). */
export interface ParsedResponse {
  status: number;
  keepAlive: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 8 * 1024;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: |$)/;

// Parser states (plain numbers: the hot path compares small integers).
const State = { Head: 0, Body: 1, ChunkSize: 2, ChunkData: 3, ChunkDataEnd: 4, Trailers: 5, UntilClose: 6 } as const;
type State = (typeof State)[keyof typeof State];

export class ResponseParser {
  private state: State = State.Head;
  /** Bytes of a head (or a chunk-size/trailer line) that ended mid-chunk. */
  private pending: Buffer | undefined;
  private line = '';
  private remaining = 0;
  private status = 0;
  private keepAlive = true;

  /** True between the first byte of a response and its end: a close now cuts a response. */
  get inResponse(): boolean {
    return this.state !== State.Head || this.pending !== undefined;
  }

  /**
   * Feeds bytes as they arrive; `onResponse` is called for every response completed by them (1xx
   * interim responses are skipped). Throws HttpResponseError on bytes that are not a response.
   */
  feed(chunk: Buffer, onResponse: (r: ParsedResponse) => void): void {
    let buf = chunk;
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case State.Head: {
          let data = buf.subarray(i);
          if (this.pending) data = Buffer.concat([this.pending, data]);
          // The terminator may straddle the carried bytes and this chunk: search from where it could start.
          const end = data.indexOf(CRLFCRLF, this.pending ? Math.max(0, this.pending.length - 3) : 0);
          if (end < 0) {
            if (data.length > MAX_HEAD) throw new HttpResponseError(`response head longer than ${MAX_HEAD} bytes`);
            this.pending = Buffer.from(data);
            return;
          }
          this.pending = undefined;
          const done = this.head(data.toString('latin1', 0, end));
          buf = data;
          i = end + 4;
          if (done) this.complete(onResponse);
          break;
        }
        case State.Body:
        case State.ChunkData: {
          const n = Math.min(this.remaining, buf.length - i);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) {
            if (this.state === State.Body) this.complete(onResponse);
            else this.state = State.ChunkDataEnd;
          }
          break;
        }
        case State.UntilClose:
          return;
        default: {
          const nl = buf.indexOf(10, i);
          if (nl < 0) {
            this.line += buf.toString('latin1', i);
            if (this.line.length > MAX_LINE) throw new HttpResponseError('chunk-size or trailer line too long');
            return;
          }
          let line = this.line + buf.toString('latin1', i, nl);
          this.line = '';
          i = nl + 1;
          if (line.endsWith('\r')) line = line.slice(0, -1);
          this.onLine(line, onResponse);
        }
      }
    }
  }

  /** The connection closed: ends a body that runs to the close; true if a response was cut short. */
  end(onResponse: (r: ParsedResponse) => void): boolean {
    if (this.state === State.UntilClose) {
      this.complete(onResponse);
      return false;
    }
    return this.inResponse;
  }

  /** Parses a head; true when the response has no body (complete already). */
  private head(text: string): boolean {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) throw new HttpResponseError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    this.status = Number(m[2]);
    let keepAlive = m[1] === '1';
    let length: number | undefined;
    let chunked = false;
    for (let k = 1; k < lines.length; k++) {
      const l = lines[k]!;
      const colon = l.indexOf(':');
      if (colon <= 0) throw new HttpResponseError(`malformed header line: ${JSON.stringify(l.slice(0, 80))}`);
      const name = l.slice(0, colon).trim().toLowerCase();
      if (name === 'content-length') {
        const v = l.slice(colon + 1).trim();
        if (!/^\d+$/.test(v) || (length !== undefined && length !== Number(v))) throw new HttpResponseError(`bad content-length: ${JSON.stringify(v)}`);
        length = Number(v);
      } else if (name === 'transfer-encoding') {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(l.slice(colon + 1));
      } else if (name === 'connection') {
        const v = l.slice(colon + 1).toLowerCase();
        if (/\bclose\b/.test(v)) keepAlive = false;
        else if (/\bkeep-alive\b/.test(v)) keepAlive = true;
      }
    }
    this.keepAlive = keepAlive;
    if (this.status < 200) {
      // 100 Continue, 103 Early Hints: interim, the real response follows.
      this.state = State.Head;
      return false;
    }
    if (this.status === 204 || this.status === 304) return true;
    if (chunked) {
      this.state = State.ChunkSize;
      return false;
    }
    if (length !== undefined) {
      if (length === 0) return true;
      this.remaining = length;
      this.state = State.Body;
      return false;
    }
    // Neither length nor chunked: the body is delimited by the close (RFC 9112 §6.3).
    this.keepAlive = false;
    this.state = State.UntilClose;
    return false;
  }

  private onLine(line: string, onResponse: (r: ParsedResponse) => void): void {
    if (this.state === State.ChunkSize) {
      const hex = line.split(';', 1)[0]!.trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new HttpResponseError(`bad chunk size: ${JSON.stringify(line.slice(0, 40))}`);
      const size = parseInt(hex, 16);
      if (size === 0) this.state = State.Trailers;
      else {
        this.remaining = size;
        this.state = State.ChunkData;
      }
    } else if (this.state === State.ChunkDataEnd) {
      if (line !== '') throw new HttpResponseError('chunk data longer than its size');
      this.state = State.ChunkSize;
    } else if (line === '') {
      this.complete(onResponse);
    }
    // Otherwise a trailer field: skipped.
  }

  private complete(onResponse: (r: ParsedResponse) => void): void {
    this.state = State.Head;
    onResponse({ status: this.status, keepAlive: this.keepAlive });
  }
}
