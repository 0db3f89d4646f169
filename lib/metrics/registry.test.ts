import { describe, expect, it } from 'vitest';
import { LabelSet, Registry } from './registry.ts';
import { registerTcpMetrics, tcpLabels } from './istio-tcp.ts';

describe('Registry', () => {
  it('renders counters, gauges and histograms in Prometheus text format', () => {
    const r = new Registry();
    const c = r.counter('demo_requests_total', 'Requests\nserved', ['code']);
    c.inc({ code: '200' });
    c.inc({ code: '200' }, 2);
    c.inc({ code: 'x"y\\z' });
    r.gauge('demo_open', 'Open things').set({}, 4);
    r.histogram('demo_seconds', 'Latency', ['op'], [0.5, 0.1]).observe({ op: 'get' }, 0.2);
    expect(r.render()).toBe([
      '# HELP demo_requests_total Requests\\nserved',
      '# TYPE demo_requests_total counter',
      'demo_requests_total{code="200"} 3',
      'demo_requests_total{code="x\\"y\\\\z"} 1',
      '# HELP demo_open Open things',
      '# TYPE demo_open gauge',
      'demo_open 4',
      '# HELP demo_seconds Latency',
      '# TYPE demo_seconds histogram',
      'demo_seconds_bucket{op="get",le="0.1"} 0',
      'demo_seconds_bucket{op="get",le="0.5"} 1',
      'demo_seconds_bucket{op="get",le="+Inf"} 1',
      'demo_seconds_sum{op="get"} 0.2',
      'demo_seconds_count{op="get"} 1',
      '',
    ].join('\n'));
  });

  it('refuses wrong label sets, bad names, double registration and negative counter steps', () => {
    const r = new Registry();
    const c = r.counter('a_total', 'a', ['x']);
    expect(() => c.inc({})).toThrow(/missing label x/);
    expect(() => c.inc({ x: '1', y: '2' })).toThrow(/unexpected labels/);
    expect(() => c.inc({ x: '1' }, -1)).toThrow(/only go up/);
    expect(() => r.counter('a_total', 'again')).toThrow(/twice/);
    expect(() => r.gauge('bad-name', 'x')).toThrow(/invalid metric name/);
  });
});

describe('istio_tcp metrics', () => {
  it('fills every Istio label, with "unknown" for missing values', () => {
    const r = new Registry();
    const m = registerTcpMetrics(r);
    const labels = tcpLabels({
      reporter: 'destination',
      source: { workload: 'sleep', namespace: 'a', principal: 'spiffe://cluster.local/ns/a/sa/sleep' },
      destination: { workload: 'echo', namespace: 'b', service: 'echo.b.svc.cluster.local' },
      mutualTls: true,
    });
    m.opened.inc(labels);
    m.sent.inc(labels, 1024);
    expect(labels.source_app).toBe('unknown');
    expect(labels.response_flags).toBe('-');
    expect(labels.connection_security_policy).toBe('mutual_tls');
    const text = r.render();
    expect(text).toMatch(/^istio_tcp_connections_opened_total\{reporter="destination",source_workload="sleep",.*connection_security_policy="mutual_tls"\} 1$/m);
    expect(text).toMatch(/^istio_tcp_sent_bytes_total\{.*\} 1024$/m);
  });

  it('counts a LabelSet in the same series as the plain labels, in declared order, across metrics', () => {
    const r = new Registry();
    const names = ['code', 'method'] as const;
    const c = r.counter('demo_total', 'Demo', names);
    const h = r.histogram('demo_ms', 'Demo', names, [1]);
    const set = new LabelSet(names, { method: 'GET', code: '200' });
    c.inc({ code: '200', method: 'GET' });
    c.inc(set, 2);
    h.observe(set, 0.5);
    expect(c.get({ code: '200', method: 'GET' })).toBe(3);
    expect(r.render()).toContain('demo_total{code="200",method="GET"} 3');
    expect(r.render()).toContain('demo_ms_count{code="200",method="GET"} 1');
    expect(() => new LabelSet(names, { code: '200' })).toThrow(/missing label method/);
    expect(() => new LabelSet(names, { code: '200', method: 'GET', extra: 'x' })).toThrow(/unexpected labels/);
    expect(() => r.counter('other_total', 'Other', ['code', 'method']).inc(set)).toThrow(/label set for other label names/);
  });
});
