// The lab images as the kubelet stand-in runs them: real processes on loopback (ephemeral ports),
// their ready line, their replies over HTTP/1.1, h2c and raw TCP, and their exit on SIGTERM.
// No root needed.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveImage } from './catalogue.ts';
import { MAX_DELAY_MS, planEcho, type EchoRequest } from './echo-reply.ts';
import { parseLabels, plainAddress } from './program.ts';

const HERE = new URL('.', import.meta.url).pathname;
const REPO = join(HERE, '../../..');

interface Started {
  child: ChildProcess;
  port: number | null;
  /** Every stdout line so far. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts a catalogue image the way the kubelet stand-in does and waits for its ready line. */
async function start(image: string, env: Record<string, string> = {}): Promise<Started> {
  const resolved = resolveImage(image);
  if ('error' in resolved) throw new Error(resolved.error);
  const child = spawn(process.execPath, [join(REPO, resolved.program)], {
    env: {
      PATH: process.env.PATH,
      NODE_OPTIONS: process.env.NODE_OPTIONS,
      POD_NAME: 'echo-7d9f-abcde',
      POD_NAMESPACE: 'testns',
      NODE_NAME: 'node1',
      POD_IP: '10.244.1.7',
      POD_LABELS: JSON.stringify({ app: 'echo', version: 'v2', other: 'x' }),
      PORT: '0',
      BIND_ADDRESS: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  const port = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${image}: no ready line within 10 s; stderr: ${stderr}`)), 10_000);
    void exited.then((e) => reject(new Error(`${image} exited (${e.code ?? e.signal}) before ready: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      let v: { msg?: string; port?: number | null } = {};
      try {
        v = JSON.parse(line) as typeof v;
      } catch {
        /* the test asserts separately that every line is JSON */
      }
      if (v.msg === 'ready') {
        clearTimeout(timer);
        resolve(v.port ?? null);
      }
    });
  });
  return { child, port, lines, exited };
}

async function terminate(s: Started): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  s.child.kill('SIGTERM');
  return s.exited;
}

function http1(port: number, path: string, method = 'GET', body?: string): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function h2(port: number, paths: string[]): Promise<{ status: number; json: Record<string, unknown> }[]> {
  const session = h2connect(`http://127.0.0.1:${port}`);
  const one = (path: string) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const stream = session.request({ ':path': path, 'x-test': 'h2' });
      let status = 0;
      let text = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.setEncoding('utf8').on('data', (d: string) => (text += d));
      stream.on('end', () => resolve({ status, json: JSON.parse(text) as Record<string, unknown> }));
      stream.on('error', reject);
    });
  return Promise.all(paths.map(one)).finally(() => session.close());
}

