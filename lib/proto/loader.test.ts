// The loader's laziness: Envoy's .proto tree is parsed at the first use of an Envoy codec, so a
// process that only speaks Istio's APIs (ztunnel, the CNI agent) never pays for it.
import { describe, expect, it } from 'vitest';
import { listenerCodec, protoRoot, workloadCodec } from './index.ts';

describe('loader', () => {
  it("parses Envoy's protos only when an Envoy codec is first used", () => {
    workloadCodec.encode({ uid: 'u' });
    expect(protoRoot().lookup('envoy.config.listener.v3.Listener')).toBeNull();
    listenerCodec.encode({ name: 'l' });
    expect(protoRoot().lookup('envoy.config.listener.v3.Listener')).not.toBeNull();
  });
});
