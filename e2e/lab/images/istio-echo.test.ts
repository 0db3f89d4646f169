// lab/istio-echo and lab/istio-echo-client, the lab's stand-ins for Istio's echo image that the
// Gateway API conformance suite deploys: the flags the suite's manifests pass, and the client's output
// read back the way the suite's Go parser reads it (conformance/utils/echo/parse.go: the first match
// of `Field=(.*)` anywhere in the output, `RequestHeader=`/`ResponseHeader=` lines split at the first
// colon, `body] ` lines, and batch output split at blank lines). The parser below is our own,
// written from that format. No root needed: real processes on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { imageCommands, resolveImage } from './catalogue.ts';
import { canonicalHeaderKey, decodeEchoMessage, encodeEchoMessage, formatClientOutput, parseClientArgs, parseGoDuration, parseServerArgs, planEchoHttp, requestTarget } from './istio-echo-format.ts';

const REPO = join(new URL('.', import.meta.url).pathname, '../../..');
const IMAGE = 'registry.k8s.io/gateway-api/echo-advanced:v1.5.1';

// --- a parser with the suite's semantics ---------------------------------------------------------

interface SuiteResponse {
  code: string;
  host: string;
  hostname: string;
  method: string;
  protocol: string;
  url: string;
  version: string;
  port: string;
  ip: string;
  /** Lower-cased names (the suite compares case-insensitively), values in order. */
  requestHeaders: Map<string, string[]>;
  responseHeaders: Map<string, string[]>;
  body: Map<string, string>;
}

function firstMatch(output: string, field: string): string {
  // Go's regexp `Field=(.*)`: `.` stops at a newline; the first match anywhere wins.
  const m = new RegExp(`${field}=(.*)`).exec(output);
  return m ? m[1]! : '';
}

function headerLines(output: string, field: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of output.matchAll(new RegExp(`${field}=(.*)`, 'g'))) {
    const kv = m[1]!;
    const colon = kv.indexOf(':');
    if (colon < 0) continue;
    const k = kv.slice(0, colon).toLowerCase();
    out.set(k, [...(out.get(k) ?? []), kv.slice(colon + 1)]);
  }
  return out;
}

function parseSuiteResponse(output: string): SuiteResponse {
  const body = new Map<string, string>();
  for (const line of output.split('\n')) {
    const parts = line.split('body] ');
    if (parts.length !== 2) continue;
    const eq = parts[1]!.indexOf('=');
    if (eq >= 0) body.set(parts[1]!.slice(0, eq), parts[1]!.slice(eq + 1));
  }
  return {
    code: firstMatch(output, 'StatusCode'),
    host: firstMatch(output, 'Host'),
    hostname: firstMatch(output, 'Hostname'),
    method: firstMatch(output, 'Method'),
    protocol: firstMatch(output, 'Proto'),
    url: firstMatch(output, 'URL'),
    version: firstMatch(output, 'ServiceVersion'),
    port: firstMatch(output, 'ServicePort'),
    ip: firstMatch(output, 'IP'),
    requestHeaders: headerLines(output, 'RequestHeader'),
    responseHeaders: headerLines(output, 'ResponseHeader'),
    body,
  };
}

/** The suite's batch reading (RequestBatch): sections between blank lines with a Hostname or a code. */
function parseBatch(output: string): SuiteResponse[] {
  return output.split('\n\n').map((s) => s.trim()).filter(Boolean).map(parseSuiteResponse).filter((r) => r.hostname !== '' || r.code !== '');
}

// --- processes -----------------------------------------------------------------------------------

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Server {
  child: ChildProcess;
  http: number[];
  grpc: number[];
  tcp: number[];
  lines: string[];
}

async function startServer(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const resolved = resolveImage(IMAGE);
  if ('error' in resolved) throw new Error(resolved.error);
  const child = spawn(process.execPath, [join(REPO, resolved.program), ...args], {
    env: { PATH: process.env.PATH, NODE_OPTIONS: process.env.NODE_OPTIONS, POD_NAME: 'echo-v1-5d8f7-x2x9q', POD_NAMESPACE: 'gateway-conformance-mesh', BIND_ADDRESS: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 10 s: ${stderr}`)), 10_000);
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${stderr} ${lines.join('\n')}`)));
    let listening: { http: number[]; grpc: number[]; tcp: number[] } | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const v = JSON.parse(line) as { msg: string; http?: number[]; grpc?: number[]; tcp?: number[] };
      if (v.msg === 'istio-echo listening') listening = { http: v.http ?? [], grpc: v.grpc ?? [], tcp: v.tcp ?? [] };
      if (v.msg === 'ready' && listening) {
        clearTimeout(timer);
        resolve({ child, lines, ...listening });
      }
    });
  });
}