describe('lab/http-echo', () => {
  it('prints one ready line with the real port, then answers HTTP/1.1 with who served it', async () => {
    const s = await start('lab/http-echo');
    expect(s.port).toBeGreaterThan(0);
    expect(s.lines.filter((l) => l.includes('"ready"'))).toEqual([`{"msg":"ready","port":${s.port}}`]);
    for (const l of s.lines) expect(() => JSON.parse(l) as unknown).not.toThrow();

    const r = await http1(s.port!, '/hello?x=1', 'POST', 'abcdef');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      pod: 'echo-7d9f-abcde',
      namespace: 'testns',
      node: 'node1',
      labels: { app: 'echo', version: 'v2' },
      method: 'POST',
      path: '/hello?x=1',
      protocol: 'HTTP/1.1',
      remoteAddress: '127.0.0.1',
      bodyBytes: 6,
    });
    expect((r.json!.headers as Record<string, string>).host).toBe(`127.0.0.1:${s.port}`);
    expect((await http1(s.port!, '/healthz')).status).toBe(200);
    expect((await terminate(s)).code).toBe(0);
  });

  it('answers HTTP/2 with prior knowledge on the same port, several streams on one connection', async () => {
    const s = await start('lab/http-echo');
    const [a, b, c] = await h2(s.port!, ['/one', '/status/503', '/two']);
    expect(a).toMatchObject({ status: 200, json: { protocol: 'HTTP/2', path: '/one', pod: 'echo-7d9f-abcde', remoteAddress: '127.0.0.1' } });
    expect((a!.json.headers as Record<string, string>)['x-test']).toBe('h2');
    expect(b).toMatchObject({ status: 503, json: { protocol: 'HTTP/2' } });
    expect(c!.json.path).toBe('/two');
    // HTTP/1.1 still works after HTTP/2 connections.
    expect((await http1(s.port!, '/after')).json).toMatchObject({ protocol: 'HTTP/1.1' });
    expect((await terminate(s)).code).toBe(0);
  });

  it('serves /status/<code> and /delay/<ms>', async () => {
    const s = await start('lab/http-echo');
    expect((await http1(s.port!, '/status/418')).status).toBe(418);
    expect(await http1(s.port!, '/status/204')).toEqual({ status: 204, json: undefined });
    expect((await http1(s.port!, '/status/abc')).status).toBe(400);
    const t0 = Date.now();
    expect((await http1(s.port!, '/delay/150')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect((await terminate(s)).code).toBe(0);
  });

  it('exits 0 on SIGTERM without waiting for a request in flight or an idle h2 session', async () => {
    const s = await start('lab/http-echo');
    const session = h2connect(`http://127.0.0.1:${s.port}`);
    session.on('error', () => {});
    await new Promise<void>((resolve) => session.on('connect', () => resolve()));
    // A raw HTTP/1.1 request to /delay/5000, written once connected: in flight when the signal lands.
    const raw = tcpConnect({ host: '127.0.0.1', port: s.port! });
    let answer = '';
    raw.on('data', (d: Buffer) => (answer += d.toString()));
    raw.on('error', () => {});
    const closed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
    await new Promise<void>((resolve) => raw.on('connect', () => resolve()));
    await new Promise<void>((resolve) => raw.write('GET /delay/5000 HTTP/1.1\r\nHost: x\r\n\r\n', () => resolve()));
    // It does not wait for the 5 s request: the request is cut (no 200), and it exits 0. How fast is
    // bench/images (SIGTERM → exit per image).
    const e = await terminate(s);
    expect(e.code).toBe(0);
    await closed;
    expect(answer).not.toMatch(/^HTTP\/1\.1 200/);
    session.destroy();
  });
});

describe('lab/tcp-echo', () => {
  it('echoes bytes, writes ECHO_PREFIX first, and ends after echoing when the client half-closes', async () => {
    const s = await start('lab/tcp-echo', { ECHO_PREFIX: 'pod-a\n' });
    expect(s.lines.filter((l) => l.includes('"ready"'))).toEqual([`{"msg":"ready","port":${s.port}}`]);
    const payload = Buffer.alloc(4 * 1024 * 1024, 'abcdefgh');
    const got = await new Promise<Buffer>((resolve, reject) => {
      const sock = tcpConnect({ host: '127.0.0.1', port: s.port!, allowHalfOpen: true });
      const chunks: Buffer[] = [];
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('end', () => {
        resolve(Buffer.concat(chunks));
        sock.end();
      });
      sock.on('error', reject);
      sock.end(payload);
    });
    expect(got.subarray(0, 6).toString()).toBe('pod-a\n');
    expect(got.length).toBe(payload.length + 6);
    expect(got.subarray(6).equals(payload)).toBe(true);
    expect((await terminate(s)).code).toBe(0);
  });

  it('without ECHO_PREFIX echoes exactly, and keeps its side open until the client ends', async () => {
    const s = await start('lab/tcp-echo');
    const sock = tcpConnect({ host: '127.0.0.1', port: s.port!, allowHalfOpen: true });
    const reply = (n: number) =>
      new Promise<string>((resolve) => {
        let text = '';
        const on = (d: Buffer): void => {
          text += d.toString();
          if (text.length >= n) {
            sock.off('data', on);
            resolve(text);
          }
        };
        sock.on('data', on);
      });
    const first = reply(5);
    sock.write('hello');
    expect(await first).toBe('hello');
    const second = reply(3);
    sock.write('abc');
    expect(await second).toBe('abc');
    const ended = new Promise<void>((resolve) => sock.on('end', () => resolve()));
    sock.end();
    await ended;
    sock.destroy();
    expect((await terminate(s)).code).toBe(0);
  });

  it('exits 0 on SIGTERM with a connection open', async () => {
    const s = await start('lab/tcp-echo');
    const sock = tcpConnect({ host: '127.0.0.1', port: s.port! });
    sock.on('error', () => {});
    await new Promise<void>((resolve) => sock.on('connect', () => resolve()));
    const e = await terminate(s);
    expect(e).toMatchObject({ code: 0 });
    sock.destroy();
  });
});

