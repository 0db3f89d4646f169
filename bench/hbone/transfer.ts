// Wall time to move 16 MiB each way through a loopback echo app, plain TCP (the baseline) next to one
// HBONE tunnel (our pool → our server, mTLS + HTTP/2 CONNECT), and next to the same CONNECT tunnel
// built from nothing but node:tls, node:http2 and pipe() with HBONE's settings: what Node itself
// costs, so the gap between the last two rows is lib/hbone's own. lib/hbone/tunnel.test.ts asserts
// that such a transfer is complete and its buffering bounded; how long it takes is measured here.
// No root needed: `node bench/hbone/transfer.ts`; BENCH_N overrides the samples per row (default 5).
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { HbonePool } from '../../lib/hbone/index.ts';
import { CLIENT_H2_SETTINGS, CONNECTION_WINDOW_SIZE, MAX_SESSION_MEMORY_MB, SERVER_H2_SETTINGS } from '../../lib/hbone/settings.ts';
import { tlsContextOptions } from '../../lib/hbone/tls-context.ts';
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

// The bare-Node tunnel: one TLS + HTTP/2 connection kept for every sample, as the pool keeps its own.
const bare = tls.createServer({ ...tlsContextOptions(serverCert), requestCert: true, ALPNProtocols: ['h2'] }, (t) => {
  const session = http2.performServerHandshake(t, { settings: SERVER_H2_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
  session.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
  session.on('stream', (stream) => {
    const up = net.connect({ host: '127.0.0.1', port: app.port, allowHalfOpen: true }, () => {
      stream.respond({ ':status': 200 });
      stream.pipe(up).pipe(stream);
    });
  });
});
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
const clientCert = await pki.cert(CLIENT_ID);
const bareTls = tls.connect({
  ...tlsContextOptions(clientCert),
  host: '127.0.0.1',
  port: (bare.address() as net.AddressInfo).port,
  ALPNProtocols: ['h2'],
  checkServerIdentity: () => undefined, // the chain is checked against the mesh root; SANs are not the point here
});
await new Promise((r) => bareTls.once('secureConnect', r));
const bareSession = http2.connect('https://bench', { createConnection: () => bareTls, settings: CLIENT_H2_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
bareSession.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
const bareNode = async (): Promise<number> => roundTrip(bareSession.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${app.port}` }));

const rows: { name: string; run: () => Promise<number>; samples: number[] }[] = [
  { name: 'plain TCP', run: plain, samples: [] },
  { name: 'HBONE tunnel', run: tunnelled, samples: [] },
  { name: 'node:tls + node:http2 + pipe()', run: bareNode, samples: [] },
];
for (const r of rows) await r.run(); // warm-up: JIT, TLS session, pool connection
for (let i = 0; i < N; i++) for (const r of rows) r.samples.push(await r.run());
await pool.close();
bareSession.destroy();
bare.close();
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