function runClient(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const program = imageCommands(IMAGE).client;
  if (!program) throw new Error('the echo-advanced image has no client command');
  const child = spawn(process.execPath, [join(REPO, program), ...args], { env: { PATH: process.env.PATH, NODE_OPTIONS: process.env.NODE_OPTIONS }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

// --- tests ---------------------------------------------------------------------------------------

describe('the catalogue entry', () => {
  it('maps the suite image, any tag, to the echo server and its client command', () => {
    expect(resolveImage(IMAGE)).toEqual({ program: 'e2e/lab/images/istio-echo.ts', runMode: 'pod-netns' });
    expect(imageCommands('registry.k8s.io/gateway-api/echo-advanced@sha256:0123')).toEqual({ client: 'e2e/lab/images/istio-echo-client.ts' });
    expect(imageCommands('lab/http-echo')).toEqual({});
  });
});

describe('server flags', () => {
  it('reads the mesh manifests\' arguments; repeated flags append after replacing the default', () => {
    const r = parseServerArgs(['--tcp=9090', '--port=8080', '--grpc=7070', '--port=8443', '--tls=8443', '--crt=/cert.crt', '--key=/cert.key']);
    expect(r).toEqual({ ok: true, value: { http: [8080, 8443], grpc: [7070], tcp: [9090], tls: [8443], version: '', cluster: '', crt: '/cert.crt', key: '/cert.key' } });
  });
  it('defaults to 8080 (HTTP), 7070 (gRPC), 9090 (TCP) without arguments (the consumer namespace\'s pod)', () => {
    expect(parseServerArgs([])).toMatchObject({ ok: true, value: { http: [8080], grpc: [7070], tcp: [9090], tls: [] } });
  });
  it('takes space-separated values and comma lists; rejects unknown flags and bad ports', () => {
    expect(parseServerArgs(['--port', '80,81', '--version', 'v2'])).toMatchObject({ ok: true, value: { http: [80, 81], version: 'v2' } });
    expect(parseServerArgs(['--bogus=1'])).toEqual({ ok: false, error: 'unknown flag: --bogus' });
    expect(parseServerArgs(['--port=http'])).toMatchObject({ ok: false });
    expect(parseServerArgs(['--port'])).toMatchObject({ ok: false });
  });
});

describe('client flags', () => {
  it('reads the command the suite execs', () => {
    const r = parseClientArgs(['http://echo-v1:8080/v2/example', '--method=GET', '-H', 'x-request-id:abc', '-H', 'Host:foo.example', '--count=500']);
    expect(r).toEqual({ ok: true, value: { url: 'http://echo-v1:8080/v2/example', count: 500, timeoutMs: 5000, qps: 0, method: 'GET', headers: [['x-request-id', 'abc'], ['Host', 'foo.example']], http2: false, followRedirects: false, insecureSkipVerify: false, message: 'HelloWorld' } });
  });
  it('adds the scheme, reads durations and boolean flags, rejects what the real client rejects', () => {
    expect(parseClientArgs(['echo/x', '--timeout=1.5s', '-L', '--http2'])).toMatchObject({ ok: true, value: { url: 'http://echo/x', timeoutMs: 1500, followRedirects: true, http2: true } });
    expect(parseClientArgs([])).toEqual({ ok: false, error: 'accepts 1 arg(s), received 0' });
    expect(parseClientArgs(['http://a', '-H', 'no-colon'])).toMatchObject({ ok: false });
    expect(parseClientArgs(['http://a', '--nope'])).toEqual({ ok: false, error: 'unknown flag: --nope' });
  });
  it('sends to the URL host and port with the Host header as authority when given', () => {
    expect(requestTarget('http://echo-v1:8080', [])).toEqual({ ok: true, value: { scheme: 'http', hostname: 'echo-v1', port: 8080, path: '/', authority: 'echo-v1:8080' } });
    expect(requestTarget('http://echo/a/../b?x=1', [['host', 'other']])).toEqual({ ok: true, value: { scheme: 'http', hostname: 'echo', port: 80, path: '/a/../b?x=1', authority: 'other' } });
    expect(requestTarget('http://[fd00::1]:81/', [])).toMatchObject({ ok: true, value: { hostname: 'fd00::1', port: 81 } });
    expect(requestTarget('grpc://echo:7070', [])).toMatchObject({ ok: true, value: { scheme: 'grpc', hostname: 'echo', port: 7070 } });
    expect(requestTarget('tcp://echo:9090', [])).toMatchObject({ ok: false });
  });
});

describe('formats', () => {
  it('frames and reads EchoRequest/EchoResponse messages', () => {
    const framed = encodeEchoMessage('HelloWorld');
    expect([...framed.subarray(0, 7)]).toEqual([0, 0, 0, 0, 12, 0x0a, 10]);
    expect(decodeEchoMessage(framed)).toEqual({ ok: true, value: 'HelloWorld' });
    const long = 'x'.repeat(300);
    expect(decodeEchoMessage(encodeEchoMessage(long))).toEqual({ ok: true, value: long });
    expect(decodeEchoMessage(encodeEchoMessage(''))).toEqual({ ok: true, value: '' });
    expect(decodeEchoMessage(Buffer.from([0, 0, 0, 0, 9, 0x0a]))).toMatchObject({ ok: false });
    expect(decodeEchoMessage(Buffer.from([1, 0, 0, 0, 0]))).toMatchObject({ ok: false });
  });
  it('canonicalises header keys as Go does', () => {
    expect(canonicalHeaderKey('x-request-id')).toBe('X-Request-Id');
    expect(canonicalHeaderKey('CONTENT-type')).toBe('Content-Type');
    expect(canonicalHeaderKey('bad key')).toBe('bad key');
  });
  it('reads Go durations', () => {
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('5')).toBeUndefined();
    expect(parseGoDuration('-1s')).toBeUndefined();
  });
  it('plans codes by weight, response headers and delays from the query', () => {
    expect(planEchoHttp('/?codes=503:1,200:3', 0.1).status).toBe(503);
    expect(planEchoHttp('/?codes=503:1,200:3', 0.9).status).toBe(200);
    expect(planEchoHttp('/?headers=x-a:1,x-b:2&delay=10ms', 0)).toEqual({ status: 200, headers: [['x-a', '1'], ['x-b', '2']], delayMs: 10, errors: [] });
    expect(planEchoHttp('/?codes=abc', 0)).toMatchObject({ status: 400, errors: [expect.stringContaining('codes error')] });
  });
  it('separates the blocks of a batch with blank lines', () => {
    const out = formatClientOutput([1, 2].map((n) => ({ url: 'http://echo', sentHeaders: [], sourceIp: '10.0.0.1', latencyMs: 1.5, activeRequests: 1, status: 200, responseHeaders: {}, body: `Hostname=echo-v${n}-x\n` })));
    expect(out).toBe(['[0] Url=http://echo', '[0] SourceIP=10.0.0.1', '[0] Latency=1.5ms', '[0] ActiveRequests=1', '[0] StatusCode=200', '[0 body] Hostname=echo-v1-x', '',
      '[1] Url=http://echo', '[1] SourceIP=10.0.0.1', '[1] Latency=1.5ms', '[1] ActiveRequests=1', '[1] StatusCode=200', '[1 body] Hostname=echo-v2-x', '', ''].join('\n'));
    expect(parseBatch(out).map((r) => r.hostname)).toEqual(['echo-v1-x', 'echo-v2-x']);
  });
});

describe('client against server', () => {
  it('answers what the suite compares: status, request headers, Hostname, and the fields it reads', async () => {
    const s = await startServer(['--port=0', '--grpc=0', '--tcp=0']);
    const port = s.http[0]!;
    const r = await runClient([`http://127.0.0.1:${port}/v2/example?a=1`, '--method=POST', '-H', 'Host:echo', '-H', 'x-header-set:set-value', '-H', 'X-Multi:a']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const resp = parseSuiteResponse(r.stdout);
    expect(resp).toMatchObject({ code: '200', host: 'echo', hostname: 'echo-v1-5d8f7-x2x9q', method: 'POST', protocol: 'HTTP/1.1', url: '/v2/example?a=1', version: '', port: String(port), ip: '127.0.0.1' });
    expect(resp.requestHeaders.get('x-header-set')).toEqual(['set-value']);
    expect(resp.requestHeaders.get('x-multi')).toEqual(['a']);
    expect(resp.requestHeaders.has('host')).toBe(false);
    expect(resp.responseHeaders.get('content-type')).toEqual(['application/text']);
    expect(resp.body.get('Hostname')).toBe('echo-v1-5d8f7-x2x9q');
  });

  it('reports redirects and chosen codes without following them; echoes ?headers= as response headers', async () => {
    const s = await startServer(['--port=0', '--grpc=0', '--tcp=0']);
    const r = await runClient([`http://127.0.0.1:${s.http[0]}/?codes=308&headers=location:/elsewhere`]);
    expect(r.code).toBe(0);
    const resp = parseSuiteResponse(r.stdout);
    expect(resp.code).toBe('308');
    expect(resp.responseHeaders.get('location')).toEqual(['/elsewhere']);
  });

  it('prints --count answers the batch reader finds, one per request', async () => {
    const s = await startServer(['--port=0', '--grpc=0', '--tcp=0', '--version=v2']);
    const r = await runClient([`http://127.0.0.1:${s.http[0]}/`, '--count=45']);
    expect(r.code).toBe(0);
    const batch = parseBatch(r.stdout);
    expect(batch).toHaveLength(45);
    expect(batch.every((b) => b.code === '200' && b.hostname === 'echo-v1-5d8f7-x2x9q' && b.version === 'v2')).toBe(true);
    // Each block carries its own index.
    expect(r.stdout).toContain('[44 body] Hostname=echo-v1-5d8f7-x2x9q');
  });

  it('answers plain HTTP/2 on the gRPC port, with --http2 (h2c prior knowledge)', async () => {
    const s = await startServer(['--port=0', '--grpc=0', '--tcp=0']);
    const r = await runClient([`http://127.0.0.1:${s.grpc[0]}/h2`, '--http2', '-H', 'Host:echo:7070']);
    expect(r.code).toBe(0);
    expect(parseSuiteResponse(r.stdout)).toMatchObject({ code: '200', protocol: 'HTTP/2.0', host: 'echo:7070', url: '/h2' });
  });

  it('calls proto.EchoTestService/Echo for grpc:// URLs, as the MESH-GRPC test does, in batches too', async () => {
    const s = await startServer(['--port=0', '--grpc=0', '--tcp=0', '--version=v1']);
    const r = await runClient([`grpc://127.0.0.1:${s.grpc[0]}`, '-H', 'Host:echo:7070', '-H', 'x-test:1', '--count=12']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const batch = parseBatch(r.stdout);
    expect(batch).toHaveLength(12);
    expect(batch[0]).toMatchObject({ code: '200', host: 'echo:7070', hostname: 'echo-v1-5d8f7-x2x9q', protocol: 'GRPC', version: 'v1', port: String(s.grpc[0]) });
    expect(batch[0]!.requestHeaders.get('x-test')).toEqual(['1']);
    expect(batch[0]!.body.get('Echo')).toBe('HelloWorld');
    // An HTTP port has no gRPC service: the call fails and so does the run.
    const bad = await runClient([`grpc://127.0.0.1:${s.http[0]}`]);
    expect(bad.code).toBe(1);
  });

  it('fails the whole run, with nothing on stdout, when a request fails', async () => {
    const r = await runClient(['http://127.0.0.1:1/', '--count=3']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error 3\/3 requests had errors; first error: connect ECONNREFUSED/);
    const bad = await runClient(['--count=x', 'http://a']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid argument "x" for "--count"');
  });

  it('greets a TCP connection with the instance fields, then echoes the bytes', async () => {
    const s = await startServer(['--port=0', '--grpc=0', '--tcp=0']);
    const text = await new Promise<string>((resolve, reject) => {
      const c = connect({ host: '127.0.0.1', port: s.tcp[0]! }, () => c.end('hello'));
      let got = '';
      c.setEncoding('utf8').on('data', (d: string) => (got += d));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    expect(text).toBe(`StatusCode=200\nServiceVersion=\nServicePort=${s.tcp[0]}\nIP=127.0.0.1\nProto=TCP\nHostname=echo-v1-5d8f7-x2x9q\nhello`);
  });

  it('exits on a bad flag with the error logged, and on SIGTERM cleanly', async () => {
    const bad = spawn(process.execPath, [join(REPO, 'e2e/lab/images/istio-echo.ts'), '--nope=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(bad);
    let out = '';
    bad.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => bad.on('close', resolve));
    expect(code).toBe(2);
    expect(JSON.parse(out.trim())).toMatchObject({ level: 'error', msg: 'invalid arguments', error: 'unknown flag: --nope' });
    const s = await startServer(['--port=0', '--grpc=0', '--tcp=0']);
    const exited = new Promise<number | null>((resolve) => s.child.on('exit', resolve));
    s.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
