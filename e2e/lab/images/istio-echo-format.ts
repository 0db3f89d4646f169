// The text formats of Istio's echo application (the image Gateway API's conformance suite deploys as
// `registry.k8s.io/gateway-api/echo-advanced`): the `key=value` lines its server answers with, the
// `[<n>] key=value` / `[<n> body] line` lines its `client` command prints, and the flags of both.
// Pure functions over plain data; lab/istio-echo (server) and lab/istio-echo-client do the I/O.
// Facts from Istio's pkg/test/echo (fields.go, server/endpoint/http.go, tcp.go,
// server/forwarder/http.go, cmd/client, cmd/server), written here in our own code.

// --- server ---------------------------------------------------------------------------------------

/** The server's listeners, from its flags. Go's IntSlice flags: the first use replaces the default, later ones append. */
export interface EchoServerConfig {
  http: number[];
  grpc: number[];
  tcp: number[];
  /** Ports (among http/grpc/tcp) served over TLS with `crt`/`key`. */
  tls: number[];
  version: string;
  cluster: string;
  crt: string;
  key: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const SERVER_DEFAULTS: EchoServerConfig = { http: [8080], grpc: [7070], tcp: [9090], tls: [], version: '', cluster: '', crt: '', key: '' };
const PORT_FLAGS = { port: 'http', grpc: 'grpc', tcp: 'tcp', tls: 'tls' } as const;
const STRING_FLAGS = { version: 'version', cluster: 'cluster', crt: 'crt', key: 'key' } as const;
/** Flags the real server takes that the lab program accepts and ignores (logging, other protocols). */
const IGNORED_VALUE_FLAGS = new Set(['udp', 'hbone', 'double-hbone', 'mtls', 'bind-ip', 'bind-localhost', 'server-first', 'proxy-protocol', 'xds-grpc-server', 'endpoint-picker', 'metrics', 'uds', 'ca', 'istio-version', 'tls-min-version', 'tls-curve-preferences', 'log_output_level', 'log_as_json', 'log_target']);

/**
 * Reads the server's command line (`--port=8080 --port 8443 --grpc=7070 --tls=8443 --crt=/cert.crt`
 * …). Unknown flags are an error, as cobra makes them.
 */
export function parseServerArgs(argv: readonly string[]): ParseResult<EchoServerConfig> {
  const out: EchoServerConfig = { ...SERVER_DEFAULTS, http: [...SERVER_DEFAULTS.http], grpc: [...SERVER_DEFAULTS.grpc], tcp: [...SERVER_DEFAULTS.tcp], tls: [] };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z][a-z0-9_-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) return { ok: false, error: `unexpected argument "${arg}"` };
    const name = m[1]!;
    if (name === 'disable-alpn') continue;
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) return { ok: false, error: `flag needs an argument: --${name}` };
      i++;
    }
    if (name in PORT_FLAGS) {
      const key = PORT_FLAGS[name as keyof typeof PORT_FLAGS];
      const ports: number[] = [];
      for (const part of value.split(',')) {
        const n = Number(part.trim());
        if (part.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) return { ok: false, error: `invalid argument "${value}" for "--${name}": not a port list` };
        ports.push(n);
      }
      out[key] = seen.has(key) ? [...out[key], ...ports] : ports;
      seen.add(key);
    } else if (name in STRING_FLAGS) {
      out[STRING_FLAGS[name as keyof typeof STRING_FLAGS]] = value;
    } else if (!IGNORED_VALUE_FLAGS.has(name)) {
      return { ok: false, error: `unknown flag: --${name}` };
    }
  }
  return { ok: true, value: out };
}

/** Go's textproto.CanonicalMIMEHeaderKey: `x-request-id` → `X-Request-Id`; keys with non-token bytes stay as they are. */
export function canonicalHeaderKey(key: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key)) return key;
  return key.toLowerCase().replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
}

/** What the HTTP handler knows of one request (headers as received, any case, pseudo-headers included or not). */
export interface EchoHttpRequest {
  method: string;
  /** The request target as sent: raw path and query. */
  requestUri: string;
  /** `Host` header (HTTP/1.1) or `:authority` (HTTP/2). */
  host: string;
  /** `HTTP/1.1` or `HTTP/2.0` (Go's Request.Proto). */
  proto: string;
  remoteIp: string;
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Set when the request arrived over TLS. */
  tls?: { alpn: string; sni: string };
}

