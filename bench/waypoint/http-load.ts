// The HTTP/1.1 load generator of bench/waypoint, run from the bench process with its sockets created
// inside the client pod's netns (so ztunnel captures them as it captures the app's): N keep-alive
// connections, one request in flight on each, either as fast as the answers come or at a fixed total
// rate with latency counted from the scheduled send time. Every loop is bounded in time and count.
//
// Why our own framing, and no wrk: on loopback against lab/http-echo (16 connections, `node
// bench/waypoint/loopback.ts`, numbers in bench/README.md) this generator is on par with wrk -t1
// within this shared machine's run-to-run noise (13-27k req/s each: the Node echo server is the
// limit) at 1.4-1.9x wrk's CPU per request, and 2-3x faster than Node's http.Agent; against a
// trivial responder it reaches ~40k req/s to wrk's ~50k, most of its time in the write syscall. The
// mesh paths run at a fraction of that, so the client is not their bottleneck, and one tool for
// every column and row measures max rate and latency the same way (wrk would need nsenter, an extra
// package, and would give the max-rate row only).
import net from 'node:net';
import { connectTcp } from '../../lib/netns/index.ts';
import { summarize, type LatencySummary } from '../common/report.ts';
import { HttpResponseError, ResponseParser, type ParsedResponse } from './http-response.ts';

export interface HttpTarget {
  /** Network namespace path the sockets are created in; undefined: this process's own (loopback). */
  netns?: string;
  /** A numeric IP (a name lookup would run on another thread, outside the netns). */
  host: string;
  port: number;
}

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  /** The Host header. */
  authority: string;
  /** POST body size (bytes of 'a'); ignored for GET. */
  bodyBytes?: number;
}

export interface HttpLoadOptions {
  connections: number;
  seconds: number;
  /** Total requests per second over all connections; undefined: each connection sends its next request when the answer arrives. */
  rate?: number;
  request: HttpRequestSpec;
  /** A request unanswered this long is a timeout; its connection is replaced. Default 5 s. */
  timeoutMs?: number;
  /** Hard bound on requests sent. Default 50 million. */
  maxRequests?: number;
}

export interface HttpErrorCounts {
  /** A complete response whose status is not 2xx. */
  status: number;
  /** The connection was reset or closed with a request in flight. */
  reset: number;
  timeout: number;
  /** Bytes that are not an HTTP/1.x response. */
  malformed: number;
  /** A connection could not be opened. */
  connect: number;
  /** Fixed rate: scheduled but never sent by the end (the path could not keep up). */
  unsent: number;
}

export interface HttpLoadResult extends LatencySummary {
  errorKinds: HttpErrorCounts;
  /** Responses by status code. */
  statuses: Record<number, number>;
  /** CPU seconds the bench process used during the run (the generator's own cost). */
  clientCpuSeconds: number;
}

