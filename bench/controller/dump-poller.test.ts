// The poller thread against a real HTTP server on loopback serving config_dump bodies we change.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DumpPoller, monotonicMs, type PollerMessage } from './dump-poller.ts';

type Poll = Extract<PollerMessage, { kind: 'poll' }>;

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('DumpPoller', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  async function server(): Promise<{ url: string; set: (uids: string[] | 'broken') => void }> {
    let body = JSON.stringify({ workloads: [] });
    const s = http.createServer((_req, res) => {
      if (body === 'broken') res.writeHead(500).end('boom');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => s.close(() => r())));
    return {
      url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/config_dump`,
      set: (uids) => (body = uids === 'broken' ? 'broken' : JSON.stringify({ workloads: uids.map((uid) => ({ uid })) })),
    };
  }

  it('reports what each ztunnel gained and lost, stamped on the monotonic clock', async () => {
    const [a, b] = [await server(), await server()];
    const polls: Poll[] = [];
    const t0 = monotonicMs();
    const p = new DumpPoller({ targets: [{ node: 'n1', url: a.url }, { node: 'n2', url: b.url }], prefix: 'K//Pod/bench/', intervalMs: 10, timeoutMs: 5000 }, (m) => polls.push(m));
    cleanup.push(() => p.stop());
    await until('first polls', () => p.count('n1') === 0 && p.count('n2') === 0);
    a.set(['K//Pod/bench/x', 'K//Pod/other/y']);
    await until('x on n1', () => p.count('n1') === 1);
    a.set([]);
    b.set(['K//Pod/bench/x']);
    await until('x moved', () => p.count('n1') === 0 && p.count('n2') === 1);
    // Per node in order; the two nodes are polled independently, so n2's gain may come before n1's loss.
    const changes = (node: string) => polls.filter((m) => m.node === node && (m.added.length || m.removed.length)).map((m) => `+${m.added.join()} -${m.removed.join()}`);
    expect(changes('n1')).toEqual(['+K//Pod/bench/x -', '+ -K//Pod/bench/x']);
    expect(changes('n2')).toEqual(['+K//Pod/bench/x -']);
    for (const m of polls) expect(m.at).toBeGreaterThanOrEqual(t0);
    expect(p.stats()).toMatchObject({ errors: 0 });
    expect(p.stats().polls).toBe(polls.length);
    expect(p.failure()).toBeUndefined();
  });

  it('fails after a ztunnel keeps answering with errors', async () => {
    const a = await server();
    a.set('broken');
    const p = new DumpPoller({ targets: [{ node: 'n1', url: a.url }], prefix: 'K//', intervalMs: 1, timeoutMs: 5000 }, () => {});
    cleanup.push(() => p.stop());
    await until('the poller to give up', () => p.failure() !== undefined);
    expect(p.failure()?.message).toMatch(/n1 failed \d+ times in a row: HTTP 500: boom/);
    expect(p.count('n1')).toBeUndefined();
  });
});
