// lab/istio-echo-client: the `client` command of Istio's echo image, which the Gateway API
// conformance suite runs in its echo pods through `kubectl exec` (pods/exec, container `echo`):
//   client http://echo-v1:8080/path --method=GET -H name:value --count=500
// It sends `--count` requests (at most 20 at a time, a new connection each, redirects not followed
// unless -L; `grpc://host:port` calls proto.EchoTestService/Echo over h2c), and prints each answer as `[i] key=value` / `[i body] line` blocks separated by blank
// lines (istio-echo-format.ts). Any failed request fails the run: nothing on stdout, the error on
// stderr, exit 1, as the real client does. The whole set shares one `--timeout` (default 5s).
// Names resolve through the pod's resolver (the host's resolv.conf; in an ambient pod with DNS
// capture, ztunnel's DNS proxy answers for mesh services).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as h2connect, constants as h2c } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { plainAddress } from './program.ts';
import { decodeEchoMessage, ECHO_GRPC_PATH, encodeEchoMessage, formatClientResult, formatGrpcResult, joinBlocks, parseClientArgs, requestTarget, type ClientResult, type EchoClientArgs, type RequestTarget } from './istio-echo-format.ts';

const MAX_CONCURRENCY = 20;
const MAX_REDIRECTS = 10;

class RequestFailed extends Error {
  readonly code = 'ECHO_CLIENT_REQUEST_FAILED';
}

let active = 0;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  sourceIp: string;
}

function http1(args: EchoClientArgs, t: RequestTarget, signal: AbortSignal): Promise<Answer> {
  const headers: Record<string, string> = { host: t.authority };
  for (const [k, v] of args.headers) if (k.toLowerCase() !== 'host') headers[k] = v;
  const send = t.scheme === 'https' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send({
      host: t.hostname, port: t.port, path: t.path, method: args.method || 'GET', headers,
      agent: false, signal, timeout: args.timeoutMs,
      ...(t.scheme === 'https' ? { rejectUnauthorized: !args.insecureSkipVerify, servername: t.authority.replace(/:\d+$/, '') } : {}),
    }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headersDistinct, body: Buffer.concat(chunks).toString('utf8'), sourceIp: plainAddress(res.socket?.localAddress) }));
    });
    req.on('timeout', () => req.destroy(new RequestFailed(`context deadline exceeded (Client.Timeout exceeded while awaiting headers) after ${args.timeoutMs}ms`)));
    req.on('error', (err) => reject(err));
    req.end();
  });
}

function http2(args: EchoClientArgs, t: RequestTarget, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`${t.scheme}://${t.hostname.includes(':') ? `[${t.hostname}]` : t.hostname}:${t.port}`, { signal } as Parameters<typeof h2connect>[1]);
    session.on('error', reject);
    const headers: Record<string, string> = { [h2c.HTTP2_HEADER_METHOD]: args.method || 'GET', [h2c.HTTP2_HEADER_PATH]: t.path, [h2c.HTTP2_HEADER_AUTHORITY]: t.authority, [h2c.HTTP2_HEADER_SCHEME]: t.scheme };
    for (const [k, v] of args.headers) if (k.toLowerCase() !== 'host') headers[k.toLowerCase()] = v;
    const stream = session.request(headers, { endStream: true });
    stream.setTimeout(args.timeoutMs, () => stream.close(h2c.NGHTTP2_CANCEL));
    const chunks: Buffer[] = [];
    let status = 0;
    let got: Record<string, string | string[] | undefined> = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      got = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':')));
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('close', () => {
      const sourceIp = plainAddress(session.socket?.localAddress);
      session.close();
      if (status === 0) reject(new RequestFailed(`stream closed without a response (code ${stream.rstCode})`));
      else resolve({ status, headers: got, body: Buffer.concat(chunks).toString('utf8'), sourceIp });
    });
  });
}

