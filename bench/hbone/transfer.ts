// Wall time to move 16 MiB each way through a loopback echo app, plain TCP (the baseline) next to one
// HBONE tunnel (our pool → our server, mTLS + HTTP/2 CONNECT). lib/hbone/tunnel.test.ts asserts
// that such a transfer is complete and its buffering bounded; how long it takes is measured here.
// No root needed: `node bench/hbone/transfer.ts`; BENCH_N overrides the samples per row (default 5).
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { HbonePool } from '../../lib/hbone/index.ts';
import { CLIENT_ID, SERVER_ID, createTestPki, startHboneServer, startTcpApp } from '../../lib/hbone/test-fixtures.ts';
import { percentile, renderTextTable } from '../common/report.ts';

const N = Number(process.env.BENCH_N ?? 5);
const SIZE = 16 * 1024 * 1024;
const CHUNK = 256 * 1024;
const data = Buffer.alloc(SIZE, 0x5a);

/** Writes `data` (respecting backpressure), half-closes, and resolves once SIZE bytes came back. */
async function roundTrip(s: Duplex): Promise<number> {
  const t0 = performance.now();
  let got = 0;
  const back = new Promise<void>((resolve, reject) => {
    s.on('data', (c: Buffer) => (got += c.length));
    s.once('end', () => (got === SIZE ? resolve() : reject(new Error(`got ${got} of ${SIZE} bytes`))));
    s.once('error', reject);
  });
  for (let off = 0; off < SIZE; off += CHUNK) {
    if (!s.write(data.subarray(off, off + CHUNK))) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  await back;
  return performance.now() - t0;
}

const app = await startTcpApp((s) => void s.pipe(s));
const pki = await createTestPki();
const serverCert = await pki.cert(SERVER_ID);
const hbone = await startHboneServer({ getCertificate: () => serverCert });
const pool = new HbonePool({ getCertificate: (id) => pki.cert(id), keepalive: false });

const plain = async (): Promise<number> => roundTrip(net.connect({ host: '127.0.0.1', port: app.port, allowHalfOpen: true }));
const tunnelled = async (): Promise<number> => {
  const t = await pool.open({
    key: { srcIdentity: CLIENT_ID, dstIdentities: [SERVER_ID], dstAddress: `${hbone.host}:${hbone.port}` },
    authority: `127.0.0.1:${app.port}`,
    headers: { baggage: '', forwarded: 'for="127.0.0.1:40000"' },
    connectSocket: () => net.connect(hbone.port, hbone.host),
  });
  return roundTrip(t.stream);
};

const rows: { name: string; run: () => Promise<number>; samples: number[] }[] = [
  { name: 'plain TCP', run: plain, samples: [] },
  { name: 'HBONE tunnel', run: tunnelled, samples: [] },
];
await plain(); // warm-up: JIT, TLS session, pool connection
await tunnelled();
for (let i = 0; i < N; i++) for (const r of rows) r.samples.push(await r.run());
await pool.close();
await hbone.close();
await app.close();

const base = percentile([...rows[0]!.samples].sort((a, b) => a - b), 50);
const head = ['16 MiB each way', 'p50 ms', 'max ms', 'MiB/s (2x16)', 'p50 / plain'];
const body = rows.map((r) => {
  const s = [...r.samples].sort((a, b) => a - b);
  const p50 = percentile(s, 50);
  return [r.name, p50.toFixed(1), (s[s.length - 1] ?? Number.NaN).toFixed(1), ((32 * 1000) / p50).toFixed(0), `${(p50 / base).toFixed(2)}x`];
});
process.stdout.write(`${renderTextTable(head, body)}\n(${N} samples per row)\n`);
