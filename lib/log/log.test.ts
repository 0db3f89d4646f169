import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { logAccess } from './access-log.ts';
import { createLogger } from './logger.ts';

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  return { stream, lines };
}

describe('logging', () => {
  it('writes one JSON line per event with component and level names', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ component: 'ztunnel', destination: stream, level: 'debug' });
    log.debug({ pod: 'a' }, 'hello');
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({ component: 'ztunnel', level: 'debug', pod: 'a', msg: 'hello' });
  });

  it('access log uses Istio field names and omits empty ones', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ component: 'ztunnel', destination: stream });
    logAccess(log, {
      direction: 'inbound',
      src: { addr: '10.244.1.5:40000', workload: 'sleep', namespace: 'a', identity: 'spiffe://cluster.local/ns/a/sa/sleep' },
      dst: { addr: '10.244.2.7:8080', hboneAddr: '10.244.2.7:8080', workload: 'echo', namespace: 'b', identity: '' },
      bytesSent: 10,
      bytesRecv: 20,
      durationMs: 12.4,
    });
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({
      scope: 'access', msg: 'connection complete', 'src.addr': '10.244.1.5:40000', 'src.identity': 'spiffe://cluster.local/ns/a/sa/sleep',
      'dst.hbone_addr': '10.244.2.7:8080', direction: 'inbound', bytes_sent: 10, bytes_recv: 20, duration: '12ms',
    });
    expect(lines[0]).not.toHaveProperty('dst.identity');
  });
});
