// Go text/tabwriter semantics (what istioctl prints its tables with): tab-terminated cells, column
// blocks of consecutive lines that reach a column, width = widest cell + padding, the last cell of a
// line left unpadded. Pure; the writers hand it whole tables.

export interface TabwriterOptions {
  minwidth: number;
  tabwidth: number;
  padding: number;
  padchar: string;
}

/** `tabwriter.NewWriter(w, 0, 8, 5, ' ', 0)`: `istioctl waypoint list|status`, ztunnel certificates. */
export const WAYPOINT_TABLE: TabwriterOptions = { minwidth: 0, tabwidth: 8, padding: 5, padchar: ' ' };
/** `tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)`: ztunnel-config workloads, services, policies. */
export const ZTUNNEL_TABLE: TabwriterOptions = { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ' };

// Go counts runes (UTF-8 code points), not bytes or UTF-16 units.
const runeCount = (s: string): number => [...s].length;

/** Formats text as Go's tabwriter would after Flush: lines end with '\n', cells with '\t'. */
export function tabwrite(text: string, o: TabwriterOptions): string {
  const endsWithNewline = text.endsWith('\n');
  const rawLines = (endsWithNewline ? text.slice(0, -1) : text).split('\n');
  const lines = rawLines.map((l) => l.split('\t'));
  const widths: number[] = [];
  const out: string[] = [];

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let s = '';
      cells.forEach((cell, j) => {
        if (j < widths.length && j < cells.length - 1) s += cell + pad(widths[j]!, runeCount(cell), o);
        else s += cell;
      });
      out.push(s);
    }
  };

  // Go's recursive column-block algorithm: a block for column c is a run of lines with more than
  // c+1 cells; its width is fixed for the run, and nested columns are formatted inside it.
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = o.minwidth;
      for (; t < line1; t++) {
        const cells = lines[t]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, runeCount(cells[column]!) + o.padding);
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t; // the line that ended the block has too few cells: the loop's t++ may skip it
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}

function pad(cellWidth: number, textWidth: number, o: TabwriterOptions): string {
  if (o.padchar !== '\t') return o.padchar.repeat(Math.max(0, cellWidth - textWidth));
  // With a tab padchar Go rounds the cell up to a multiple of tabwidth and fills it with tabs.
  if (o.tabwidth <= 0) return '';
  const rounded = Math.ceil(cellWidth / o.tabwidth) * o.tabwidth;
  return '\t'.repeat(Math.ceil(Math.max(0, rounded - textWidth) / o.tabwidth));
}

/** Rows of cells → tabwriter output, one line per row. */
export function table(rows: readonly (readonly string[])[], o: TabwriterOptions): string {
  if (rows.length === 0) return '';
  return tabwrite(rows.map((r) => r.join('\t')).join('\n') + '\n', o);
}
