import { describe, expect, it } from 'vitest';
import { HttpResponseError, ResponseParser, type ParsedResponse } from './http-response.ts';

/** Feeds `text` split at every offset in turn (and whole), expecting the same responses each time. */
function parseAllSplits(text: string): ParsedResponse[] {
  const bytes = Buffer.from(text, 'latin1');
  const whole = parse([bytes]);
  for (let cut = 1; cut < bytes.length; cut++) {
    expect(parse([bytes.subarray(0, cut), bytes.subarray(cut)]), `split at ${cut}`).toEqual(whole);
  }
  expect(parse([...bytes].map((b) => Buffer.from([b]))), 'byte by byte').toEqual(whole);
  return whole;
}

function parse(chunks: Buffer[], closed = false): ParsedResponse[] {
  const p = new ResponseParser();
  const out: ParsedResponse[] = [];
  for (const c of chunks) p.feed(c, (r) => out.push(r));
  if (closed) p.end((r) => out.push(r));
  return out;
}

const body = (n: number) => 'x'.repeat(n);

describe('bench/waypoint HTTP/1.1 response parser', () => {
  it.each([
    ['content-length', `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 5\r\n\r\nhello`, [{ status: 200, keepAlive: true }]],
    ['empty body', `HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n`, [{ status: 201, keepAlive: true }]],
    ['chunked with extensions and trailers', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-echo-pod\r\n\r\n5;ext=1\r\nhello\r\nA\r\n${body(10)}\r\n0\r\nx-echo-pod: echo-1\r\n\r\n`, [{ status: 200, keepAlive: true }]],
    ['chunked without trailers', `HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, [{ status: 200, keepAlive: true }]],
    ['connection: close', `HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno`, [{ status: 503, keepAlive: false }]],
    ['HTTP/1.0 closes unless keep-alive', `HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\naHTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 1\r\n\r\nb`, [{ status: 200, keepAlive: false }, { status: 200, keepAlive: true }]],
    ['100 Continue is interim', `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`, [{ status: 200, keepAlive: true }]],
    ['204 and 304 carry no body', `HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n`, [{ status: 204, keepAlive: true }, { status: 304, keepAlive: true }]],
    ['back-to-back responses', `HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nz`, [{ status: 200, keepAlive: true }, { status: 404, keepAlive: true }, { status: 200, keepAlive: true }]],
  ])('%s', (_, text, want) => {
    expect(parseAllSplits(text)).toEqual(want);
  });

  it('a body without length or chunking runs to the close and ends keep-alive', () => {
    const bytes = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it`, 'latin1');
    expect(parse([bytes])).toEqual([]);
    expect(parse([bytes], true)).toEqual([{ status: 200, keepAlive: false }]);
  });

  it('tells whether a close cuts a response short', () => {
    const p = new ResponseParser();
    const out: ParsedResponse[] = [];
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'), (r) => out.push(r));
    expect(p.inResponse).toBe(true);
    expect(p.end((r) => out.push(r))).toBe(true);
    const q = new ResponseParser();
    q.feed(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na'), (r) => out.push(r));
    expect(q.inResponse).toBe(false);
    expect(q.end((r) => out.push(r))).toBe(false);
    expect(out).toEqual([{ status: 200, keepAlive: true }]);
  });

  it.each([
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n\r\n'],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['bad content-length', 'HTTP/1.1 200 OK\r\ncontent-length: 12x\r\n\r\n'],
    ['conflicting content-lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n'],
    ['header without colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n'],
    ['bad chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk longer than its size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nabc\r\n'],
  ])('rejects %s', (_, text) => {
    expect(() => parse([Buffer.from(text, 'latin1')])).toThrow(HttpResponseError);
  });

  it('bounds a head that never ends', () => {
    const p = new ResponseParser();
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\n'), () => {});
    expect(() => {
      for (let k = 0; k < 100; k++) p.feed(Buffer.from(`x-filler-${k}: ${'y'.repeat(1000)}\r\n`), () => {});
    }).toThrow(/longer than/);
  });
});
