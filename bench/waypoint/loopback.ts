// Is the load generator the bottleneck? `node bench/waypoint/loopback.ts` (no root, no lab) runs the
// same max-rate load against lab/http-echo on 127.0.0.1 with our generator (http-load.ts), with
// Node's http.Agent, and with wrk when it is installed, and prints req/s and the client's CPU
// seconds per 1000 requests next to each other. BENCH_SECONDS (default 5), BENCH_CONNECTIONS (16).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { REPO_ROOT } from '../../e2e/lab/config.ts';
import { hostLine } from '../common/proc.ts';
import { formatValue, renderTextTable } from '../common/report.ts';
import { httpLoad, type HttpRequestSpec } from './http-load.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);

/** lab/http-echo on an ephemeral loopback port; resolves with the port once it printed `ready`. */
export async function startEcho(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'e2e/lab/images/http-echo.ts')], {
    env: { ...process.env, PORT: '0', BIND_ADDRESS: '127.0.0.1', NODE_OPTIONS: '--disable-warning=ExperimentalWarning' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('http-echo did not print ready in 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`http-echo exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"msg":"ready","port":(\d+)\}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { port, child };
}

/**
 * The generators' own ceiling: a child process answering each GET head (up to its blank line) with a
 * fixed 200 at once, far cheaper per request than any real server.
 */
async function startRawResponder(): Promise<{ port: number; child: ChildProcess }> {
  const code = `
    const net = require('node:net');
    const ok = Buffer.from('HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok');
    const s = net.createServer((c) => {
      let tail = '';
      c.on('error', () => {});
      c.on('data', (d) => {
        const text = tail + d.toString('latin1');
        const parts = text.split('\\r\\n\\r\\n');
        tail = parts.pop();
        for (let i = 0; i < parts.length; i++) c.write(ok);
      });
    });
    s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'ready', port: s.address().port })));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`raw responder exited with ${c}`)));
    child.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
  });
  return { port, child };
}

/** The same closed loop with Node's http.Agent (keep-alive, one request per socket at a time). */
async function agentLoad(port: number, spec: HttpRequestSpec): Promise<{ rate: number; cpu: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const body = spec.method === 'POST' ? Buffer.alloc(spec.bodyBytes ?? 0, 0x61) : undefined;
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const one = () => new Promise<void>((resolve) => {
    const req = http.request({ agent, host: '127.0.0.1', port, method: spec.method, path: spec.path, headers: { host: spec.authority, ...(body ? { 'content-length': body.length } : {}) }, timeout: 5000 }, (res) => {
      res.on('data', () => {});
      res.on('end', () => {
        if (res.statusCode === 200) done++;
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) await one();
  }));
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  return { rate: done / ((performance.now() - t0) / 1000), cpu: (cpu.user + cpu.system) / 1e6 / (done / 1000), errors };
}

/** wrk with one thread (so it uses one core like our generator); undefined when wrk is not installed. */
function wrkLoad(port: number, spec: HttpRequestSpec): { rate: number; cpu: number } | undefined {
  if (spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).status !== 0) return undefined;
  const script = spec.method === 'POST' ? ['-s', join(REPO_ROOT, 'bench/waypoint/wrk-post-1k.lua')] : [];
  const r = spawnSync('/usr/bin/time', ['-f', 'cpu=%U+%S', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, ...script, `http://127.0.0.1:${port}${spec.path}`], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const total = /(\d+) requests in/.exec(r.stdout);
  const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(r.stderr);
  if (!rate || !total) throw new Error(`wrk failed: ${r.stdout}${r.stderr}`);
  return { rate: Number(rate[1]), cpu: cpu ? (Number(cpu[1]) + Number(cpu[2])) / (Number(total[1]) / 1000) : Number.NaN };
}

async function compare(port: number, spec: HttpRequestSpec, what: string, lines: string[][]): Promise<void> {
  // A short warm-up so the server's JIT is not what the first generator pays for.
  await httpLoad({ host: '127.0.0.1', port }, { connections, seconds: 1, request: spec });
  const ours = await httpLoad({ host: '127.0.0.1', port }, { connections, seconds, request: spec });
  lines.push([what, 'http-load.ts', formatValue(ours.rate), formatValue((1000 * ours.clientCpuSeconds) / (ours.count / 1000)), String(ours.errors)]);
  const agent = await agentLoad(port, spec);
  lines.push([what, 'http.Agent', formatValue(agent.rate), formatValue(1000 * agent.cpu), String(agent.errors)]);
  const wrk = wrkLoad(port, spec);
  if (wrk) lines.push([what, 'wrk -t1', formatValue(wrk.rate), formatValue(1000 * wrk.cpu), '-']);
}

if (import.meta.main) {
  const echo = await startEcho();
  const raw = await startRawResponder();
  try {
    process.stdout.write(`bench/waypoint loopback on ${hostLine()}; ${connections} connections, ${seconds} s each\n\n`);
    const lines: string[][] = [];
    await compare(echo.port, { method: 'GET', path: '/bench', authority: 'echo' }, 'GET, lab/http-echo', lines);
    await compare(echo.port, { method: 'POST', path: '/bench', authority: 'echo', bodyBytes: 1024 }, 'POST 1 KiB, lab/http-echo', lines);
    await compare(raw.port, { method: 'GET', path: '/bench', authority: 'echo' }, 'GET, fixed 200 responder', lines);
    process.stdout.write(`${renderTextTable(['request', 'generator', 'req/s', 'client CPU ms / 1k req', 'errors'], lines, 2)}\n`);
  } finally {
    echo.child.kill('SIGTERM');
    raw.child.kill('SIGTERM');
  }
}
