import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginInstaller } from './install.ts';
import { quietLog } from './test-fakes.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const primary = { cniVersion: '1.0.0', name: 'pods', plugins: [{ type: 'bridge' }] };

describe('PluginInstaller', () => {
  it('installs, re-inserts after a rewrite, and uninstalls, the conflist valid JSON after every step', async () => {
    const root = mkdtempSync(join(tmpdir(), 'amc-install-'));
    dirs.push(root);
    const netDir = join(root, 'net.d');
    const binDir = join(root, 'bin');
    mkdirSync(netDir);
    mkdirSync(binDir);
    const conflist = join(netDir, '10-pods.conflist');
    writeFileSync(conflist, JSON.stringify(primary));
    let reinstalls = 0;
    const inst = new PluginInstaller({ netDir, binDir, entry: { type: 'ambient-cni', x: 1 }, executable: '#!/bin/sh\nexit 0\n', log: quietLog(), onReinstall: () => reinstalls++ });
    const types = () => (JSON.parse(readFileSync(conflist, 'utf8')) as { plugins: { type: string }[] }).plugins.map((p) => p.type);

    expect(inst.install()).toBe(true);
    expect(types()).toEqual(['bridge', 'ambient-cni']);
    expect(statSync(inst.executablePath).mode & 0o777).toBe(0o755);
    expect(inst.install()).toBe(false);

    inst.watch();
    writeFileSync(conflist, JSON.stringify(primary)); // another tool rewrites the file
    const deadline = Date.now() + 5000;
    while (reinstalls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(reinstalls).toBe(1);
    expect(types()).toEqual(['bridge', 'ambient-cni']);

    inst.uninstall();
    expect(types()).toEqual(['bridge']);
    expect(existsSync(inst.executablePath)).toBe(false);
  });

  it('refuses a primary config it cannot parse, leaving it untouched', async () => {
    const root = mkdtempSync(join(tmpdir(), 'amc-install-'));
    dirs.push(root);
    const conflist = join(root, '10-bad.conflist');
    writeFileSync(conflist, '{broken');
    const inst = new PluginInstaller({ netDir: root, binDir: root, entry: { type: 'ambient-cni' }, executable: '', log: quietLog() });
    expect(() => inst.install()).toThrow(/10-bad\.conflist: not JSON/);
    expect(readFileSync(conflist, 'utf8')).toBe('{broken');
  });
});

describe('PluginInstaller payload', () => {
  it('places the payload under <binDir>/<type>.d (linked, replaced only when it changed) and removes it on uninstall', () => {
    const root = mkdtempSync(join(tmpdir(), 'amc-payload-'));
    dirs.push(root);
    const netDir = join(root, 'net.d');
    const binDir = join(root, 'bin');
    mkdirSync(netDir);
    mkdirSync(binDir);
    writeFileSync(join(netDir, '10-pods.conflist'), JSON.stringify(primary));
    const node = join(root, 'node');
    const bundle = join(root, 'plugin.mjs');
    writeFileSync(node, 'binary', { mode: 0o755 });
    writeFileSync(bundle, 'v1');
    const inst = new PluginInstaller({ netDir, binDir, entry: { type: 'ambient-cni' }, executable: '#!/bin/sh\n', payload: { node, 'plugin.mjs': bundle }, log: quietLog() });
    inst.install();
    const placed = join(binDir, 'ambient-cni.d');
    expect(readFileSync(join(placed, 'plugin.mjs'), 'utf8')).toBe('v1');
    expect(statSync(join(placed, 'node')).ino).toBe(statSync(node).ino);
    expect(statSync(join(placed, 'node')).mode & 0o777).toBe(0o755);
    const before = statSync(join(placed, 'plugin.mjs')).ino;
    inst.install();
    expect(statSync(join(placed, 'plugin.mjs')).ino).toBe(before);
    // A new bundle (a rebuilt agent image) replaces the placed one.
    rmSync(bundle);
    writeFileSync(bundle, 'v2');
    inst.install();
    expect(readFileSync(join(placed, 'plugin.mjs'), 'utf8')).toBe('v2');
    inst.uninstall();
    expect(existsSync(placed)).toBe(false);
    expect(existsSync(inst.executablePath)).toBe(false);
  });
});
