import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../metrics/registry.ts';
import { createSelfSignedRoot, type CaMaterial } from './index.ts';
import { RootBundleFile } from './root-bundle-file.ts';

let dir: string;
let r1: CaMaterial;
let r2: CaMaterial;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'root-bundle-'));
  [r1, r2] = await Promise.all([createSelfSignedRoot(), createSelfSignedRoot()]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('RootBundleFile', () => {
  it('refuses to start on a missing or certificate-less file', () => {
    expect(() => new RootBundleFile(join(dir, 'absent.pem'))).toThrow(/ENOENT/);
    writeFileSync(join(dir, 'empty.pem'), 'not a certificate\n');
    expect(() => new RootBundleFile(join(dir, 'empty.pem'))).toThrow('no PEM certificate');
  });

  it('hands a changed bundle to grpc listeners and change listeners; keeps the last good one when the file breaks', async () => {
    const path = join(dir, 'root-cert.pem');
    writeFileSync(path, r1.certPem);
    const registry = new Registry();
    const f = new RootBundleFile(path, { pollMs: 60_000, reloads: registry.counter('reloads_total', 'h', ['result']) });
    try {
      const grpcUpdates: string[] = [];
      const changes: string[] = [];
      f.addCaCertificateListener((u) => grpcUpdates.push(u?.caCertificate.toString() ?? 'null'));
      f.onChange((pem) => changes.push(pem));
      await Promise.resolve();
      expect(grpcUpdates).toEqual([r1.certPem]);

      expect(f.reload()).toBe(false);
      writeFileSync(path, `${r1.certPem}${r2.certPem}`);
      expect(f.reload()).toBe(true);
      expect(f.pem).toBe(`${r1.certPem}${r2.certPem}`);
      expect(grpcUpdates.at(-1)).toBe(`${r1.certPem}${r2.certPem}`);
      expect(changes).toEqual([`${r1.certPem}${r2.certPem}`]);

      // A half-written file: refused, counted once however often it is polled, the bundle unchanged.
      writeFileSync(path, '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n');
      expect(f.reload()).toBe(false);
      expect(f.reload()).toBe(false);
      rmSync(path);
      expect(f.reload()).toBe(false);
      expect(f.pem).toBe(`${r1.certPem}${r2.certPem}`);
      expect(registry.render()).toMatch(/^reloads_total\{result="invalid"\} 1$/m);
      expect(registry.render()).toMatch(/^reloads_total\{result="unreadable"\} 1$/m);
      expect(changes).toHaveLength(1);
    } finally {
      f.close();
    }
  });
});
