// The generic codec rules: canonical proto3 encoding (defaults not written), unknown fields
// skipped, malformed input reported as a result, misuse of the encoder thrown as a TypeError, and
// the loader finding the .proto files from the source tree.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addressCodec, envoyRoot, PROTO_FILES, protoRoot, ProtoDecodeError, workloadCodec, type MessageInput, type Address } from './index.ts';
import { resolveProtoPath } from './loader.ts';
import { cat, hex, lenField, varintField } from './test-wire.ts';

describe('loader', () => {
  it('finds every .proto (ours beside the module, Envoy\'s in @grpc/grpc-js-xds) and resolves all types', () => {
    for (const f of PROTO_FILES) expect(existsSync(resolveProtoPath(f)), f).toBe(true);
    const root = protoRoot();
    expect(root.lookupType('istio.workload.Address').fullName).toBe('.istio.workload.Address');
    expect(root.lookupService('istio.v1.auth.IstioCertificateService').methods).toHaveProperty('CreateCertificate');
    expect(root.lookupService('envoy.service.discovery.v3.AggregatedDiscoveryService').methods).toHaveProperty('DeltaAggregatedResources');
    // Envoy's API is added to the same Root on demand.
    expect(envoyRoot().lookupType('envoy.config.listener.v3.Listener').fullName).toBe('.envoy.config.listener.v3.Listener');
  });
});

describe('encode', () => {
  it('writes nothing for fields at their proto3 default', () => {
    expect(workloadCodec.encode({ uid: '', name: '', addresses: [], services: {}, tunnelProtocol: 0, nativeTunnel: false }).length).toBe(0);
  });

  it('writes a oneof member even when it is empty', () => {
    expect(hex(addressCodec.encode({ type: { $case: 'workload', workload: {} } }))).toBe('0a00');
  });

  it('throws a TypeError for a $case the oneof does not have', () => {
    const bad = { type: { $case: 'pod', pod: {} } } as unknown as MessageInput<Address>;
    expect(() => addressCodec.encode(bad)).toThrow(/type: \$case must be one of workload, service/);
  });

  it('throws a TypeError for a value of the wrong type', () => {
    const bad = { uid: 42 } as unknown as MessageInput<Parameters<typeof workloadCodec.encode>[0]>;
    expect(() => workloadCodec.encode(bad)).toThrow(TypeError);
  });

  it('throws a TypeError for an enum number the schema does not define', () => {
    const bad = { tunnelProtocol: 9 } as unknown as Parameters<typeof workloadCodec.encode>[0];
    expect(() => workloadCodec.encode(bad)).toThrow(/tunnel_protocol: enum value expected/);
  });
});

describe('decode', () => {
  it('skips unknown fields (proto3 forward compatibility)', () => {
    const r = workloadCodec.decode(cat(lenField(20, 'u'), varintField(999, 5), lenField(998, 'future')));
    expect(r.ok && r.value.uid).toBe('u');
  });

  it('returns MALFORMED for truncated input and wrong wire types instead of throwing', () => {
    const truncated = workloadCodec.decode(Buffer.from([0xa2, 0x01, 0x05, 0x61]));
    expect(truncated.ok).toBe(false);
    expect(!truncated.ok && truncated.error).toBeInstanceOf(ProtoDecodeError);
    expect(!truncated.ok && truncated.error.code).toBe('MALFORMED');
    const wrongWireType = workloadCodec.decode(Buffer.from([0x0f]));
    expect(!wrongWireType.ok && wrongWireType.error.code).toBe('MALFORMED');
  });

  it('collects every unknown enum in one error', () => {
    const r = workloadCodec.decode(cat(varintField(5, 9), varintField(17, 4)));
    expect(!r.ok && r.error.issues).toEqual(['tunnelProtocol: unknown enum value 9 for TunnelProtocol', 'status: unknown enum value 4 for WorkloadStatus']);
    expect(!r.ok && r.error.message).toBe('istio.workload.Workload: tunnelProtocol: unknown enum value 9 for TunnelProtocol; status: unknown enum value 4 for WorkloadStatus');
  });
});
