import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../../lib/metrics/registry.ts';
import type { PeerWorkload } from '../config/types.ts';
import { accessLogFields, createAccessLogger, logAccess } from './access-log.ts';
import { ENVOY_DEFAULT_BUCKETS, REQUEST_LABELS, registerWaypointMetrics, requestLabels, upstreamIp } from './metrics.ts';
import type { RequestRecord } from './request-record.ts';

const SLEEP: PeerWorkload = {
  uid: 'Kubernetes//Pod/default/sleep-1',
  name: 'sleep-1',
  namespace: 'default',
  serviceAccount: 'sleep',
  workloadName: 'sleep',
  canonicalService: 'sleep',
  canonicalRevision: 'v1',
  cluster: 'Kubernetes',
  app: 'sleep',
  identity: 'spiffe://cluster.local/ns/default/sa/sleep',
};

const REVIEWS_V2: PeerWorkload = {
  uid: 'Kubernetes//Pod/bookinfo/reviews-v2-1',
  name: 'reviews-v2-1',
  namespace: 'bookinfo',
  serviceAccount: 'bookinfo-reviews',
  workloadName: 'reviews-v2',
  canonicalService: 'reviews',
  canonicalRevision: 'v2',
  cluster: 'Kubernetes',
  app: 'reviews',
  version: 'v2',
  identity: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews',
};

function httpRecord(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    kind: 'http',
    startTime: new Date('2030-01-01T00:00:00.000Z'),
    durationMs: 12.4,
    requestProtocol: 'http',
    protocol: 'HTTP/1.1',
    method: 'GET',
    path: '/reviews/1',
    authority: 'reviews.bookinfo:9080',
    userAgent: 'curl/8',
    requestId: 'abc',
    responseCode: 200,
    responseFlags: [],
    responseCodeDetails: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 300,
    requestSize: 120,
    responseSize: 420,
    upstreamServiceTimeMs: 10,
    upstreamHost: 'envoy://connect_originate/10.244.2.9:9080',
    upstreamCluster: 'inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local',
    routeName: 'default',
    downstreamLocalAddress: '10.96.0.20:9080',
    downstreamRemoteAddress: '10.244.1.5:40000',
    sourcePrincipal: SLEEP.identity,
    localPrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/waypoint',
    source: SLEEP,
    destinationService: { host: 'reviews.bookinfo.svc.cluster.local', name: 'reviews', namespace: 'bookinfo' },
    destinationWorkload: { name: 'reviews-v2', namespace: 'bookinfo', canonicalService: 'reviews', canonicalRevision: 'v2', cluster: 'Kubernetes' },
    destinationPrincipal: REVIEWS_V2.identity,
    ...over,
  };
}

describe('requestLabels', () => {
  it("has Istio's waypoint labels for a routed request (TestL7Telemetry's query)", () => {
    expect(requestLabels(httpRecord(), REVIEWS_V2)).toEqual({
      reporter: 'waypoint',
      source_workload: 'sleep',
      source_canonical_service: 'sleep',
      source_canonical_revision: 'v1',
      source_workload_namespace: 'default',
      source_principal: 'spiffe://cluster.local/ns/default/sa/sleep',
      source_app: 'sleep',
      source_version: 'unknown',
      source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v2',
      destination_workload_namespace: 'bookinfo',
      destination_principal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews',
      destination_app: 'reviews',
      destination_version: 'v2',
      destination_service: 'reviews.bookinfo.svc.cluster.local',
      destination_service_name: 'reviews',
      destination_service_namespace: 'bookinfo',
      destination_canonical_service: 'reviews',
      destination_canonical_revision: 'v2',
      destination_cluster: 'Kubernetes',
      request_protocol: 'http',
      response_code: '200',
      grpc_response_status: '',
      response_flags: '-',
      connection_security_policy: 'mutual_tls',
    });
  });

  it('says unknown for everything nobody knows, falls back to the authority for the service', () => {
    const l = requestLabels(
      httpRecord({ source: undefined, sourcePrincipal: undefined, destinationService: undefined, destinationWorkload: undefined, destinationPrincipal: undefined, responseCode: 503, responseFlags: ['UH'] }),
    );
    expect(Object.keys(l)).toEqual([...REQUEST_LABELS]);
    expect(l).toMatchObject({
      source_workload: 'unknown',
      source_canonical_revision: 'unknown',
      source_principal: 'unknown',
      destination_workload: 'unknown',
      destination_canonical_revision: 'unknown',
      destination_service: 'reviews.bookinfo',
      destination_service_name: 'unknown',
      response_code: '503',
      response_flags: 'UH',
      connection_security_policy: 'unknown',
    });
  });

  it('renders the gRPC status and several flags', () => {
    expect(requestLabels(httpRecord({ requestProtocol: 'grpc', protocol: 'HTTP/2', grpcStatus: 14, responseFlags: ['UF', 'URX'] }))).toMatchObject({
      request_protocol: 'grpc',
      grpc_response_status: '14',
      response_flags: 'UF,URX',
    });
  });

  it.each([
    ['envoy://connect_originate/10.244.2.9:9080', '10.244.2.9'],
    ['10.1.2.3:80', '10.1.2.3'],
    ['[fd00::1]:80', 'fd00::1'],
    ['envoy://connect_originate/[fd00::2]:80', 'fd00::2'],
    [undefined, undefined],
  ])('upstreamIp(%s) = %s', (h, ip) => expect(upstreamIp(h)).toBe(ip));
});

