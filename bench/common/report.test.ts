import { describe, expect, it } from 'vitest';
import { formatValue, renderColumns, renderTextTable } from './report.ts';

describe('bench/common report', () => {
  it('formats by magnitude, dash for nothing', () => {
    expect([1234.5, 123.4, 12.34, 1.234, 0.0123].map(formatValue)).toEqual(['1,235', '123', '12.3', '1.23', '0.01']);
    expect(formatValue(undefined)).toBe('-');
    expect(formatValue(Number.NaN)).toBe('-');
  });

  it('prints any number of columns with ratio columns against the baseline', () => {
    const t = renderColumns(
      [{ head: 'base' }, { head: 'a', ratioHead: 'a/base' }, { head: 'b' }, { head: 'c', ratioHead: 'c/base' }],
      [
        { metric: 'rate', unit: 'req/s', values: [2000, 1000, 5, 500] },
        { metric: 'cost', unit: 'CPU s', values: [undefined, 0.5, undefined, 0.25] },
        { metric: 'zero base', unit: 'count', values: [0, 3, 0, 0] },
      ],
    ).split('\n');
    expect(t[0]).toMatch(/^metric\s+unit\s+base\s+a\s+b\s+c\s+a\/base\s+c\/base$/);
    expect(t[1]).toMatch(/^-+(\s+-+){7}$/);
    expect(t[2]).toMatch(/^rate\s+req\/s\s+2,000\s+1,000\s+5\.00\s+500\s+0\.50x\s+0\.25x$/);
    expect(t[3]).toMatch(/^cost\s+CPU s\s+-\s+0\.50\s+-\s+0\.25\s+-\s+-$/);
    expect(t[4]).toMatch(/^zero base\s+count\s+0\.00\s+3\.00\s+0\.00\s+0\.00\s+-\s+-$/);
    // Right-aligned numbers: every row as wide as the heading.
    expect(new Set(t.map((l) => l.length)).size).toBe(1);
  });

  it('prints a text table with label columns left and values right, and a rule under the heading', () => {
    const t = renderTextTable(['phase', 'MiB', 'note'], [['start', '97.5', ''], ['after 1,000 conns', '238', 'x']]).split('\n');
    expect(t).toEqual(['phase               MiB  note', '-----------------  ----  ----', 'start              97.5', 'after 1,000 conns   238     x']);
    expect(renderTextTable(['a', 'b'], [['x', '1']], 2).split('\n')[2]).toBe('x  1');
  });
});
