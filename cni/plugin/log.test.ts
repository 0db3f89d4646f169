import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log/logger.ts';
import type { PluginLogLevel } from './config.ts';
import { createPluginLog } from './log.ts';

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  let loads = 0;
  const load = async (level: PluginLogLevel) => {
    loads++;
    return createLogger({ component: 'ambient-cni', level, destination: stream });
  };
  return { lines, load, loads: () => loads };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('plugin log', () => {
  it('never loads the logger when nothing reaches the level', async () => {
    const c = capture();
    const log = createPluginLog('warn', c.load);
    log.debug({}, 'd');
    log.info({}, 'i');
    await log.flush();
    expect(c.loads()).toBe(0);
  });

  it('loads it once on the first line that counts, keeping order of queued lines', async () => {
    const c = capture();
    const log = createPluginLog('info', c.load);
    log.debug({}, 'dropped');
    log.info({ n: 1 }, 'first');
    log.warn({ n: 2 }, 'second');
    await log.flush();
    log.error({ n: 3 }, 'third');
    await settle();
    expect(c.loads()).toBe(1);
    expect(c.lines.map((l) => [l.level, l.msg, l.n, l.component])).toEqual([
      ['info', 'first', 1, 'ambient-cni'],
      ['warn', 'second', 2, 'ambient-cni'],
      ['error', 'third', 3, 'ambient-cni'],
    ]);
  });

  it('silent writes nothing', async () => {
    const c = capture();
    const log = createPluginLog('silent', c.load);
    log.error({}, 'x');
    await log.flush();
    expect(c.loads()).toBe(0);
  });
});
