// The xDS bearer-token file reader, shared by ztunnel and the waypoint.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenFileReader } from './token-file.ts';

describe('tokenFileReader', () => {
  it('re-reads the file on every call, trimmed; a missing file is no token', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xds-token-'));
    try {
      const path = join(dir, 'istio-token');
      const read = tokenFileReader(path);
      expect(read()).toBeUndefined();
      writeFileSync(path, 'jwt-1\n');
      expect(read()).toBe('jwt-1');
      writeFileSync(path, 'jwt-2');
      expect(read()).toBe('jwt-2');
      writeFileSync(path, '\n');
      expect(read()).toBeUndefined();
      // Other errors reach the client, which logs them and connects without a token.
      expect(() => tokenFileReader(dir)()).toThrow(/EISDIR/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