/** A unary Echo call over h2c: the `message` of the response and its header metadata. */
function grpcCall(args: EchoClientArgs, t: RequestTarget, signal: AbortSignal): Promise<{ message: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`http://${t.hostname.includes(':') ? `[${t.hostname}]` : t.hostname}:${t.port}`, { signal } as Parameters<typeof h2connect>[1]);
    session.on('error', reject);
    const headers: Record<string, string> = {
      [h2c.HTTP2_HEADER_METHOD]: 'POST', [h2c.HTTP2_HEADER_PATH]: ECHO_GRPC_PATH, [h2c.HTTP2_HEADER_AUTHORITY]: t.authority, [h2c.HTTP2_HEADER_SCHEME]: 'http',
      'content-type': 'application/grpc', te: 'trailers',
    };
    for (const [k, v] of args.headers) if (k.toLowerCase() !== 'host') headers[k.toLowerCase()] = v;
    const stream = session.request(headers);
    stream.setTimeout(args.timeoutMs, () => stream.close(h2c.NGHTTP2_CANCEL));
    stream.end(encodeEchoMessage(args.message));
    const chunks: Buffer[] = [];
    let got: Record<string, string | string[] | undefined> = {};
    let status: string | undefined;
    let grpcMessage = '';
    stream.on('response', (h) => {
      got = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':')));
      // A trailers-only answer carries the status in the headers.
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
    });
    stream.on('trailers', (tr) => {
      status = String(tr['grpc-status'] ?? status ?? '');
      grpcMessage = decodeURIComponent(String(tr['grpc-message'] ?? ''));
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      if (status !== '0') return reject(new RequestFailed(`rpc error: code = ${status ?? 'Unavailable'} desc = ${grpcMessage || `stream closed (code ${stream.rstCode})`}`));
      const msg = decodeEchoMessage(Buffer.concat(chunks));
      if (!msg.ok) return reject(new RequestFailed(msg.error));
      delete got['content-type'];
      delete got['grpc-status'];
      resolve({ message: msg.value, headers: got });
    });
  });
}

async function oneGrpc(i: number, args: EchoClientArgs, signal: AbortSignal): Promise<string> {
  const started = performance.now();
  active++;
  try {
    const target = requestTarget(args.url, args.headers);
    if (!target.ok) throw new RequestFailed(target.error);
    const r = await grpcCall(args, target.value, signal);
    return formatGrpcResult(i, { latencyMs: performance.now() - started, activeRequests: active, message: r.message, headers: r.headers });
  } finally {
    active--;
  }
}

async function one(args: EchoClientArgs, signal: AbortSignal): Promise<ClientResult> {
  const started = performance.now();
  active++;
  try {
    let url = args.url;
    for (let hop = 0; ; hop++) {
      const target = requestTarget(url, args.headers);
      if (!target.ok) throw new RequestFailed(target.error);
      const a = await (args.http2 ? http2 : http1)(args, target.value, signal);
      const location = a.headers.location;
      if (args.followRedirects && a.status >= 300 && a.status < 400 && location && hop < MAX_REDIRECTS) {
        url = new URL(String(location), url).toString();
        continue;
      }
      return {
        url: args.url,
        sentHeaders: args.headers.filter(([k]) => k.toLowerCase() !== 'host'),
        sourceIp: a.sourceIp,
        latencyMs: performance.now() - started,
        activeRequests: active,
        status: a.status,
        responseHeaders: a.headers,
        body: a.body,
      };
    }
  } finally {
    active--;
  }
}

async function main(): Promise<number> {
  const parsed = parseClientArgs(process.argv.slice(2));
  if (!parsed.ok) {
    process.stderr.write(`Error: ${parsed.error}\n`);
    return 2;
  }
  const args = parsed.value;
  const signal = AbortSignal.timeout(args.timeoutMs);
  const grpc = args.url.toLowerCase().startsWith('grpc://');
  const blocks: string[] = new Array<string>(args.count);
  const errors: Error[] = [];
  let next = 0;
  let done = 0;
  const intervalMs = args.qps > 0 ? 1000 / args.qps : 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= args.count || signal.aborted) return;
      if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
      try {
        blocks[i] = grpc ? await oneGrpc(i, args, signal) : formatClientResult(i, await one(args, signal));
        done++;
      } catch (err) {
        errors.push(err as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENCY, args.count) }, worker));
  if (signal.aborted && done < args.count) {
    process.stderr.write(`Error request set timed out after ${args.timeoutMs / 1000}s and only ${done}/${args.count} requests completed\n`);
    return 1;
  }
  if (errors.length > 0) {
    process.stderr.write(`Error ${errors.length}/${args.count} requests had errors; first error: ${errors[0]!.message}\n`);
    return 1;
  }
  process.stdout.write(joinBlocks(blocks));
  return 0;
}

process.exitCode = await main();
