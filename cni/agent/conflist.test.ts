import { describe, expect, it } from 'vitest';
import { hasPlugin, insertPlugin, primaryConfigFile, removePlugin } from './conflist.ts';

const primary = JSON.stringify({ cniVersion: '1.0.0', name: 'pods', plugins: [{ type: 'bridge', bridge: 'cni0' }, { type: 'portmap' }] });
const ours = { type: 'ambient-cni', pluginEventSocket: '/run/x.sock' };

describe('conflist edits', () => {
  it('appends our entry last and keeps everything else', () => {
    const r = insertPlugin(primary, ours);
    expect(r.ok && r.changed).toBe(true);
    const doc = JSON.parse(r.ok ? r.text : '') as { name: string; plugins: { type: string }[] };
    expect(doc.name).toBe('pods');
    expect(doc.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap', 'ambient-cni']);
    expect(hasPlugin(r.ok ? r.text : '', 'ambient-cni')).toBe(true);
  });

  it('is idempotent, and replaces an outdated entry of ours', () => {
    const once = insertPlugin(primary, ours);
    const twice = insertPlugin(once.ok ? once.text : '', ours);
    expect(twice).toEqual({ ok: true, text: once.ok ? once.text : '', changed: false });
    const updated = insertPlugin(once.ok ? once.text : '', { ...ours, pluginEventSocket: '/run/y.sock' });
    expect(updated.ok && updated.changed).toBe(true);
    expect((JSON.parse(updated.ok ? updated.text : '') as { plugins: unknown[] }).plugins).toHaveLength(3);
  });

  it('removes only our entry', () => {
    const once = insertPlugin(primary, ours);
    const r = removePlugin(once.ok ? once.text : '', 'ambient-cni');
    expect(r.ok && JSON.parse(r.text)).toEqual(JSON.parse(primary));
    expect(removePlugin(primary, 'ambient-cni')).toEqual({ ok: true, text: primary, changed: false });
  });

  it('refuses a file it does not understand, saying where', () => {
    expect(insertPlugin('{nope', ours, '10-x.conflist')).toMatchObject({ ok: false, error: expect.stringMatching(/^10-x\.conflist: not JSON/) });
    expect(insertPlugin('{"plugins": [{}]}', ours, 'f')).toEqual({ ok: false, error: 'f: .plugins must be a list of objects with a "type"' });
  });

  it('picks the runtime primary file', () => {
    expect(primaryConfigFile(['99-z.conflist', '10-lab.conflist', 'README', '05-a.conf'])).toBe('05-a.conf');
    expect(primaryConfigFile(['README'])).toBeUndefined();
  });
});
