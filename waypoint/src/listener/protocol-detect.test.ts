import { describe, expect, it } from 'vitest';
import { detectProtocol, H2_PREFACE, MAX_INSPECT_BYTES } from './protocol-detect.ts';

describe('detectProtocol', () => {
  it.each([
    ['', 'need-more'],
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'h2c'],
    ['PRI * HTTP/2.0\r\n', 'need-more'],
    ['GET / HTTP/1.1\r\n', 'http/1.1'],
    ['POST /api?x=1 HTTP/1.0\r\nhost: a\r\n\r\n', 'http/1.1'],
    ['OPTIONS * HTTP/1.1\r\n', 'http/1.1'],
    ['GET / HTTP/1.1', 'need-more'],
    ['GE', 'need-more'],
    ['GET / HTTP/2.0\r\n', 'tcp'],
    ['GET /\r\n', 'tcp'],
    ['\x16\x03\x01\x02\x00', 'tcp'], // a TLS ClientHello
    ['SSH-2.0-OpenSSH_9.6\r\n', 'tcp'],
    ['hello world\r\n', 'tcp'],
  ])('%j → %s', (text, want) => expect(detectProtocol(Buffer.from(text, 'latin1'))).toBe(want));

  it('the full preface plus frames is h2c', () => {
    expect(detectProtocol(Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]))).toBe('h2c');
  });

  it('a request line longer than the inspection limit is not HTTP', () => {
    expect(detectProtocol(Buffer.from(`GET /${'a'.repeat(MAX_INSPECT_BYTES)}`))).toBe('tcp');
  });
});
