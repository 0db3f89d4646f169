// Reads a V8 heap snapshot (.heapsnapshot, as --heapsnapshot-signal writes it) and sums the
// objects' self sizes by constructor (objects) or by node type (strings, code, arrays...): where a
// process's V8 heap goes. Run: node bench/common/heap-summary.ts FILE [TOP].
import { readFileSync } from 'node:fs';
import { renderTextTable } from './report.ts';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  name: string;
  count: number;
  bytes: number;
}

/** Groups, largest first. Objects are named by their constructor, other nodes by `(type)`. */
export function summarizeHeap(snapshot: Snapshot): { total: number; groups: HeapGroup[] } {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const groups = new Map<string, HeapGroup>();
  let total = 0;
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + iType]!] ?? '?';
    const size = snapshot.nodes[i + iSize]!;
    const name = type === 'object' || type === 'native' ? snapshot.strings[snapshot.nodes[i + iName]!] ?? '?' : `(${type})`;
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, count: 0, bytes: 0 }));
    g.count++;
    g.bytes += size;
    total += size;
  }
  return { total, groups: [...groups.values()].sort((a, b) => b.bytes - a.bytes) };
}

export function renderHeap(summary: { total: number; groups: HeapGroup[] }, top = 15): string {
  const KiB = 1024;
  const rows = summary.groups.slice(0, top).map((g) => [g.name.slice(0, 40), String(g.count), (g.bytes / KiB).toFixed(0)]);
  return renderTextTable(['constructor / (type)', 'count', 'self KiB'], [...rows, ['total', '', (summary.total / KiB).toFixed(0)]]);
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node bench/common/heap-summary.ts FILE.heapsnapshot [TOP]');
    process.exit(2);
  }
  process.stdout.write(`${renderHeap(summarizeHeap(JSON.parse(readFileSync(file, 'utf8')) as Snapshot), Number(top ?? 15))}\n`);
}