/** The bytes of one request, built once and written as they are for every request. */
export function buildRequest(spec: HttpRequestSpec): Buffer {
  const body = spec.method === 'POST' ? Buffer.alloc(spec.bodyBytes ?? 0, 0x61) : Buffer.alloc(0);
  const head = [
    `${spec.method} ${spec.path} HTTP/1.1`,
    `host: ${spec.authority}`,
    'user-agent: ambient-mesh-bench',
    'accept: */*',
    ...(spec.method === 'POST' ? ['content-type: application/octet-stream', `content-length: ${body.length}`] : []),
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function dial(t: HttpTarget): net.Socket {
  return t.netns
    ? connectTcp({ netns: t.netns, host: t.host, port: t.port, allowHalfOpen: false })
    : net.connect({ host: t.host, port: t.port, allowHalfOpen: false });
}

interface Conn {
  socket: net.Socket | undefined;
  parser: ResponseParser;
  connected: boolean;
  /** A request is in flight; t0 is its latency origin (scheduled time at fixed rate), sentAt when written. */
  busy: boolean;
  t0: number;
  sentAt: number;
}

const RECONNECT_DELAY_MS = 50;

/** Runs the load and resolves with latency percentiles (2xx responses), rate and counted errors. */
export async function httpLoad(t: HttpTarget, o: HttpLoadOptions): Promise<HttpLoadResult> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const maxRequests = o.maxRequests ?? 50_000_000;
  const rate = o.rate;
  const payload = buildRequest(o.request);
  const samples: number[] = [];
  const statuses: Record<number, number> = {};
  const errors: HttpErrorCounts = { status: 0, reset: 0, timeout: 0, malformed: 0, connect: 0, unsent: 0 };
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + o.seconds * 1000;
  const total = rate ? Math.min(maxRequests, Math.floor(rate * o.seconds)) : maxRequests;
  let issued = 0;
  let scheduled = 0;
  let lastDone = start;
  let stopped = false;
  const queue: number[] = [];
  const idle: Conn[] = [];
  const conns: Conn[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));

  const drained = (now: number) => (rate ? scheduled >= total || now >= end : now >= end || issued >= maxRequests);
  const maybeFinish = (now: number) => {
    if (drained(now) && (!rate || queue.length === 0 || now >= end) && conns.every((c) => !c.busy)) finish();
  };

  const send = (c: Conn, t0: number) => {
    c.busy = true;
    c.t0 = t0;
    c.sentAt = performance.now();
    issued++;
    c.socket!.write(payload);
  };

  /** An idle, connected connection takes its next request (or waits for one). */
  const next = (c: Conn) => {
    const now = performance.now();
    if (stopped) return maybeFinish(now);
    if (rate) {
      const t0 = queue.shift();
      if (t0 !== undefined) send(c, t0);
      else idle.push(c);
    } else if (now < end && issued < maxRequests) send(c, now);
    maybeFinish(now);
  };

  const fail = (c: Conn, kind: keyof HttpErrorCounts) => {
    if (c.busy) {
      errors[kind]++;
      c.busy = false;
    } else if (kind === 'connect') errors.connect++;
    const s = c.socket;
    c.socket = undefined;
    c.connected = false;
    s?.destroy();
    const at = idle.indexOf(c);
    if (at >= 0) idle.splice(at, 1);
    const now = performance.now();
    // A replacement, unless the run is over; bounded by the run's end, paced so a dead target does not spin.
    if (!stopped && now + RECONNECT_DELAY_MS < end) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        open(c);
      }, RECONNECT_DELAY_MS);
      timers.add(timer);
    }
    maybeFinish(now);
  };

  const onResponse = (c: Conn, r: ParsedResponse) => {
    if (!c.busy) return fail(c, 'malformed');
    c.busy = false;
    lastDone = performance.now();
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status >= 200 && r.status < 300) samples.push(lastDone - c.t0);
    else errors.status++;
    if (!r.keepAlive) {
      // The server closes after this one: a new connection takes over, not an error.
      c.socket?.removeAllListeners('close');
      c.socket?.destroy();
      c.socket = undefined;
      c.connected = false;
      if (!stopped && performance.now() < end) open(c);
      return maybeFinish(performance.now());
    }
    next(c);
  };

  const open = (c: Conn) => {
    if (stopped) return;
    c.parser = new ResponseParser();
    let s: net.Socket;
    try {
      s = dial(t);
    } catch {
      return fail(c, 'connect');
    }
    c.socket = s;
    s.setNoDelay(true);
    const deliver = (r: ParsedResponse) => onResponse(c, r);
    s.on('connect', () => {
      c.connected = true;
      next(c);
    });
    s.on('data', (d: Buffer) => {
      if (c.socket !== s) return;
      try {
        c.parser.feed(d, deliver);
      } catch (err) {
        if (!(err instanceof HttpResponseError)) throw err;
        fail(c, 'malformed');
      }
    });
    s.on('error', () => {
      /* 'close' follows and accounts for it */
    });
    s.on('close', () => {
      if (c.socket !== s) return;
      if (!c.connected) return fail(c, 'connect');
      c.parser.end(deliver);
      if (c.socket === s) fail(c, 'reset');
    });
  };

  for (let k = 0; k < o.connections; k++) {
    const c: Conn = { socket: undefined, parser: new ResponseParser(), connected: false, busy: false, t0: 0, sentAt: 0 };
    conns.push(c);
    open(c);
  }

  // Timeouts (and, at a fixed rate, the schedule) on one 1 ms ticker: no per-request timers.
  const ticker = setInterval(() => {
    const now = performance.now();
    if (rate && !stopped) {
      while (scheduled < total && start + (scheduled * 1000) / rate <= now) {
        queue.push(start + (scheduled * 1000) / rate);
        scheduled++;
      }
      while (queue.length && idle.length) send(idle.shift()!, queue.shift()!);
      if (now >= end || scheduled >= total) {
        // What was scheduled but could not be sent in time counts against the path.
        if (now >= end) {
          errors.unsent += queue.length;
          queue.length = 0;
        }
      }
    }
    for (const c of conns) if (c.busy && now - c.sentAt > timeoutMs) fail(c, 'timeout');
    maybeFinish(now);
  }, 1);

  // Bounded: whatever is still in flight one timeout after the end is cut (timeouts above count it).
  await Promise.race([finished, new Promise((r) => timers.add(setTimeout(r, o.seconds * 1000 + timeoutMs + 1000)))]);
  stopped = true;
  // The rate is over the sending window plus the tail of answers, not over a hung request's timeout.
  const elapsed = (Math.max(Math.min(end, performance.now()), lastDone) - start) / 1000;
  clearInterval(ticker);
  for (const timer of timers) clearTimeout(timer);
  for (const c of conns) {
    if (c.busy) {
      errors.timeout++;
      c.busy = false;
    }
    c.socket?.destroy();
    c.socket = undefined;
  }
  errors.unsent += queue.length;
  const cpu = process.cpuUsage(cpu0);
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  return { ...summarize(samples, elapsed, errorCount), errorKinds: errors, statuses, clientCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}