export interface EchoIdentity {
  /** Port the request came in on (the spec's port: ServicePort). */
  port: number;
  version: string;
  cluster: string;
  /** `NAMESPACE` env (the suite's manifests do not set it, so usually empty and left out). */
  namespace: string;
  /** os.Hostname(): the pod's name. */
  hostname: string;
}

const field = (k: string, v: string): string => `${k}=${v}\n`;
const nonEmpty = (k: string, v: string): string => (v === '' ? '' : field(k, v));

/**
 * The response body, in the server's order: ServiceVersion, ServicePort, Host, URL, [Cluster,
 * Namespace], Method, Proto, IP, [Alpn, Sni], one RequestHeader line per value (keys canonical and
 * sorted, Host not among them), Hostname.
 */
export function echoHttpBody(req: EchoHttpRequest, id: EchoIdentity): string {
  let out = field('ServiceVersion', id.version) + field('ServicePort', String(id.port)) + field('Host', req.host) + field('URL', req.requestUri);
  out += nonEmpty('Cluster', id.cluster) + nonEmpty('Namespace', id.namespace);
  out += field('Method', req.method) + field('Proto', req.proto) + field('IP', req.remoteIp);
  if (req.tls) out += nonEmpty('Alpn', req.tls.alpn) + nonEmpty('Sni', req.tls.sni);
  const byKey = new Map<string, string[]>();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k.startsWith(':') || k.toLowerCase() === 'host') continue;
    const key = canonicalHeaderKey(k);
    const list = byKey.get(key) ?? [];
    list.push(...(typeof v === 'string' ? [v] : v));
    byKey.set(key, list);
  }
  for (const key of [...byKey.keys()].sort(goStringLess)) for (const v of byKey.get(key)!) out += field('RequestHeader', `${key}:${v}`);
  return out + field('Hostname', id.hostname);
}

/** The TCP listener's greeting (sent once the client's first bytes arrive, before echoing them). */
export function echoTcpFields(id: EchoIdentity, remoteIp: string): string {
  return field('StatusCode', '200') + nonEmpty('Cluster', id.cluster) + nonEmpty('Namespace', id.namespace) +
    field('ServiceVersion', id.version) + field('ServicePort', String(id.port)) + field('IP', remoteIp) + field('Proto', 'TCP') + field('Hostname', id.hostname);
}

