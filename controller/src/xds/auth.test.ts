import { Metadata } from '@grpc/grpc-js';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { xdsAuthenticator } from './auth.ts';

const md = (auth?: string) => {
  const m = new Metadata();
  if (auth) m.set('authorization', auth);
  return m;
};

describe('xDS authentication', () => {
  const registry = new Registry();
  const lines: string[] = [];
  const dest = new PassThrough();
  dest.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  const auth = xdsAuthenticator({
    reviewToken: async (t) => (t === 'zt' ? { authenticated: true, username: 'system:serviceaccount:istio-system:ztunnel' } : t === 'user' ? { authenticated: true, username: 'alice' } : { authenticated: false, error: 'bad' }),
    log: createLogger({ component: 'test', destination: dest }),
    registry,
  });

  it('accepts a service-account token and names the caller', async () => {
    expect(await auth({ metadata: md('Bearer zt'), peer: 'p' })).toEqual({ ok: true, caller: { namespace: 'istio-system', serviceAccount: 'ztunnel' } });
  });

  it('refuses no token, a forged token and a non-service-account user; counts and logs each', async () => {
    for (const a of [undefined, 'Bearer forged', 'Bearer user']) expect((await auth({ metadata: md(a), peer: '127.0.0.1:1' })).ok).toBe(false);
    const m = registry.render();
    expect(m).toMatch(/^pilot_xds_auth_failures_total\{reason="no_token"\} 1$/m);
    expect(m).toMatch(/^pilot_xds_auth_failures_total\{reason="token_invalid"\} 1$/m);
    expect(m).toMatch(/^pilot_xds_auth_failures_total\{reason="not_a_service_account"\} 1$/m);
    expect(lines.filter((l) => l.includes('xDS caller refused'))).toHaveLength(3);
  });
});
