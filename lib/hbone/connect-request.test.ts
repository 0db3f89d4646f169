import { describe, expect, it } from 'vitest';
import { buildConnectHeaders, decideConnect, formatForwarded, newTraceparent } from './connect-request.ts';

describe('buildConnectHeaders', () => {
  it('sends classic CONNECT: method and authority, no scheme or path, plus HBONE headers', () => {
    const h = buildConnectHeaders('10.0.0.2:8080', { baggage: 'k8s.namespace.name=a', forwarded: 'for="10.0.0.1:5555"', traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00` });
    expect(h).toEqual({
      ':method': 'CONNECT',
      ':authority': '10.0.0.2:8080',
      baggage: 'k8s.namespace.name=a',
      forwarded: 'for="10.0.0.1:5555"',
      traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`,
    });
    expect(h[':path']).toBeUndefined();
    expect(h[':scheme']).toBeUndefined();
  });

  it('always sends a traceparent, and x-forwarded-network only when given', () => {
    const h = buildConnectHeaders('[fd00::2]:80', { forwardedNetwork: 'net-a' });
    expect(h['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(h['x-forwarded-network']).toBe('net-a');
    expect(newTraceparent()).toHaveLength(55);
    expect(newTraceparent()).not.toBe(newTraceparent());
    // Across pool refills (256 ids each): all distinct, all well-formed.
    const ids = Array.from({ length: 600 }, newTraceparent);
    expect(new Set(ids).size).toBe(600);
    for (const id of ids) expect(id).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('formats forwarded like ztunnel', () => {
    expect(formatForwarded('10.0.0.1', 4000)).toBe('for="10.0.0.1:4000"');
    expect(formatForwarded('fd00::1', 4000, 'svc.ns.svc.cluster.local')).toBe('for="[fd00::1]:4000";host=svc.ns.svc.cluster.local');
  });
});

describe('decideConnect', () => {
  const tp = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
  it('accepts CONNECT to ip:port and passes the HBONE headers on', () => {
    expect(decideConnect({ ':method': 'CONNECT', ':authority': '10.1.2.3:80', baggage: 'x=y', forwarded: 'for="1.2.3.4:5"', traceparent: tp, 'x-forwarded-network': 'n1' })).toEqual({
      kind: 'tunnel',
      authority: { kind: 'ip', ip: '10.1.2.3', port: 80, family: 4 },
      rawAuthority: '10.1.2.3:80',
      headers: { baggage: 'x=y', forwarded: 'for="1.2.3.4:5"', traceparent: tp, forwardedNetwork: 'n1' },
    });
  });

  it('drops a traceparent of the wrong length', () => {
    const d = decideConnect({ ':method': 'CONNECT', ':authority': '10.1.2.3:80', traceparent: 'short' });
    expect(d.kind === 'tunnel' && d.headers.traceparent).toBe(undefined);
  });

  it.each([
    [{ ':method': 'GET', ':path': '/', ':authority': '10.0.0.1:80' }],
    [{ ':method': 'CONNECT' }],
    [{ ':method': 'CONNECT', ':authority': 'fd00::1:80' }],
    [{ ':method': 'CONNECT', ':authority': 'svc.ns.svc.cluster.local:80' }],
    [{ ':method': 'CONNECT', ':authority': '10.0.0.1:80', ':protocol': 'websocket' }],
  ])('400 for %j', (headers) => {
    expect(decideConnect(headers)).toMatchObject({ kind: 'reject', status: 400 });
  });

  it('accepts a hostname authority only when enabled (double-HBONE inner)', () => {
    expect(decideConnect({ ':method': 'CONNECT', ':authority': 'svc.ns.svc.cluster.local:80' }, { allowHostnameAuthority: true })).toMatchObject({
      kind: 'tunnel',
      authority: { kind: 'hostname', hostname: 'svc.ns.svc.cluster.local', port: 80 },
    });
  });
});
