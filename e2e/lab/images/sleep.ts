// lab/sleep: serves nothing; a pod to run clients from (the lab's `exec` enters its netns). Ready at
// once, exits 0 on SIGTERM. With CONNECT_ON_START=<ip>:<port> it first opens one TCP connection at
// the very start (before anything else), sends its pod name, half-closes and logs the reply: a
// pod whose first connection must already be captured. With CAT_FILES=<path>,<path>… it logs each
// file's content (`{"msg":"file","path","content"}`, paths relative to its cwd, the pod root) at
// start and again whenever it changes: a pod that shows what its volumes hold.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { exitOnSignal, log, podIdentity, ready } from './program.ts';

const id = podIdentity();
const target = process.env.CONNECT_ON_START;
if (target) {
  const i = target.lastIndexOf(':');
  const s = connect({ host: target.slice(0, i), port: Number(target.slice(i + 1)), allowHalfOpen: true });
  let reply = '';
  s.on('data', (d: Buffer) => (reply += d.toString()));
  s.on('end', () => log('info', 'first connection answered', { target, reply }));
  s.on('error', (err) => log('warn', 'first connection failed', { target, err: err.message }));
  s.end(`first from ${id.pod}`);
}

const files = (process.env.CAT_FILES ?? '').split(',').map((f) => f.trim()).filter(Boolean);
const lastSeen = new Map<string, string | null>();
function catFiles(): void {
  for (const path of files) {
    let content: string | null;
    try {
      content = readFileSync(path, 'utf8');
    } catch {
      content = null;
    }
    if (lastSeen.has(path) && lastSeen.get(path) === content) continue;
    lastSeen.set(path, content);
    log('info', 'file', content === null ? { path, missing: true } : { path, content });
  }
}
catFiles();

// A pending timer keeps the event loop alive until the signal.
const keepAlive = setInterval(() => {}, 1 << 30);
const watcher = files.length ? setInterval(catFiles, 200) : undefined;
exitOnSignal(() => {
  clearInterval(keepAlive);
  clearInterval(watcher);
});
log('info', 'sleep started', { pod: id.pod, namespace: id.namespace });
ready(null);
