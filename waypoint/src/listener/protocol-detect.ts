// Protocol sniffing over the first bytes of a tunnel (pure), Envoy's http_inspector: the HTTP/2
// connection preface means h2c, an HTTP/1.x request line means http/1.1, anything else is tcp.
// `need-more` asks the caller to wait for more bytes (bounded by MAX_INSPECT_BYTES and a timeout).

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Beyond this many bytes without a complete request line the stream is not HTTP/1. */
export const MAX_INSPECT_BYTES = 8 * 1024;

export type DetectResult = 'h2c' | 'http/1.1' | 'tcp' | 'need-more';

// RFC 9110 token characters, for the method.
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function detectProtocol(buf: Buffer): DetectResult {
  if (buf.length === 0) return 'need-more';
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return buf.length >= H2_PREFACE.length ? 'h2c' : 'need-more';
  const eol = buf.indexOf('\r\n', 0, 'latin1');
  const line = buf.subarray(0, eol >= 0 ? eol : Math.min(buf.length, MAX_INSPECT_BYTES)).toString('latin1');
  const sp1 = line.indexOf(' ');
  // The method is a token: the first non-token byte before a space settles it as not HTTP.
  const method = sp1 >= 0 ? line.slice(0, sp1) : line;
  if (method.length > 0 && !TCHAR.test(method)) return 'tcp';
  if (eol < 0) return buf.length >= MAX_INSPECT_BYTES ? 'tcp' : 'need-more';
  const parts = line.split(' ');
  if (parts.length !== 3 || !parts[0] || !parts[1]) return 'tcp';
  return /^HTTP\/1\.[01]$/.test(parts[2]!) ? 'http/1.1' : 'tcp';
}
