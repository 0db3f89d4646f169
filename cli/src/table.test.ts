import { describe, expect, it } from 'vitest';
import { table, tabwrite, WAYPOINT_TABLE, ZTUNNEL_TABLE } from './table.ts';

describe('tabwrite (Go text/tabwriter semantics)', () => {
  it('pads every column but the last to the widest cell plus padding 5 (istioctl waypoint list)', () => {
    const out = table([
      ['NAMESPACE', 'NAME', 'REVISION', 'TRAFFIC TYPE', 'PROGRAMMED'],
      ['bookinfo', 'bookinfo-rev', 'rev1', 'none', 'True'],
      ['default', 'waypoint', 'default', 'none', 'False'],
    ], WAYPOINT_TABLE);
    expect(out).toBe(
      'NAMESPACE     NAME             REVISION     TRAFFIC TYPE     PROGRAMMED\n'
      + 'bookinfo      bookinfo-rev     rev1         none             True\n'
      + 'default       waypoint         default      none             False\n');
  });

  it('uses padding 1 for the ztunnel-config tables', () => {
    expect(table([['NAMESPACE', 'POLICY NAME', 'ACTION', 'SCOPE'], ['default', 'allow-nothing', 'Allow', 'Namespace']], ZTUNNEL_TABLE))
      .toBe('NAMESPACE POLICY NAME   ACTION SCOPE\ndefault   allow-nothing Allow  Namespace\n');
  });

  it('forms column blocks only from consecutive lines that reach the column', () => {
    // The single-cell middle line ends the block: the lines after it are aligned on their own.
    const out = tabwrite('a\tbbbbbb\tc\nx\nlonger-cell\ty\tz\n', { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ' });
    expect(out).toBe('a bbbbbb c\nx\nlonger-cell y z\n');
  });

  it('aligns nested columns inside a block of lines with more cells', () => {
    const out = tabwrite('a\tb\nccc\tdd\te\nf\tg\th\n', { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ' });
    expect(out).toBe('a   b\nccc dd e\nf   g  h\n');
  });

  it('counts runes, not UTF-16 units, and honours minwidth', () => {
    const out = tabwrite('é\tx\nab\ty\n', { minwidth: 4, tabwidth: 8, padding: 1, padchar: ' ' });
    expect(out).toBe('é   x\nab  y\n');
  });

  it('pads with tabs rounded to tabwidth when the padchar is a tab', () => {
    expect(tabwrite('a\tb\nabcdefghi\tc\n', { minwidth: 0, tabwidth: 8, padding: 1, padchar: '\t' })).toBe('a\t\tb\nabcdefghi\tc\n');
  });

  it('prints nothing for no rows', () => {
    expect(table([], WAYPOINT_TABLE)).toBe('');
  });
});
