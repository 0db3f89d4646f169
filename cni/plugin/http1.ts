// The little HTTP/1.1 the plugin needs for one request on the agent's unix socket: the POST to send
// and an incremental parser for the (small) answer: Content-Length, chunked or close-delimited.
// Our own because loading node:http costs the plugin tens of milliseconds per pod start, while
// node:net is nearly free; pure, so the parser is table-tested.

/** An agent answer is a few hundred bytes; anything near this is not our agent. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export function renderPost(path: string, jsonBody: string): Buffer {
  const body = Buffer.from(jsonBody, 'utf8');
  const head =
    `POST ${path} HTTP/1.1\r\n` +
    'Host: ambient-cni-agent\r\n' +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${body.length}\r\n` +
    'Connection: close\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export type ParsedResponse =
  | { kind: 'incomplete' }
  | { kind: 'complete'; status: number; body: string }
  | { kind: 'invalid'; error: string };

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/** Parses what arrived so far; `ended` says the peer closed (ends a close-delimited body). */
export function parseResponse(buf: Buffer, ended: boolean): ParsedResponse {
  if (buf.length > MAX_RESPONSE_BYTES) return { kind: 'invalid', error: `response larger than ${MAX_RESPONSE_BYTES} bytes` };
  const headEnd = buf.indexOf(HEAD_END);
  if (headEnd < 0) return ended ? { kind: 'invalid', error: 'connection closed before a complete response head' } : { kind: 'incomplete' };
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) return { kind: 'invalid', error: `bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}` };
  const status = Number(m[1]);
  const rest = buf.subarray(headEnd + HEAD_END.length);
  // An interim response (100 Continue) precedes the real one.
  if (status >= 100 && status < 200) return parseResponse(rest, ended);

  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'invalid', error: `bad header line ${JSON.stringify(line.slice(0, 80))}` };
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if (status === 204 || status === 304) return { kind: 'complete', status, body: '' };

  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) return parseChunked(rest, status, ended);
  const lengthText = headers.get('content-length');
  if (lengthText !== undefined) {
    if (!/^\d+$/.test(lengthText)) return { kind: 'invalid', error: `bad Content-Length ${JSON.stringify(lengthText)}` };
    const length = Number(lengthText);
    if (rest.length >= length) return { kind: 'complete', status, body: rest.subarray(0, length).toString('utf8') };
    return ended ? { kind: 'invalid', error: `connection closed after ${rest.length} of ${length} body bytes` } : { kind: 'incomplete' };
  }
  return ended ? { kind: 'complete', status, body: rest.toString('utf8') } : { kind: 'incomplete' };
}

function parseChunked(data: Buffer, status: number, ended: boolean): ParsedResponse {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf(CRLF, at);
    if (lineEnd < 0) break;
    const sizeText = data.subarray(at, lineEnd).toString('latin1').split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) return { kind: 'invalid', error: `bad chunk size ${JSON.stringify(sizeText.slice(0, 20))}` };
    const size = parseInt(sizeText, 16);
    // The last chunk; trailers, if any, do not matter to us.
    if (size === 0) return { kind: 'complete', status, body: Buffer.concat(parts).toString('utf8') };
    const start = lineEnd + CRLF.length;
    if (data.length < start + size + CRLF.length) break;
    parts.push(data.subarray(start, start + size));
    at = start + size + CRLF.length;
  }
  return ended ? { kind: 'invalid', error: 'connection closed inside a chunked body' } : { kind: 'incomplete' };
}
