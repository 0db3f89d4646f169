// Stopping the lab's processes waits until they are really gone. The case `lab down` got wrong: a
// process (kube-apiserver, on exit) whose main thread leaves first while other threads still tear
// down. Its /proc environ is empty by then, so a sweep by tag saw nothing left while it still held
// its sockets. Here a small Python process does exactly that on SIGTERM: the main thread exits,
// another thread lingers, says so, then exits.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { arch } from 'node:os';
import { describe, expect, it } from 'vitest';
import { LAB_RUN_ENV } from './config.ts';
import { processGone, processRef } from './daemons.ts';
import { pollUntil } from './poll.ts';
import { killProcesses, labProcesses } from './sweep.ts';

// SYS_exit ends only the calling thread (exit_group would end them all).
const SYS_EXIT = arch() === 'arm64' ? 93 : 60;

const SCRIPT = `
import ctypes, os, signal, sys, threading, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
term = threading.Event()
def linger():
    signal.sigwait({signal.SIGTERM})
    term.set()
    pid = os.getpid()
    deadline = time.time() + 5
    while time.time() < deadline:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.01)
    sys.stdout.write("lingering without the main thread\\n"); sys.stdout.flush()
    time.sleep(1.5)
    os._exit(0)
threading.Thread(target=linger).start()
sys.stdout.write("ready\\n"); sys.stdout.flush()
term.wait()
ctypes.CDLL(None).syscall(${SYS_EXIT}, 0)
`;

describe('stopping lab processes', () => {
  it('waits until a process whose main thread exits first is gone, not only until its tag disappears', async () => {
    const runId = `stoptest-${randomBytes(4).toString('hex')}`;
    const child = spawn('python3', ['-c', SCRIPT], { env: { ...process.env, [LAB_RUN_ENV]: runId }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await pollUntil('the process to be ready', () => out.includes('ready'), { timeoutMs: 10_000 });
      expect(labProcesses(runId).map((p) => p.pid)).toEqual([child.pid]);
      const ref = processRef(child.pid!)!;
      const left = await killProcesses(runId);
      // The scenario happened: a thread outlived the main thread (and with it the tag in environ).
      expect(out).toContain('lingering without the main thread');
      expect(left).toEqual([]);
      expect(processGone(ref)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
