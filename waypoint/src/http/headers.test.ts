import { describe, expect, it } from 'vitest';
import { applyRequestHeaderRules, applyResponseHeaderRules, isGrpcContentType, withoutHopByHop, type RequestHead } from './headers.ts';

describe('withoutHopByHop', () => {
  it('drops connection-specific headers and those `connection` names', () => {
    const h = withoutHopByHop(
      { connection: 'keep-alive, x-private', 'keep-alive': 'timeout=5', 'proxy-connection': 'x', 'transfer-encoding': 'chunked', upgrade: 'h2c', 'x-private': '1', 'x-kept': '2', ':path': '/', te: 'trailers', 'http2-settings': 'x' },
      false,
    );
    expect(h).toEqual({ 'x-kept': '2' });
  });
  it('keeps `te: trailers` for an HTTP/2 next hop only', () => {
    expect(withoutHopByHop({ te: 'trailers' }, true)).toEqual({ te: 'trailers' });
    expect(withoutHopByHop({ te: 'gzip' }, true)).toEqual({});
    expect(withoutHopByHop({ te: 'trailers' }, false)).toEqual({});
  });
});

describe('applyRequestHeaderRules', () => {
  const head = (headers: Record<string, string>): RequestHead => ({ method: 'GET', path: '/', authority: 'a', scheme: 'http', headers: { ...headers }, protocol: 'HTTP/1.1' });
  it('adds x-request-id when absent, keeps one that came, sets x-forwarded-proto, leaves XFF and trace headers', () => {
    const h1 = head({ 'x-forwarded-for': '1.2.3.4', traceparent: 't', 'x-b3-traceid': 'b', baggage: 'k=v', tracestate: 's' });
    applyRequestHeaderRules(h1, { generateRequestId: true, newRequestId: () => 'id-1' });
    expect(h1.headers).toEqual({ 'x-forwarded-for': '1.2.3.4', traceparent: 't', 'x-b3-traceid': 'b', baggage: 'k=v', tracestate: 's', 'x-request-id': 'id-1', 'x-forwarded-proto': 'http' });
    const h2 = head({ 'x-request-id': 'mine', 'x-forwarded-proto': 'https' });
    applyRequestHeaderRules(h2, { generateRequestId: true });
    expect(h2.headers).toEqual({ 'x-request-id': 'mine', 'x-forwarded-proto': 'http' });
    const h3 = head({});
    applyRequestHeaderRules(h3, { generateRequestId: false });
    expect(h3.headers['x-request-id']).toBeUndefined();
  });
  it('server header overwritten when the chain names one', () => {
    const h: Record<string, string> = { server: 'envoy-upstream' };
    applyResponseHeaderRules(h, 'istio-envoy');
    expect(h['server']).toBe('istio-envoy');
  });
  it.each([
    ['application/grpc', true],
    ['application/grpc+proto', true],
    ['application/grpc;charset=utf-8', true],
    ['application/grpc-web', false],
    ['application/json', false],
    [undefined, false],
  ])('isGrpcContentType(%s) → %s', (ct, want) => expect(isGrpcContentType(ct)).toBe(want));
});
