import { describe, expect, it } from 'vitest';
import { MAX_RESPONSE_BYTES, parseResponse, renderPost } from './http1.ts';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('HTTP/1.1 request', () => {
  it('renders a POST with a byte-exact Content-Length and Connection: close', () => {
    const text = renderPost('/cmdadd', '{"podName":"é"}').toString('utf8');
    expect(text).toBe(
      'POST /cmdadd HTTP/1.1\r\nHost: ambient-cni-agent\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{"podName":"é"}',
    );
  });
});

describe('HTTP/1.1 response parsing', () => {
  const ok = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"captured":true}';
  it.each([
    { name: 'content-length', raw: ok, ended: false, want: { kind: 'complete', status: 200, body: '{"captured":true}' } },
    { name: 'content-length, partial body', raw: ok.slice(0, -3), ended: false, want: { kind: 'incomplete' } },
    { name: 'content-length, cut by close', raw: ok.slice(0, -3), ended: true, want: { kind: 'invalid', error: 'connection closed after 14 of 17 body bytes' } },
    { name: 'partial head', raw: 'HTTP/1.1 200 OK\r\nContent-Le', ended: false, want: { kind: 'incomplete' } },
    { name: 'partial head then close', raw: 'HTTP/1.1 200 OK\r\n', ended: true, want: { kind: 'invalid', error: 'connection closed before a complete response head' } },
    {
      name: 'chunked',
      raw: 'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{"erro\r\na;ext=1\r\nr":"down"}\r\n0\r\n\r\n',
      ended: false,
      want: { kind: 'complete', status: 503, body: '{"error":"down"}' },
    },
    { name: 'chunked, partial', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{"ca', ended: false, want: { kind: 'incomplete' } },
    { name: 'chunked, cut by close', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{"ca', ended: true, want: { kind: 'invalid', error: 'connection closed inside a chunked body' } },
    { name: 'chunked, bad size', raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', ended: false, want: { kind: 'invalid', error: 'bad chunk size "zz"' } },
    { name: 'close-delimited, open', raw: 'HTTP/1.0 200 OK\r\n\r\n{"captured":', ended: false, want: { kind: 'incomplete' } },
    { name: 'close-delimited, ended', raw: 'HTTP/1.0 200 OK\r\n\r\n{"captured":false}', ended: true, want: { kind: 'complete', status: 200, body: '{"captured":false}' } },
    { name: '100 Continue first', raw: `HTTP/1.1 100 Continue\r\n\r\n${ok}`, ended: false, want: { kind: 'complete', status: 200, body: '{"captured":true}' } },
    { name: '204 has no body', raw: 'HTTP/1.1 204 No Content\r\n\r\n', ended: false, want: { kind: 'complete', status: 204, body: '' } },
    { name: 'status line without reason', raw: 'HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n', ended: false, want: { kind: 'complete', status: 500, body: '' } },
    { name: 'not HTTP', raw: 'SSH-2.0-OpenSSH\r\n\r\n', ended: false, want: { kind: 'invalid', error: 'bad status line "SSH-2.0-OpenSSH"' } },
    { name: 'bad header', raw: 'HTTP/1.1 200 OK\r\nnocolon\r\n\r\n', ended: false, want: { kind: 'invalid', error: 'bad header line "nocolon"' } },
    { name: 'bad content-length', raw: 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', ended: false, want: { kind: 'invalid', error: 'bad Content-Length "-1"' } },
  ])('$name', ({ raw, ended, want }) => {
    expect(parseResponse(b(raw), ended)).toEqual(want);
  });

  it('gives up on a response larger than any agent answer', () => {
    const big = Buffer.alloc(MAX_RESPONSE_BYTES + 1, 'a');
    expect(parseResponse(big, false)).toEqual({ kind: 'invalid', error: `response larger than ${MAX_RESPONSE_BYTES} bytes` });
  });

  it('parses the same bytes whatever the chunking (byte by byte)', () => {
    const raw = b(ok);
    let last = parseResponse(raw.subarray(0, 0), false);
    for (let i = 1; i <= raw.length; i++) {
      last = parseResponse(raw.subarray(0, i), false);
      if (i < raw.length) expect(last).toEqual({ kind: 'incomplete' });
    }
    expect(last).toEqual({ kind: 'complete', status: 200, body: '{"captured":true}' });
  });
});
