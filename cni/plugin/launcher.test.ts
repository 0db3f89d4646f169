import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launcherPath, PLUGIN_MAIN_PATH, renderLauncher, shellQuote } from './launcher.ts';

describe('launcher script', () => {
  it('execs absolute node with minimal flags on absolute main.ts, passing arguments', () => {
    expect(renderLauncher({ nodePath: '/usr/bin/node', mainPath: '/opt/am/cni/plugin/main.ts', compileCacheDir: '/var/cache/ambient-cni' })).toBe(
      [
        '#!/bin/sh',
        '# ambient-cni: chained CNI plugin of ambient-mesh. Written by the node agent; edits are overwritten.',
        "NODE_COMPILE_CACHE='/var/cache/ambient-cni' exec '/usr/bin/node' --disable-warning=ExperimentalWarning '/opt/am/cni/plugin/main.ts' \"$@\"",
        '',
      ].join('\n'),
    );
  });

  it('without a cache dir, sets no cache', () => {
    expect(renderLauncher({ nodePath: '/n', mainPath: '/m.ts' })).not.toContain('NODE_COMPILE_CACHE');
  });

  it.each([
    { opts: { nodePath: 'node', mainPath: '/m.ts' }, key: 'nodePath' },
    { opts: { nodePath: '/n', mainPath: 'cni/plugin/main.ts' }, key: 'mainPath' },
    { opts: { nodePath: '/n', mainPath: '/m.ts', compileCacheDir: 'cache' }, key: 'compileCacheDir' },
  ])('refuses a relative $key (the runtime gives plugins no PATH or cwd to rely on)', ({ opts, key }) => {
    expect(() => renderLauncher(opts)).toThrow(new RegExp(`${key} must be an absolute path`));
  });

  it.each([
    { s: '/plain/path', q: "'/plain/path'" },
    { s: "/it's here", q: "'/it'\\''s here'" },
    { s: '/$(rm -rf) `x` "y"', q: "'/$(rm -rf) `x` \"y\"'" },
  ])('quotes $s for sh', ({ s, q }) => {
    expect(shellQuote(s)).toBe(q);
  });

  it('is named after the conflist type', () => {
    expect(launcherPath('/opt/cni/bin')).toBe('/opt/cni/bin/ambient-cni');
  });
});

describe('launcher script, executed', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ambient cni 'bin' "));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the plugin from a bare environment, paths with spaces and quotes included', () => {
    const bin = launcherPath(dir);
    writeFileSync(bin, renderLauncher({ nodePath: process.execPath, mainPath: PLUGIN_MAIN_PATH, compileCacheDir: join(dir, 'cache') }));
    chmodSync(bin, 0o755);
    const r = spawnSync(bin, [], { env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}', encoding: 'utf8', timeout: 15_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.0.0', supportedVersions: expect.arrayContaining(['1.0.0', '1.1.0']) });
  });
});
