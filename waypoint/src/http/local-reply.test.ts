import { describe, expect, it } from 'vitest';
import { encodeGrpcMessage, httpToGrpcStatus, localReply, renderLocalReply } from './local-reply.ts';

describe('localReply', () => {
  it.each([
    ['route_not_found', 404, 'NR', 'route_not_found', ''],
    ['cluster_not_found', 503, 'NC', 'cluster_not_found', ''],
    ['no_healthy_upstream', 503, 'UH', 'no_healthy_upstream', 'no healthy upstream'],
    ['connection_failure', 503, 'UF', 'upstream_reset_before_response_started{connection_failure}', 'upstream connect error or disconnect/reset before headers. reset reason: connection failure'],
    ['connection_termination', 503, 'UC', 'upstream_reset_before_response_started{connection_termination}', 'upstream connect error or disconnect/reset before headers. reset reason: connection termination'],
    ['upstream_timeout', 504, 'UT', 'upstream_response_timeout', 'upstream request timeout'],
    ['overflow', 503, 'UO', 'upstream_reset_before_response_started{overflow}', 'upstream connect error or disconnect/reset before headers. reset reason: overflow'],
  ] as const)('%s → %s %s', (kind, status, flag, details, body) => {
    expect(localReply(kind)).toMatchObject({ status, flags: [flag], details, body });
  });

  it('overflow carries x-envoy-overloaded; a transport failure reason is appended', () => {
    expect(localReply('overflow').headers).toEqual({ 'x-envoy-overloaded': 'true' });
    expect(localReply('connection_failure', 'HBONE_CONNECT_FAILED').body).toMatch(/, transport failure reason: HBONE_CONNECT_FAILED$/);
  });
});

describe('renderLocalReply', () => {
  it('plain HTTP: status, text body, length', () => {
    const r = renderLocalReply(localReply('no_healthy_upstream'), false);
    expect(r).toMatchObject({ status: 503, headers: { 'content-type': 'text/plain', 'content-length': '19' } });
    expect(r.body.toString()).toBe('no healthy upstream');
    expect(renderLocalReply(localReply('route_not_found'), false).headers).toEqual({ 'content-length': '0' });
  });

  it.each([
    ['no_healthy_upstream', '14'],
    ['upstream_timeout', '4'],
    ['route_not_found', '12'],
    ['cluster_not_found', '14'],
    ['overflow', '14'],
  ] as const)('gRPC %s: 200 trailers-only, grpc-status %s', (kind, gs) => {
    const r = renderLocalReply(localReply(kind), true);
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    expect(r.headers['content-type']).toBe('application/grpc');
    expect(r.headers['grpc-status']).toBe(gs);
    expect(r.grpcStatus).toBe(Number(gs));
  });

  it('grpc-message is percent-encoded', () => {
    expect(encodeGrpcMessage('a 100% ünicode\n')).toBe('a 100%25 %C3%BCnicode%0A');
    expect(httpToGrpcStatus(403)).toBe(7);
    expect(httpToGrpcStatus(418)).toBe(2);
  });
});
