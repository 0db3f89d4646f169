import { describe, expect, it } from 'vitest';
import { cpuSeconds, rssMiB, rssParts, statTicks, vmRssMiB } from './proc.ts';

describe('bench/common proc', () => {
  it('adds utime and stime, whatever the command name holds', () => {
    const line = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 11 0 123 456 789';
    expect(statTicks(line)).toBe(175);
  });

  it('reads VmRSS in MiB, NaN without one', () => {
    expect(vmRssMiB('Name:\tnode\nVmRSS:\t   51200 kB\nThreads:\t11\n')).toBe(50);
    expect(vmRssMiB('Name:\tkthreadd\n')).toBeNaN();
  });

  it('splits VmRSS into anonymous and file-backed pages', () => {
    const status = 'Name:\tnode\nVmRSS:\t   90112 kB\nRssAnon:\t   40960 kB\nRssFile:\t   49152 kB\nRssShmem:\t       0 kB\n';
    expect(rssParts(status)).toEqual({ rss: 88, anon: 40, file: 48 });
    expect(rssParts('Name:\tkthreadd\n').anon).toBeNaN();
  });

  it('reads this process', () => {
    expect(cpuSeconds(process.pid)).toBeGreaterThan(0);
    expect(rssMiB(process.pid)).toBeGreaterThan(1);
  });
});
