// How long each lab image takes from SIGTERM to exit, next to a bare Node.js process that exits on
// SIGTERM at once (the floor every image pays). The image tests assert only that they exit 0 and
// do not wait for work in flight; the time lives here. http-echo is measured with a 5 s request in
// flight, as the image test does. No root needed: `node bench/images/sigterm-exit.ts`; BENCH_N
// overrides the number of samples per row (default 10).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { resolveImage } from '../../e2e/lab/images/catalogue.ts';
import { percentile, renderTextTable } from '../common/report.ts';

const N = Number(process.env.BENCH_N ?? 10);
const REPO = join(new URL('.', import.meta.url).pathname, '../..');
const BASELINE = "process.on('SIGTERM', () => process.exit(0)); console.log(JSON.stringify({ msg: 'ready', port: null })); setInterval(() => {}, 1000);";

interface Running {
  child: ChildProcess;
  port: number | null;
  exited: Promise<void>;
}

function startProcess(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, NODE_OPTIONS: process.env.NODE_OPTIONS, POD_NAME: 'bench-0', POD_NAMESPACE: 'bench', NODE_NAME: 'node1', POD_IP: '127.0.0.1', PORT: '0', BIND_ADDRESS: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')}: no ready line within 10 s`)), 10_000);
    void exited.then(() => reject(new Error(`${args.join(' ')} exited before ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const v = JSON.parse(line) as { msg?: string; port?: number | null };
        if (v.msg === 'ready') {
          clearTimeout(timer);
          resolve({ child, port: v.port ?? null, exited });
        }
      } catch {
        /* not a JSON line */
      }
    });
  });
}

async function inFlight(port: number): Promise<Socket> {
  const s = tcpConnect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  s.resume();
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  await new Promise<void>((resolve) => s.write('GET /delay/5000 HTTP/1.1\r\nHost: x\r\n\r\n', () => resolve()));
  return s;
}

interface Row {
  name: string;
  args: string[];
  withRequest?: boolean;
}

async function measure(row: Row): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const r = await startProcess(row.args);
    const sock = row.withRequest && r.port ? await inFlight(r.port) : undefined;
    const t0 = performance.now();
    r.child.kill('SIGTERM');
    await r.exited;
    samples.push(performance.now() - t0);
    sock?.destroy();
  }
  return samples.sort((a, b) => a - b);
}

function image(name: string): string[] {
  const resolved = resolveImage(name);
  if ('error' in resolved) throw new Error(resolved.error);
  return [join(REPO, resolved.program)];
}

const rows: Row[] = [
  { name: 'node (exit on SIGTERM)', args: ['-e', BASELINE] },
  { name: 'lab/sleep', args: image('lab/sleep') },
  { name: 'lab/tcp-echo', args: image('lab/tcp-echo') },
  { name: 'lab/http-echo + request in flight', args: image('lab/http-echo'), withRequest: true },
];

const results: { name: string; p50: number; max: number }[] = [];
for (const row of rows) {
  const s = await measure(row);
  results.push({ name: row.name, p50: percentile(s, 50), max: s[s.length - 1] ?? Number.NaN });
}
const base = results[0]!;
const head = ['SIGTERM → exit', 'p50 ms', 'max ms', 'p50 / node'];
const body = results.map((r) => [r.name, r.p50.toFixed(1), r.max.toFixed(1), `${(r.p50 / base.p50).toFixed(2)}x`]);
process.stdout.write(`${renderTextTable(head, body)}\n(${N} samples per row)\n`);