/** Go sorts strings bytewise; localeCompare would not. */
function goStringLess(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface EchoHttpPlan {
  status: number;
  /** Response headers asked for with `?headers=name:value,…` (names as given). */
  headers: [string, string][];
  delayMs: number;
  /** Problems with the query, written into the body as `error=` lines first, as the server does. */
  errors: string[];
}

/**
 * The query parameters the server acts on: `?codes=503:1,200:3` (a status picked by weight; `rand`
 * in [0,1)), `?headers=x-a:1,x-b:2` (response headers), `?delay=250ms` (Go duration).
 */
export function planEchoHttp(requestUri: string, rand: number): EchoHttpPlan {
  const q = requestUri.indexOf('?');
  const params = new URLSearchParams(q >= 0 ? requestUri.slice(q + 1) : '');
  const errors: string[] = [];
  let delayMs = 0;
  const delay = params.get('delay');
  if (delay) {
    const ms = parseGoDuration(delay);
    if (ms === undefined) errors.push(`error delaying response error: invalid duration "${delay}"`);
    else delayMs = ms;
  }
  const headers: [string, string][] = [];
  const h = params.get('headers');
  if (h) {
    for (const part of h.split(',')) {
      const kv = part.split(':');
      if (kv.length !== 2) {
        errors.push(`response headers error: invalid "${part}" (want name:value)`);
        break;
      }
      headers.push([kv[0]!, kv[1]!]);
    }
  }
  let status = 200;
  const codes = params.get('codes');
  if (codes) {
    const slices: { code: number; n: number }[] = [];
    for (const part of codes.split(',')) {
      const [c, n, extra] = part.split(':');
      const code = Number(c);
      const count = n === undefined ? 1 : Number(n);
      if (extra !== undefined || !Number.isInteger(code) || code < 100 || code > 599 || !Number.isInteger(count) || count <= 0) {
        errors.push(`codes error: invalid "${part}" (want code or code:count)`);
        slices.length = 0;
        slices.push({ code: 400, n: 1 });
        break;
      }
      slices.push({ code, n: count });
    }
    const total = slices.reduce((s, x) => s + x.n, 0);
    let pick = Math.floor(rand * total);
    status = slices[slices.length - 1]!.code;
    for (const s of slices) {
      if (pick < s.n) {
        status = s.code;
        break;
      }
      pick -= s.n;
    }
  }
  return { status, headers, delayMs, errors };
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration (`1.5s`, `300ms`, `1m30s`), in milliseconds; undefined when malformed or negative. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  return at === text.length && at > 0 ? total : undefined;
}

// --- client ---------------------------------------------------------------------------------------

export interface EchoClientArgs {
  url: string;
  count: number;
  timeoutMs: number;
  qps: number;
  method: string;
  /** `-H name:value` in order; a `Host` header sets the authority. */
  headers: [string, string][];
  http2: boolean;
  followRedirects: boolean;
  insecureSkipVerify: boolean;
  /** `--msg`: the EchoRequest message of a `grpc://` call (default HelloWorld). */
  message: string;
}

const CLIENT_BOOL_FLAGS: Record<string, keyof EchoClientArgs | null> = {
  http2: 'http2', 'follow-redirects': 'followRedirects', L: 'followRedirects', 'insecure-skip-verify': 'insecureSkipVerify', k: 'insecureSkipVerify',
  'new-connection-per-request': null, 'force-dns-lookup': null, ipv4: null, '4': null, ipv6: null, '6': null, 'server-first': null, http3: null,
};
const CLIENT_VALUE_FLAGS = new Set(['count', 'timeout', 'qps', 'method', 'header', 'H', 'msg', 'expect', 'uds', 'ca', 'client-cert', 'client-key', 'alpn', 'server-name', 'tls-min-version', 'tls-curve-preferences', 'log_output_level', 'log_as_json', 'log_target']);

/**
 * The client's command line as the suite builds it:
 * `client http://echo/path --method=GET -H name:value --count=500` (flags before or after the URL;
 * `--flag=value`, `--flag value`, `-H value`, `-Hvalue`). Scheme `http://` is added when missing.
 */
export function parseClientArgs(argv: readonly string[]): ParseResult<EchoClientArgs> {
  const out: EchoClientArgs = { url: '', count: 1, timeoutMs: 5000, qps: 0, method: '', headers: [], http2: false, followRedirects: false, insecureSkipVerify: false, message: 'HelloWorld' };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    let name: string;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      value = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      name = arg.slice(1, 2);
      const rest = arg.slice(2);
      value = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
    }
    if (name in CLIENT_BOOL_FLAGS) {
      const key = CLIENT_BOOL_FLAGS[name];
      const on = value === undefined || value === 'true';
      if (value !== undefined && value !== 'true' && value !== 'false') return { ok: false, error: `invalid argument "${value}" for "--${name}"` };
      if (key) (out as unknown as Record<string, unknown>)[key] = on;
      continue;
    }
    if (!CLIENT_VALUE_FLAGS.has(name)) return { ok: false, error: `unknown flag: ${arg.startsWith('--') ? '--' : '-'}${name}` };
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) return { ok: false, error: `flag needs an argument: ${name}` };
      i++;
    }
    switch (name) {
      case 'count':
      case 'qps': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) return { ok: false, error: `invalid argument "${value}" for "--${name}"` };
        if (name === 'count') out.count = n;
        else out.qps = n;
        break;
      }
      case 'timeout': {
        const ms = parseGoDuration(value);
        if (ms === undefined) return { ok: false, error: `invalid argument "${value}" for "--timeout": not a duration` };
        out.timeoutMs = ms;
        break;
      }
      case 'method':
        out.method = value;
        break;
      case 'msg':
        out.message = value;
        break;
      case 'header':
      case 'H':
        // A StringSlice flag: commas separate values too.
        for (const h of value.split(',')) {
          const colon = h.indexOf(':');
          if (colon < 0) return { ok: false, error: `invalid header format: "${h}" (want name:value)` };
          out.headers.push([h.slice(0, colon), h.slice(colon + 1).trim()]);
        }
        break;
      default:
        break;
    }
  }
  if (positional.length !== 1) return { ok: false, error: `accepts 1 arg(s), received ${positional.length}` };
  const url = positional[0]!;
  out.url = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url) ? url : `http://${url}`;
  if (out.count === 0) out.count = 1;
  return { ok: true, value: out };
}

