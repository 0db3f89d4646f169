// Test support: a ZDS peer running as another uid, to prove the server's SO_PEERCRED refusal.
import { spawn } from 'node:child_process';
import { encodeHello } from './codec.ts';

export const UID_REASON = 'requires root: runs a child as another uid';

/** Runs a node child that drops to `uid` (setuid after loading the addon), connects to the ZDS
 * socket, says hello and prints `closed <messages received>` when the server closes it. */
export function connectAs(uid: number, path: string): Promise<string> {
  const netns = new URL('../netns/index.ts', import.meta.url).pathname;
  const script = `
    const { SeqpacketSocket } = await import(${JSON.stringify(netns)});
    process.setgid(${uid}); process.setuid(${uid});
    const s = SeqpacketSocket.connect(${JSON.stringify(path)});
    let got = 0;
    s.on('message', () => got++);
    s.on('error', () => {});
    s.on('close', () => { console.log('closed ' + got); process.exit(0); });
    s.send(Buffer.from(${JSON.stringify([...encodeHello()])}));
    setTimeout(() => { console.log('still open ' + got); process.exit(1); }, 10000);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (out ? resolve(out.trim()) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}
