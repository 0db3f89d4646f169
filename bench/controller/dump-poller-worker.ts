// The thread of DumpPoller: one loop per ztunnel, fetching /config_dump, reducing it to the tracked
// uid set and posting what changed. Runs until terminated.
import { parentPort, workerData } from 'node:worker_threads';
import { diffUids, workloadUids } from './config-dump.ts';
import { monotonicMs, type PollerInput, type PollerMessage, type PollTarget } from './dump-poller.ts';

const input = workerData as PollerInput;
const port = parentPort;
if (!port) throw new Error('dump-poller-worker.ts runs as a worker thread of DumpPoller');

const post = (m: PollerMessage) => port.postMessage(m);

async function loop(t: PollTarget): Promise<never> {
  let prev = new Set<string>();
  for (;;) {
    const started = monotonicMs();
    try {
      const res = await fetch(t.url, { signal: AbortSignal.timeout(input.timeoutMs) });
      const at = monotonicMs();
      const body = Buffer.from(await res.arrayBuffer());
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.subarray(0, 200).toString('utf8')}`);
      const uids = workloadUids(body.toString('utf8'), input.prefix);
      const { added, removed } = diffUids(prev, uids);
      prev = uids;
      post({ kind: 'poll', node: t.node, at, added, removed, count: uids.size, bytes: body.length, durationMs: monotonicMs() - started });
    } catch (err) {
      post({ kind: 'error', node: t.node, at: monotonicMs(), message: (err as Error).message });
    }
    await new Promise((r) => setTimeout(r, input.intervalMs));
  }
}

for (const t of input.targets) void loop(t);