/** Where a request goes: scheme, host and port to dial, the raw path, and the authority header. */
export interface RequestTarget {
  scheme: string;
  hostname: string;
  port: number;
  /** Raw path and query as given (not normalised). */
  path: string;
  authority: string;
}

export function requestTarget(url: string, headers: readonly [string, string][]): ParseResult<RequestTarget> {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\[[^\]]*\]|[^/:?#]*)(?::(\d*))?([^#]*)/.exec(url);
  if (!m) return { ok: false, error: `missing protocol scheme in the request URL: ${url}` };
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'grpc') return { ok: false, error: `scheme ${scheme} is not supported by the lab client (http, https, grpc)` };
  const host = m[2]!;
  if (host === '') return { ok: false, error: `no host in request URL: ${url}` };
  const port = m[3] ? Number(m[3]) : scheme === 'https' ? 443 : 80;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return { ok: false, error: `invalid port in URL: ${url}` };
  let path = m[4]!;
  if (path === '') path = '/';
  else if (path.startsWith('?')) path = `/${path}`;
  const explicit = headers.find(([k]) => k.toLowerCase() === 'host');
  const authority = explicit ? explicit[1] : m[3] ? `${host}:${m[3]}` : host;
  return { ok: true, value: { scheme, hostname: host.startsWith('[') ? host.slice(1, -1) : host, port, path, authority } };
}

/** One answered request, as the client saw it. */
export interface ClientResult {
  url: string;
  /** The `-H` headers sent (Host excluded), written back as `Header=` lines. */
  sentHeaders: readonly [string, string][];
  sourceIp: string;
  latencyMs: number;
  activeRequests: number;
  status: number;
  /** Response headers as received (any case); one line per value, keys canonical and sorted. */
  responseHeaders: Readonly<Record<string, string | readonly string[] | undefined>>;
  body: string;
}

/** Go's Duration.String for a latency (`1.234567ms`, `2.5s`, `850µs`). */
export function goDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1) return `${trimFloat(ms * 1000)}µs`;
  if (ms < 1000) return `${trimFloat(ms)}ms`;
  return `${trimFloat(ms / 1000)}s`;
}

function trimFloat(n: number): string {
  return String(Number(n.toFixed(6)));
}

/**
 * One request's block of client output: `[i] Url=`, `[i] Header=` per sent header, `[i] SourceIP=`,
 * `[i] Latency=`, `[i] ActiveRequests=`, `[i] StatusCode=`, `[i] ResponseHeader=` per value, then
 * `[i body] <line>` per non-empty body line. Each line ends in `\n`; the client prints blocks with a
 * newline after each (a blank line between them), as Go's fmt.Println of each does.
 */
export function formatClientResult(i: number, r: ClientResult): string {
  const line = (k: string, v: string): string => `[${i}] ${k}=${v}\n`;
  let out = line('Url', r.url);
  for (const [k, v] of r.sentHeaders) out += line('Header', `${canonicalHeaderKey(k)}:${v}`);
  out += line('SourceIP', r.sourceIp) + line('Latency', goDuration(r.latencyMs)) + line('ActiveRequests', String(r.activeRequests));
  out += line('StatusCode', String(r.status));
  const byKey = new Map<string, string[]>();
  for (const [k, v] of Object.entries(r.responseHeaders)) {
    if (v === undefined || k.startsWith(':')) continue;
    const key = canonicalHeaderKey(k);
    const list = byKey.get(key) ?? [];
    list.push(...(typeof v === 'string' ? [v] : v));
    byKey.set(key, list);
  }
  for (const key of [...byKey.keys()].sort(goStringLess)) for (const v of byKey.get(key)!) out += line('ResponseHeader', `${key}:${v}`);
  for (const l of r.body.split('\n')) if (l !== '') out += `[${i} body] ${l}\n`;
  return out;
}

/** The whole stdout of one client run: each block followed by a newline (Go's fmt.Println of each). */
export function joinBlocks(blocks: readonly string[]): string {
  return blocks.map((b) => `${b}\n`).join('');
}

/** The whole stdout of one HTTP client run. */
export function formatClientOutput(results: readonly ClientResult[]): string {
  return joinBlocks(results.map((r, i) => formatClientResult(i, r)));
}

// --- gRPC: proto.EchoTestService/Echo -----------------------------------------------------------

/** The echo service's unary method; EchoRequest and EchoResponse are both `{ string message = 1; }`. */
export const ECHO_GRPC_PATH = '/proto.EchoTestService/Echo';

