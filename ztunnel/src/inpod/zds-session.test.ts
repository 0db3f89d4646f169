// The ZDS session rules as a table: what each request means before and after SnapshotSent, and
// which pods a snapshot drops. No sockets.
import { describe, expect, it } from 'vitest';
import type { ZdsRequest } from '../../../lib/zds/index.ts';
import { zdsBackoff } from './backoff.ts';
import { ZdsSession } from './zds-session.ts';

const info = { name: 'p', namespace: 'ns', serviceAccount: 'sa' };
const add = (uid: string): ZdsRequest => ({ kind: 'add', uid, info });
const keep = (uid: string): ZdsRequest => ({ kind: 'keep', uid });
const del = (uid: string): ZdsRequest => ({ kind: 'del', uid });
const done: ZdsRequest = { kind: 'snapshotSent' };

function run(s: ZdsSession, reqs: ZdsRequest[]): string[] {
  return reqs.map((r) => {
    const a = s.receive(r);
    switch (a.kind) {
      case 'snapshotDone':
        return `done[${a.drop.join(',')}]`;
      case 'reject':
        return `reject:${a.error.code}`;
      case 'keep':
        return `keep:${a.uid}${a.known ? '' : '?'}`;
      default:
        return `${a.kind}:${a.uid}`;
    }
  });
}

describe('ZdsSession', () => {
  it('first connection: adds, then steady-state adds and deletes', () => {
    const s = new ZdsSession();
    s.newConnection();
    expect(run(s, [add('a'), add('b'), done, add('c'), del('a')])).toEqual(['add:a', 'add:b', 'done[]', 'add:c', 'del:a']);
    expect([...s.known].sort()).toEqual(['b', 'c']);
    expect(s.snapshotDone).toBe(true);
  });

  it('reconnect: drops what the new snapshot does not name (Add or Keep), keeps the rest', () => {
    const s = new ZdsSession();
    s.newConnection();
    run(s, [add('a'), add('b'), add('c'), done]);
    s.newConnection();
    expect(s.snapshotDone).toBe(false);
    expect(run(s, [keep('a'), add('c'), keep('z'), done])).toEqual(['keep:a', 'add:c', 'keep:z?', 'done[b]']);
    expect([...s.known].sort()).toEqual(['a', 'c']);
  });

  it('a delete during the snapshot takes the pod out of it', () => {
    const s = new ZdsSession();
    s.newConnection();
    run(s, [add('a'), done]);
    s.newConnection();
    expect(run(s, [keep('a'), del('a'), done])).toEqual(['keep:a', 'del:a', 'done[]']);
    expect(s.known.size).toBe(0);
  });

  it('refuses Keep after SnapshotSent and a second SnapshotSent', () => {
    const s = new ZdsSession();
    s.newConnection();
    expect(run(s, [done, keep('a'), done])).toEqual(['done[]', 'reject:PROTOCOL', 'reject:PROTOCOL']);
  });

  it('an empty snapshot drops everything', () => {
    const s = new ZdsSession();
    s.newConnection();
    run(s, [add('a'), add('b'), done]);
    s.newConnection();
    expect(run(s, [done])).toEqual(['done[a,b]']);
  });
});

describe('Backoff', () => {
  it('doubles up to the cap and restarts after reset', () => {
    const b = zdsBackoff({ initialMs: 10, maxMs: 50 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 40, 50, 50]);
    b.reset();
    expect(b.next()).toBe(10);
  });

  it("defaults to Istio's 10 ms … 15 s", () => {
    const b = zdsBackoff();
    expect([b.initialMs, b.maxMs]).toEqual([10, 15_000]);
  });
});
