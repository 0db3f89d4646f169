// Load generators of bench/l4, run from the bench process with their sockets created inside the
// client pod's netns (so the mesh captures them exactly as it captures the app's): request/response
// latency at a fixed rate or as fast as possible, and new connections per second. Every loop is
// bounded in time and count.
import type net from 'node:net';
import { connectTcp } from '../../lib/netns/index.ts';
import { summarize, type LatencySummary } from './report.ts';

export interface Target {
  /** Network namespace path of the client pod. */
  netns: string;
  host: string;
  port: number;
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function open(t: Target): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = connectTcp({ netns: t.netns, host: t.host, port: t.port });
    s.setNoDelay(true);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * Ping-pong of `size`-byte messages against an echo server over `connections` persistent
 * connections, one request in flight per connection. With `rate` the requests are scheduled at that
 * total rate and latency counts from the scheduled time (queueing included, no coordinated
 * omission); without it each connection sends its next request when the answer arrives.
 */
export async function pingPong(t: Target, opts: PingPongOptions): Promise<LatencySummary> {
  const r = await pingPongRun(t, opts);
  return summarize(r.samplesMs, r.seconds, r.errors);
}

export interface PingPongOptions {
  connections: number;
  seconds: number;
  size: number;
  rate?: number;
}

/** One pingPong run's raw outcome, for pooling the samples of several runs. */
export interface PingPongRun {
  samplesMs: number[];
  seconds: number;
  errors: number;
}

/** pingPong without the summary. */
export async function pingPongRun(t: Target, opts: PingPongOptions): Promise<PingPongRun> {
  const socks = await Promise.all(Array.from({ length: opts.connections }, () => open(t)));
  const payload = Buffer.alloc(opts.size, 0x61);
  const samples: number[] = [];
  let errors = 0;
  const start = nowMs();
  const end = start + opts.seconds * 1000;
  const total = opts.rate ? Math.floor(opts.rate * opts.seconds) : Number.POSITIVE_INFINITY;
  let scheduled = 0;
  const queue: number[] = [];
  const idle: net.Socket[] = [];
  const inflight = new Map<net.Socket, { t0: number; got: number }>();
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));

  const send = (s: net.Socket, t0: number) => {
    inflight.set(s, { t0, got: 0 });
    s.write(payload);
  };
  const next = (s: net.Socket) => {
    const now = nowMs();
    if (opts.rate) {
      const t0 = queue.shift();
      if (t0 !== undefined) send(s, t0);
      else idle.push(s);
    } else if (now < end) send(s, now);
    if (inflight.size === 0 && queue.length === 0 && (opts.rate ? scheduled >= total || now >= end : now >= end)) finish();
  };
  for (const s of socks) {
    s.on('data', (d: Buffer) => {
      const f = inflight.get(s);
      if (!f) return;
      f.got += d.length;
      if (f.got < opts.size) return;
      inflight.delete(s);
      samples.push(nowMs() - f.t0);
      next(s);
    });
    s.on('error', () => {
      errors++;
      inflight.delete(s);
    });
    next(s);
  }
  let ticker: NodeJS.Timeout | undefined;
  if (opts.rate) {
    const rate = opts.rate;
    ticker = setInterval(() => {
      const now = nowMs();
      while (scheduled < total && start + (scheduled * 1000) / rate <= now) {
        queue.push(start + (scheduled * 1000) / rate);
        scheduled++;
      }
      while (queue.length && idle.length) send(idle.shift()!, queue.shift()!);
      if (now >= end || scheduled >= total) {
        // Nothing more is scheduled. What is queued still goes out as connections come free (its
        // latency counts from its scheduled time); only what is still unanswered or unsent at the
        // bound below is an error.
        clearInterval(ticker);
        if (inflight.size === 0 && queue.length === 0) finish();
      }
    }, 1);
  }
  // Bounded: answers still missing 5 s after the end, and requests never sent by then, are errors.
  await Promise.race([finished, new Promise((r) => setTimeout(r, opts.seconds * 1000 + 5000))]);
  if (ticker) clearInterval(ticker);
  errors += inflight.size + queue.length;
  for (const s of socks) s.destroy();
  return { samplesMs: samples, seconds: (nowMs() - start) / 1000, errors };
}

/**
 * New connections per second: `concurrency` loops, each opening a connection, sending one byte,
 * half-closing and reading the echo to the end. Stops at `seconds` or `maxConnections`.
 */
export async function connectionRate(t: Target, opts: { concurrency: number; seconds: number; maxConnections: number }): Promise<{ rate: number; count: number; errors: number }> {
  let count = 0;
  let errors = 0;
  const start = nowMs();
  const end = start + opts.seconds * 1000;
  const one = () => new Promise<boolean>((resolve) => {
    const s = connectTcp({ netns: t.netns, host: t.host, port: t.port, allowHalfOpen: true });
    let got = 0;
    const timer = setTimeout(() => s.destroy(new Error('timeout')), 5000);
    s.on('data', (d: Buffer) => (got += d.length));
    s.on('end', () => s.end());
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got === 1);
    });
    s.end('x');
  });
  const loop = async () => {
    while (nowMs() < end && count + errors < opts.maxConnections) {
      if (await one()) count++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  return { rate: count / ((nowMs() - start) / 1000), count, errors };
}

/** Connections opened and proven through (one byte echoed each), held open until `close`. */
export interface IdleConnections {
  open: number;
  errors: number;
  close(): void;
}

/**
 * Opens `count` connections, `concurrency` at a time, each sending one byte and waiting for its
 * echo, and keeps them open and idle. A connection that fails or gets no echo within 5 s is an
 * error. Bounded: at most `count` connections, each attempt at most 5 s.
 */
export async function holdIdle(t: Target, opts: { count: number; concurrency: number }): Promise<IdleConnections> {
  const held: net.Socket[] = [];
  let errors = 0;
  let next = 0;
  const one = () => new Promise<void>((resolve) => {
    const s = connectTcp({ netns: t.netns, host: t.host, port: t.port });
    const timer = setTimeout(() => s.destroy(new Error('timeout')), 5000);
    s.once('data', () => {
      clearTimeout(timer);
      held.push(s);
      resolve();
    });
    s.on('error', () => {
      clearTimeout(timer);
      errors++;
      resolve();
    });
    s.write('x');
  });
  const loop = async () => {
    while (next < opts.count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  return {
    open: held.filter((s) => !s.destroyed).length,
    errors,
    close: () => {
      for (const s of held) s.destroy();
    },
  };
}