describe('registerWaypointMetrics', () => {
  it('counts a request, observes duration and sizes in the Envoy buckets', () => {
    const registry = new Registry();
    const m = registerWaypointMetrics(registry, { findByIp: (ip) => (ip === '10.244.2.9' ? REVIEWS_V2 : undefined) });
    m.record(httpRecord());
    m.record(httpRecord({ durationMs: 700 }));
    const text = registry.render();
    expect(text).toMatch(/^istio_requests_total\{reporter="waypoint",.*destination_app="reviews",.*response_code="200",grpc_response_status="",response_flags="-",connection_security_policy="mutual_tls"\} 2$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_bucket\{.*le="25"\} 1$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_bucket\{.*le="1000"\} 2$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_sum\{.*\} 712.4$/m);
    expect(text).toMatch(/^istio_request_bytes_sum\{.*\} 240$/m);
    expect(text).toMatch(/^istio_response_bytes_count\{.*\} 2$/m);
    const les = [...text.matchAll(/^istio_response_bytes_bucket\{.*le="([^"]+)"\}/gm)].map((x) => x[1]);
    expect(les).toEqual([...ENVOY_DEFAULT_BUCKETS.map(String), '+Inf']);
  });

  it('counts a tcp record in istio_tcp_* with the tcp label set', () => {
    const registry = new Registry();
    const m = registerWaypointMetrics(registry);
    m.record(httpRecord({ kind: 'tcp', requestProtocol: 'tcp', protocol: undefined, method: undefined, responseCode: 0, bytesReceived: 10, bytesSent: 20 }));
    const labels = { ...requestLabels(httpRecord({ kind: 'tcp', requestProtocol: 'tcp' })) } as Record<string, string>;
    delete labels.response_code;
    delete labels.grpc_response_status;
    expect(m.tcp.opened.get(labels)).toBe(1);
    expect(m.tcp.closed.get(labels)).toBe(1);
    expect(m.tcp.sent.get(labels)).toBe(20);
    expect(m.tcp.received.get(labels)).toBe(10);
    expect(registry.render()).not.toMatch(/^istio_requests_total\{/m);
  });
});

describe('access log', () => {
  it("has Envoy's JSON keys, - for missing values", () => {
    const f = accessLogFields(httpRecord({ userAgent: undefined, xForwardedFor: undefined }));
    expect(f).toEqual({
      start_time: '2030-01-01T00:00:00.000Z',
      route_name: 'default',
      method: 'GET',
      path: '/reviews/1',
      protocol: 'HTTP/1.1',
      response_code: 200,
      response_flags: '-',
      response_code_details: 'via_upstream',
      connection_termination_details: '-',
      upstream_transport_failure_reason: '-',
      bytes_received: 0,
      bytes_sent: 300,
      duration: 12,
      upstream_service_time: 10,
      x_forwarded_for: '-',
      user_agent: '-',
      request_id: 'abc',
      authority: 'reviews.bookinfo:9080',
      upstream_host: 'envoy://connect_originate/10.244.2.9:9080',
      upstream_cluster: 'inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local',
      upstream_local_address: '-',
      downstream_local_address: '10.96.0.20:9080',
      downstream_remote_address: '10.244.1.5:40000',
      requested_server_name: '-',
      source_principal: 'spiffe://cluster.local/ns/default/sa/sleep',
      destination_principal: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews',
    });
  });

  it('writes one JSON line with scope access, at info whatever the process level', () => {
    const out = new PassThrough();
    const log = createAccessLogger(out);
    logAccess(log, httpRecord({ responseFlags: ['UC'], responseCode: 503 }));
    const lines = out.read().toString().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ scope: 'access', level: 'info', msg: 'request complete', response_code: 503, response_flags: 'UC' });
  });
});
