import { describe, expect, it } from 'vitest';
import type { FaultConfig } from '../config/types.ts';
import { decideFault, faultAbortReply, isGrpcRequest } from './fault.ts';

const seq = (...xs: number[]) => {
  let i = 0;
  return () => xs[i++ % xs.length]!;
};

describe('decideFault', () => {
  const delay100: FaultConfig = { delay: { fixedDelayMs: 7000, perMillion: 1_000_000 } };
  const abortHalf: FaultConfig = { abort: { kind: 'http', status: 500, perMillion: 500_000 } };
  it.each<[string, FaultConfig | undefined, FaultConfig | undefined, number, () => number, unknown]>([
    ['no config', undefined, undefined, 0, seq(0), undefined],
    ['delay at 100% always fires', delay100, undefined, 0, seq(0.999999), { delayMs: 7000 }],
    ['abort at 50% fires below the line', abortHalf, undefined, 0, seq(0.4999), { delayMs: 0, abort: { kind: 'http', status: 500, perMillion: 500_000 } }],
    ['abort at 50% does not fire above it', abortHalf, undefined, 0, seq(0.5), undefined],
    ['0% never fires', { abort: { kind: 'http', status: 500, perMillion: 0 } }, undefined, 0, seq(0), undefined],
    ['delay and abort are drawn independently', { delay: { fixedDelayMs: 10, perMillion: 500_000 }, abort: { kind: 'grpc', status: 14, perMillion: 500_000 } }, undefined, 0, seq(0.9, 0.1), { delayMs: 0, abort: { kind: 'grpc', status: 14, perMillion: 500_000 } }],
    ['the route config replaces the filter defaults', abortHalf, delay100, 0, seq(0.9), undefined],
    ['the filter defaults apply without a route config', undefined, delay100, 0, seq(0.5), { delayMs: 7000 }],
    ['max active faults reached', { ...delay100, maxActiveFaults: 2 }, undefined, 2, seq(0), undefined],
  ])('%s', (_n, route, defaults, active, random, want) => {
    expect(decideFault(route, defaults, active, random)).toEqual(want);
  });
});

describe('faultAbortReply', () => {
  it.each<[string, Parameters<typeof faultAbortReply>[0], boolean, number, Record<string, string>]>([
    ['HTTP abort of an HTTP request', { kind: 'http', status: 418, perMillion: 1 }, false, 418, { 'content-type': 'text/plain' }],
    ['gRPC abort of a gRPC request: 200 with grpc-status', { kind: 'grpc', status: 14, perMillion: 1 }, true, 200, { 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'fault filter abort' }],
    ['HTTP abort of a gRPC request: mapped to a gRPC status', { kind: 'http', status: 503, perMillion: 1 }, true, 200, { 'grpc-status': '14' }],
    ['gRPC abort of an HTTP request: mapped to an HTTP status', { kind: 'grpc', status: 14, perMillion: 1 }, false, 503, {}],
  ])('%s', (_n, abort, grpc, status, headers) => {
    const r = faultAbortReply(abort, grpc);
    expect(r.status).toBe(status);
    expect(r.headers).toMatchObject(headers);
  });
  it('recognises gRPC content types', () => {
    expect(['application/grpc', 'application/grpc+proto', 'text/plain', undefined].map(isGrpcRequest)).toEqual([true, true, false, false]);
  });
});
