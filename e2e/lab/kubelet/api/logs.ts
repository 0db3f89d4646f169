// `/containerLogs/{ns}/{pod}/{container}`: the container's log file (the one the pod runtime
// writes, stdout and stderr, kept across restarts) with the kubelet's PodLogOptions query:
// follow, tailLines (and the old `tail`), limitBytes, timestamps, previous. The lab keeps no
// per-line times, so `timestamps` stamps a line with the time it is served, and `previous` serves
// the one file (which holds the earlier instances too) once the container has restarted.
import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { ContainerTarget } from './host.ts';

export interface LogOptions {
  follow: boolean;
  timestamps: boolean;
  previous: boolean;
  tailLines?: number;
  limitBytes?: number;
}

function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False', ''].includes(v)) return false;
  return undefined;
}

/** The query as the kubelet decodes and validates it; errors carry its status and body. Pure. */
export function parseLogOptions(q: URLSearchParams): LogOptions | { status: 400 | 422; message: string } {
  const bad = { status: 400 as const, message: '{"message": "Unable to decode query."}' };
  const invalid = { status: 422 as const, message: '{"message": "Invalid request."}' };
  const out: LogOptions = { follow: false, timestamps: false, previous: false };
  for (const k of ['follow', 'timestamps', 'previous'] as const) {
    const v = q.get(k);
    if (v === null) continue;
    const b = parseBool(v);
    if (b === undefined) return bad;
    out[k] = b;
  }
  let tail = q.get('tailLines');
  const legacy = q.get('tail');
  if (legacy) tail = legacy === 'all' ? null : legacy;
  for (const [k, v] of [['tailLines', tail], ['limitBytes', q.get('limitBytes')], ['sinceSeconds', q.get('sinceSeconds')]] as const) {
    if (v === null) continue;
    if (!/^-?\d+$/.test(v)) return bad;
    const n = Number(v);
    if (k === 'tailLines') {
      if (n < 0) return invalid;
      out.tailLines = n;
    } else if (k === 'limitBytes') {
      if (n < 1) return invalid;
      out.limitBytes = n;
    } else if (n < 1) return invalid;
  }
  if (q.get('sinceSeconds') !== null && q.get('sinceTime') !== null) return invalid;
  return out;
}

/** The byte offset where the last `n` lines of `text` start (a final unterminated line counts). Pure. */
export function tailOffset(text: Buffer, n: number): number {
  if (n === 0) return text.length;
  let end = text.length;
  if (end > 0 && text[end - 1] === 0x0a) end--;
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (text[i] === 0x0a && ++seen === n) return i + 1;
  }
  return 0;
}

const POLL_MS = 200;

function readRange(file: string, from: number, to: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, from + off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Streams the log. `current` re-reads the container (undefined once the pod is gone); following
 * stops when the container no longer runs and the file has been read to its end.
 */
export function serveLogs(res: ServerResponse, target: ContainerTarget, opts: LogOptions, current: () => ContainerTarget | undefined): void {
  if (opts.previous && target.restartCount === 0) {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`previous terminated container "${target.container}" in pod "${target.name}" not found\n`);
    return;
  }
  const file = target.logPath;
  const size = statOrUndefined(file)?.size ?? 0;
  let pos = 0;
  if (opts.tailLines !== undefined && size > 0) pos = tailOffset(readRange(file, 0, size), opts.tailLines);
  // Headers go out once the starting point is fixed: a client that has them sees every later line.
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.flushHeaders();
  let sent = 0;
  let partial = '';
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    if (partial && opts.timestamps) res.write(`${new Date().toISOString()} ${partial}`);
    res.end();
  };
  res.on('close', () => {
    finished = true;
    if (timer) clearTimeout(timer);
  });
  const emit = (chunk: Buffer): boolean => {
    let out: Buffer = chunk;
    if (opts.timestamps) {
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      const now = new Date().toISOString();
      out = Buffer.from(lines.map((l) => `${now} ${l}\n`).join(''));
    }
    if (opts.limitBytes !== undefined && sent + out.length >= opts.limitBytes) {
      res.write(out.subarray(0, opts.limitBytes - sent));
      sent = opts.limitBytes;
      partial = '';
      finish();
      return false;
    }
    sent += out.length;
    res.write(out);
    return true;
  };
  const step = (): void => {
    if (finished) return;
    const now = statOrUndefined(file)?.size ?? 0;
    if (now < pos) pos = 0; // the file was replaced
    if (now > pos) {
      const chunk = readRange(file, pos, now);
      pos += chunk.length;
      if (!emit(chunk)) return;
    }
    if (!opts.follow) return finish();
    const c = current();
    if (!c || c.uid !== target.uid || c.state.kind !== 'running') {
      // One more read picks up what the container wrote as it exited.
      const last = statOrUndefined(file)?.size ?? 0;
      if (last > pos && emit(readRange(file, pos, last))) pos = last;
      return finish();
    }
    timer = setTimeout(step, POLL_MS);
  };
  step();
}
