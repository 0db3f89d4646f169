import { describe, expect, it } from 'vitest';
import { pollUntil, readAll } from '../../../lib/hbone/test-fixtures.ts';
import { socketPair } from './socket-pair.ts';

describe('socketPair', () => {
  it('carries bytes both ways with half-close', async () => {
    const [a, b] = socketPair();
    const fromA = readAll(b);
    a.end('to b');
    expect((await fromA).toString()).toBe('to b');
    b.end('to a');
    expect((await readAll(a)).toString()).toBe('to a');
    await pollUntil(() => a.destroyed && b.destroyed, 'both ends closed');
  });

  it('applies backpressure: writes complete as the other end reads', async () => {
    const [a, b] = socketPair();
    let writes = 0;
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 64; i++) if (a.write(chunk)) writes++;
    expect(writes).toBeLessThan(64);
    const got = readAll(b);
    a.end();
    expect((await got).length).toBe(64 * chunk.length);
  });

  it('destroying one end aborts the other', async () => {
    const [a, b] = socketPair();
    b.on('error', () => undefined);
    a.destroy();
    await pollUntil(() => b.destroyed, 'b destroyed');
  });

  it('a clean close (ended, then destroyed) does not abort the peer', async () => {
    const [a, b] = socketPair();
    const got = readAll(b);
    a.end('last words');
    await new Promise((r) => setImmediate(r));
    a.destroy();
    expect((await got).toString()).toBe('last words');
    expect(b.destroyed && !b.writableFinished).toBe(false);
    b.write('dropped'); // the other side is gone: discarded, not an error
    b.end();
    await pollUntil(() => b.destroyed, 'b closes after its own end');
  });
});
