import { describe, expect, it } from 'vitest';
import { agentConfigFromEnv } from './config.ts';

const base = { NODE_NAME: 'node1', KUBECONFIG: '/etc/kubeconfig' };

describe('agentConfigFromEnv: ZTUNNEL_UID', () => {
  it('is unset by default (root only on the ZDS socket) and takes a numeric uid', () => {
    expect(agentConfigFromEnv(base)).toMatchObject({ ok: true, config: { ztunnelUid: undefined } });
    expect(agentConfigFromEnv({ ...base, ZTUNNEL_UID: '1337' })).toMatchObject({ ok: true, config: { ztunnelUid: 1337 } });
  });

  it('refuses a name or a negative number with a clear error', () => {
    for (const bad of ['ztunnel', '-1', '1.5', '4294967295']) {
      expect(agentConfigFromEnv({ ...base, ZTUNNEL_UID: bad })).toEqual({ ok: false, errors: [`ZTUNNEL_UID must be a numeric uid, got ${JSON.stringify(bad)}`] });
    }
  });
});
