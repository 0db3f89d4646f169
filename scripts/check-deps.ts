// Dependency rules (DESIGN.md §1, STYLE.md rule 15): components import only lib/, never each other;
// lib/ imports nothing of ours outside lib/; no import cycles. Exits 1 with the offending imports.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const COMPONENTS = ['ztunnel', 'cni', 'waypoint', 'controller', 'cli'];
const SCANNED = ['lib', ...COMPONENTS, 'e2e', 'bench', 'scripts'];

function walk(dir: string, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e === 'node_modules' || e === 'build') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec?.startsWith('.')) out.push(resolve(dirname(file), spec));
  }
  return out;
}

function area(file: string): string {
  return relative(ROOT, file).split('/')[0] ?? '';
}

export function findViolations(graph: Map<string, string[]>): string[] {
  const problems: string[] = [];
  for (const [file, deps] of graph) {
    const from = area(file);
    for (const dep of deps) {
      const to = area(dep);
      if (from === to || to === 'lib') continue;
      if (from === 'lib' || COMPONENTS.includes(from)) {
        problems.push(`${relative(ROOT, file)} imports ${relative(ROOT, dep)} (${from}/ may import only lib/)`);
      }
    }
  }
  // Cycles: depth-first search with colours over the test-free graph.
  const colour = new Map<string, 'grey' | 'black'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    colour.set(f, 'grey');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      const c = colour.get(d);
      if (c === 'grey') {
        const cycle = stack.slice(stack.indexOf(d)).concat(d).map((x) => relative(ROOT, x));
        problems.push(`import cycle: ${cycle.join(' -> ')}`);
      } else if (c === undefined && graph.has(d)) visit(d);
    }
    stack.pop();
    colour.set(f, 'black');
  };
  for (const f of graph.keys()) if (!colour.has(f)) visit(f);
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const graph = new Map<string, string[]>();
  for (const top of SCANNED) {
    for (const f of walk(join(ROOT, top))) {
      if (f.endsWith('.test.ts')) continue;
      graph.set(f, importsOf(f, readFileSync(f, 'utf8')));
    }
  }
  const problems = findViolations(graph);
  if (problems.length) {
    console.error(`check-deps: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`check-deps: ${graph.size} files, no cross-component imports, no cycles`);
}