/** One gRPC length-prefixed message carrying `{ message = 1: text }` (protobuf wire format). */
export function encodeEchoMessage(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const len: number[] = [];
  let n = bytes.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  const pb = bytes.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, ...len]), bytes]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(pb.length, 1);
  return Buffer.concat([frame, pb]);
}

/** The `message` of the first gRPC message in `data` (a gRPC body), or an error for a malformed one. */
export function decodeEchoMessage(data: Buffer): ParseResult<string> {
  if (data.length < 5) return { ok: false, error: 'gRPC body shorter than a message header' };
  if (data[0] !== 0) return { ok: false, error: 'compressed gRPC messages are not supported' };
  const size = data.readUInt32BE(1);
  if (data.length < 5 + size) return { ok: false, error: 'truncated gRPC message' };
  const pb = data.subarray(5, 5 + size);
  let i = 0;
  let message = '';
  while (i < pb.length) {
    const [key, afterKey] = varint(pb, i);
    if (afterKey < 0) return { ok: false, error: 'malformed protobuf' };
    i = afterKey;
    const wire = key & 7;
    if (wire === 0) {
      const [, next] = varint(pb, i);
      if (next < 0) return { ok: false, error: 'malformed protobuf' };
      i = next;
    } else if (wire === 2) {
      const [len, next] = varint(pb, i);
      if (next < 0 || next + len > pb.length) return { ok: false, error: 'malformed protobuf' };
      if (key >>> 3 === 1) message = pb.subarray(next, next + len).toString('utf8');
      i = next + len;
    } else if (wire === 5 || wire === 1) {
      i += wire === 5 ? 4 : 8;
    } else {
      return { ok: false, error: `unsupported protobuf wire type ${wire}` };
    }
  }
  return { ok: true, value: message };
}

function varint(b: Buffer, at: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (let i = at; i < b.length && shift < 35; i++) {
    v += (b[i]! & 0x7f) * 2 ** shift;
    if ((b[i]! & 0x80) === 0) return [v, i + 1];
    shift += 7;
  }
  return [0, -1];
}

/** Request metadata the echo service is not shown (grpc-go keeps them out of the incoming metadata). */
const GRPC_RESERVED = new Set(['content-type', 'te', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-message-type']);

/**
 * The Echo response message: a `Host=` line per `:authority`, a `RequestHeader=` line per metadata
 * value (lower-case keys), then StatusCode=200, ServiceVersion, ServicePort, [Cluster, Namespace],
 * IP, Proto=GRPC, Echo=<request message>, Hostname.
 */
export function echoGrpcBody(headers: Readonly<Record<string, string | readonly string[] | undefined>>, message: string, remoteIp: string, id: EchoIdentity): string {
  let out = '';
  const keys = Object.keys(headers).filter((k) => (k === ':authority' || !k.startsWith(':')) && !GRPC_RESERVED.has(k) && !k.endsWith('-bin')).sort(goStringLess);
  for (const k of keys) {
    const v = headers[k];
    if (v === undefined) continue;
    for (const value of typeof v === 'string' ? [v] : v) {
      if (k === ':authority') out += field('Host', value);
      out += field('RequestHeader', `${k}:${value}`);
    }
  }
  out += field('StatusCode', '200') + field('ServiceVersion', id.version) + field('ServicePort', String(id.port));
  out += nonEmpty('Cluster', id.cluster) + nonEmpty('Namespace', id.namespace);
  out += field('IP', remoteIp) + field('Proto', 'GRPC') + field('Echo', message) + field('Hostname', id.hostname);
  return out;
}

/** One answered gRPC call as the client prints it: Latency, ActiveRequests, body lines, then the response metadata. */
export function formatGrpcResult(i: number, r: { latencyMs: number; activeRequests: number; message: string; headers: Readonly<Record<string, string | readonly string[] | undefined>> }): string {
  const line = (k: string, v: string): string => `[${i}] ${k}=${v}\n`;
  let out = line('Latency', goDuration(r.latencyMs)) + line('ActiveRequests', String(r.activeRequests));
  for (const l of r.message.split('\n')) if (l !== '') out += `[${i} body] ${l}\n`;
  for (const [k, v] of Object.entries(r.headers)) {
    if (v === undefined || k.startsWith(':')) continue;
    for (const value of typeof v === 'string' ? [v] : v) out += line('ResponseHeader', `${k}:${value}`);
  }
  return out;
}
