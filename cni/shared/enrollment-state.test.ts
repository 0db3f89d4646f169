import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnrollmentState, readEnrollmentStateFile, renderEnrollmentState, writeEnrollmentStateFile } from './enrollment-state.ts';

describe('enrollment state format', () => {
  it('renders sorted, de-duplicated namespaces with version and time, and parses back', () => {
    const text = renderEnrollmentState(['b', 'a', 'b'], new Date('2026-01-02T03:04:05Z'));
    expect(JSON.parse(text)).toEqual({ version: 1, ambientNamespaces: ['a', 'b'], updatedAt: '2026-01-02T03:04:05.000Z' });
    expect(parseEnrollmentState(text)).toEqual({ ok: true, state: { version: 1, ambientNamespaces: ['a', 'b'], updatedAt: '2026-01-02T03:04:05.000Z' } });
  });

  it('accepts the minimal form', () => {
    expect(parseEnrollmentState('{"version":1,"ambientNamespaces":[]}')).toEqual({ ok: true, state: { version: 1, ambientNamespaces: [] } });
  });

  it.each([
    { text: '{', error: /^f: not JSON/ },
    { text: '[]', error: /^f: must be a JSON object$/ },
    { text: '{"ambientNamespaces":[]}', error: /^f\.version: must be 1, got undefined$/ },
    { text: '{"version":2,"ambientNamespaces":[]}', error: /^f\.version: must be 1, got 2$/ },
    { text: '{"version":1}', error: /^f\.ambientNamespaces: must be a list/ },
    { text: '{"version":1,"ambientNamespaces":["a",""]}', error: /^f\.ambientNamespaces\[1\]: must be a non-empty string$/ },
    { text: '{"version":1,"ambientNamespaces":[],"updatedAt":5}', error: /^f\.updatedAt: must be a string$/ },
  ])('rejects $text', ({ text, error }) => {
    const r = parseEnrollmentState(text, 'f');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });
});

describe('enrollment state file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ambient-cni-state-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('missing file reads as missing', () => {
    expect(readEnrollmentStateFile(join(dir, 'none.state'))).toEqual({ kind: 'missing', path: join(dir, 'none.state') });
  });

  it('a bad file reads as invalid with the path in the error', () => {
    const p = join(dir, 'bad.state');
    writeFileSync(p, 'nope');
    expect(readEnrollmentStateFile(p)).toMatchObject({ kind: 'invalid', path: p, error: expect.stringMatching(new RegExp(`^${p}: not JSON`)) });
  });

  it('a directory in its place reads as invalid', () => {
    const p = join(dir, 'adir.state');
    mkdirSync(p);
    expect(readEnrollmentStateFile(p)).toMatchObject({ kind: 'invalid', path: p });
  });

  it('write then read round-trips, replaces atomically and leaves no temporary file', () => {
    const p = join(dir, 'ambient-namespaces.state');
    writeEnrollmentStateFile(p, ['x']);
    writeEnrollmentStateFile(p, ['mesh', 'app']);
    expect(readEnrollmentStateFile(p)).toMatchObject({ kind: 'ok', state: { version: 1, ambientNamespaces: ['app', 'mesh'] } });
    expect(readdirSync(dir).filter((f) => f.includes('tmp'))).toEqual([]);
  });
});
