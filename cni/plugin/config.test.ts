import { describe, expect, it } from 'vitest';
import { DEFAULT_PLUGIN_CONFIG, parsePluginConfig } from './config.ts';

describe('plugin config', () => {
  it('defaults: Istio socket, conf-dir state file, kube-system excluded, info, 30 s', () => {
    expect(parsePluginConfig({ type: 'ambient-cni' })).toEqual({
      ok: true,
      config: {
        pluginEventSocket: '/var/run/istio-cni/pluginevent.sock',
        enrollmentStateFile: '/etc/cni/net.d/ambient-namespaces.state',
        excludeNamespaces: ['kube-system'],
        logLevel: 'info',
        timeoutSeconds: 30,
      },
    });
  });

  it('takes every field', () => {
    const raw = { pluginEventSocket: '/run/a.sock', enrollmentStateFile: '/etc/x.state', excludeNamespaces: [], logLevel: 'debug', timeoutSeconds: 2.5 };
    expect(parsePluginConfig(raw)).toEqual({ ok: true, config: raw });
  });

  it('does not share the default exclude list between calls', () => {
    const a = parsePluginConfig({});
    if (a.ok) a.config.excludeNamespaces.push('x');
    expect(DEFAULT_PLUGIN_CONFIG.excludeNamespaces).toEqual(['kube-system']);
  });

  it.each([
    { raw: { pluginEventSocket: 'rel.sock' }, error: 'config.pluginEventSocket: must be an absolute path, got "rel.sock"' },
    { raw: { enrollmentStateFile: 3 }, error: 'config.enrollmentStateFile: must be an absolute path, got 3' },
    { raw: { excludeNamespaces: 'kube-system' }, error: 'config.excludeNamespaces: must be a list of namespace names' },
    { raw: { excludeNamespaces: ['a', ''] }, error: 'config.excludeNamespaces[1]: must be a non-empty string' },
    { raw: { logLevel: 'loud' }, error: 'config.logLevel: must be one of trace, debug, info, warn, error, silent, got "loud"' },
    { raw: { timeoutSeconds: -1 }, error: 'config.timeoutSeconds: must be a number of seconds in (0, 600], got -1' },
    { raw: { timeoutSeconds: '5' }, error: 'config.timeoutSeconds: must be a number of seconds in (0, 600], got "5"' },
    { raw: { timeoutSeconds: 601 }, error: 'config.timeoutSeconds: must be a number of seconds in (0, 600], got 601' },
  ])('rejects $raw', ({ raw, error }) => {
    expect(parsePluginConfig(raw)).toEqual({ ok: false, errors: [error] });
  });

  it('reports every bad field', () => {
    const r = parsePluginConfig({ logLevel: 1, timeoutSeconds: null });
    expect(r.ok ? [] : r.errors).toHaveLength(2);
  });
});
