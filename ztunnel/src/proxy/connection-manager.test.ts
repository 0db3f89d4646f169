import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log/logger.ts';
import { registerTcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { ConnectionManager } from './connection-manager.ts';

function setup() {
  const registry = new Registry();
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const cm = new ConnectionManager(registerTcpMetrics(registry), createLogger({ component: 'test', destination: out }));
  return { registry, cm, lines };
}

const metric = { reporter: 'destination' as const, source: { workload: 'sleep' }, destination: { workload: 'echo' }, mutualTls: true };
const access = { direction: 'inbound' as const, src: { addr: '10.0.0.1:1234' }, dst: { addr: '10.0.0.2:80' } };

describe('ConnectionManager', () => {
  it('counts opened/closed/bytes and logs once at the end', async () => {
    const { registry, cm, lines } = setup();
    const t = cm.open({ direction: 'inbound', metric, access, close: () => {} });
    cm.addBytes(t, 10, 20);
    cm.finish(t);
    cm.finish(t);
    await new Promise((r) => setImmediate(r));
    const text = registry.render();
    expect(text).toMatch(/^istio_tcp_connections_opened_total\{.*\} 1$/m);
    expect(text).toMatch(/^istio_tcp_connections_closed_total\{.*\} 1$/m);
    expect(text).toMatch(/^istio_tcp_sent_bytes_total\{.*\} 10$/m);
    expect(text).toMatch(/^istio_tcp_received_bytes_total\{.*\} 20$/m);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'connection complete', bytes_sent: 10, bytes_recv: 20 });
  });

  it('closes connections that a policy change now denies', () => {
    const { cm } = setup();
    const closed: number[] = [];
    const rbac = (ip: string) => ({ conn: { srcIp: ip, dstIp: '10.0.0.2', dstPort: 80 }, destinationUid: 'u' });
    const a = cm.open({ direction: 'inbound', metric, access, rbac: rbac('10.0.0.1'), close: () => closed.push(a.id) });
    const b = cm.open({ direction: 'inbound', metric, access, rbac: rbac('10.0.0.9'), close: () => closed.push(b.id) });
    expect(cm.recheck((r) => r.conn.srcIp !== '10.0.0.9')).toBe(1);
    expect(closed).toEqual([b.id]);
  });

  it('rejections are logged with the response flag', () => {
    const { registry, cm } = setup();
    cm.reject(metric, access, 'denied by policy', 'DENY');
    expect(registry.render()).toMatch(/^istio_tcp_connections_closed_total\{.*response_flags="DENY".*\} 1$/m);
  });
});