describe('lab/sleep', () => {
  it('is ready with no port and exits 0 on SIGTERM', async () => {
    const s = await start('lab/sleep');
    expect(s.port).toBeNull();
    expect(s.lines.filter((l) => l.includes('"ready"'))).toEqual(['{"msg":"ready","port":null}']);
    const e = await terminate(s);
    expect(e.code).toBe(0);
  });
});

describe('catalogue', () => {
  it.each([
    ['lab/http-echo', 'e2e/lab/images/http-echo.ts'],
    ['lab/http-echo:latest', 'e2e/lab/images/http-echo.ts'],
    ['lab/tcp-echo:v1', 'e2e/lab/images/tcp-echo.ts'],
    ['lab/sleep@sha256:0123abcd', 'e2e/lab/images/sleep.ts'],
    [' lab/sleep ', 'e2e/lab/images/sleep.ts'],
  ])('%s → %s', (image, program) => {
    expect(resolveImage(image)).toEqual({ program, runMode: 'pod-netns' });
  });

  it.each([
    'ambient-mesh/waypoint',
    'ambient-mesh/waypoint:0.1.0',
    'docker.io/ambient-mesh/waypoint:0.1.0',
    'localhost:5000/ambient-mesh/waypoint@sha256:0123abcd',
    'ghcr.io/org/ambient-mesh/waypoint:dev',
  ])('%s → the waypoint, a host process with its data plane in the pod netns', (image) => {
    expect(resolveImage(image)).toEqual({ program: 'waypoint/src/main.ts', runMode: 'host-with-pod-netns' });
  });

  it.each(['lab/nginx', 'docker.io/lab/http-echo', 'http-echo', 'localhost:5000/lab/sleep', '', 'waypoint', 'other-mesh/waypoint'])('rejects %j', (image) => {
    expect(resolveImage(image)).toEqual({
      error: `image "${image}" is not in the lab catalogue (lab/http-echo, lab/tcp-echo, lab/sleep, lab/bookinfo-productpage, lab/bookinfo-details, lab/bookinfo-reviews, lab/bookinfo-ratings, registry.k8s.io/gateway-api/echo-advanced, ambient-mesh/waypoint, ambient-mesh/controller, ambient-mesh/cni, ambient-mesh/ztunnel)`,
    });
  });
});

describe('planEcho', () => {
  const id = { pod: 'p', namespace: 'n', node: 'node1', ip: '10.244.1.2', labels: { app: 'a' } };
  const req = (path: string): EchoRequest => ({
    method: 'GET', path, headers: {}, protocol: 'HTTP/1.1', remoteAddress: '10.244.1.3', remotePort: 1234, localPort: 8080, bodyBytes: 0,
  });
  it.each([
    ['/', 200, 0],
    ['/healthz', 200, 0],
    ['/status/503', 503, 0],
    ['/status/503?x=1', 503, 0],
    ['/status/200/', 200, 0],
    ['/status/99', 400, 0],
    ['/status/600', 400, 0],
    ['/status/', 400, 0],
    ['/status/5.5', 400, 0],
    ['/delay/250', 200, 250],
    ['/delay/0', 200, 0],
    ['/delay/99999999', 200, MAX_DELAY_MS],
    ['/delay/-1', 400, 0],
    ['/delay/soon', 400, 0],
    ['/statuses/503', 200, 0],
  ])('%s → %i after %i ms', (path, status, delayMs) => {
    const plan = planEcho(req(path), id);
    expect({ status: plan.status, delayMs: plan.delayMs }).toEqual({ status, delayMs });
  });

  it('reports app and version labels, null when absent, and no body for 204/304', () => {
    expect(planEcho(req('/'), id).body?.labels).toEqual({ app: 'a', version: null });
    expect(planEcho(req('/status/204'), id).body).toBeUndefined();
    expect(planEcho(req('/status/304'), id).body).toBeUndefined();
  });

  it('reads POD_LABELS leniently and unmaps IPv4-mapped addresses', () => {
    expect(parseLabels('{"app":"x","n":1}')).toEqual({ app: 'x' });
    expect(parseLabels('not json')).toEqual({});
    expect(parseLabels('[1]')).toEqual({});
    expect(parseLabels(undefined)).toEqual({});
    expect(plainAddress('::ffff:10.244.1.5')).toBe('10.244.1.5');
    expect(plainAddress('fd00::1')).toBe('fd00::1');
  });
});
