// Generates lib/proto/gen: TypeScript types (ts-proto, options in lib/proto/buf.gen.yaml) for every
// .proto in lib/proto/proto-files.ts and what they import, compiled by buf from npm packages only.
// `make gen` runs it; `node scripts/gen-proto.ts --check` fails when the checked-in tree is stale.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PROTO_DIR, PROTO_FILES, XDS_DEPS_DIR } from '../lib/proto/proto-files.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const GEN_DIR = join(ROOT, 'lib/proto/gen');
const BIN = join(ROOT, 'node_modules/.bin');

/**
 * The validate.proto @grpc/grpc-js-xds ships predates StringRules.ignore_empty, which the Envoy
 * protos it ships use; buf (unlike protobufjs) checks option fields, so the staged copy gets the
 * field (number 26 upstream). validate's own types are not emitted, only used to compile options.
 */
function stageValidate(dir: string): void {
  const src = readFileSync(join(XDS_DEPS_DIR, 'protoc-gen-validate/validate/validate.proto'), 'utf8');
  const at = src.indexOf('message StringRules {');
  if (at < 0) throw new Error('gen-proto: validate.proto has no StringRules');
  const patched = src.includes('ignore_empty')
    ? src
    : src.slice(0, at) + src.slice(at).replace('message StringRules {', 'message StringRules {\n  optional bool ignore_empty = 26;\n');
  mkdirSync(join(dir, 'validate'), { recursive: true });
  writeFileSync(join(dir, 'validate/validate.proto'), patched);
}

/** Generates into `outDir` (emptied first). */
export function generate(outDir: string): void {
  const work = mkdtempSync(join(tmpdir(), 'gen-proto-'));
  try {
    // A buf workspace whose modules are the import roots; symlinks keep the sources where they are.
    const modules = { ours: PROTO_DIR, 'envoy-api': join(XDS_DEPS_DIR, 'envoy-api'), xds: join(XDS_DEPS_DIR, 'xds'), googleapis: join(XDS_DEPS_DIR, 'googleapis') };
    for (const [name, target] of Object.entries(modules)) symlinkSync(target, join(work, name));
    stageValidate(join(work, 'validate-staged'));
    const bufYaml = { version: 'v2', modules: [...Object.keys(modules), 'validate-staged'].map((path) => ({ path })) };
    writeFileSync(join(work, 'buf.yaml'), JSON.stringify(bufYaml));

    const template = parse(readFileSync(join(ROOT, 'lib/proto/buf.gen.yaml'), 'utf8')) as { plugins: { local: string; out: string }[] };
    const raw = join(work, 'out');
    for (const p of template.plugins) {
      p.local = join(BIN, p.local);
      p.out = raw;
    }
    writeFileSync(join(work, 'buf.gen.json'), JSON.stringify(template));

    const paths = PROTO_FILES.map((f) => {
      const m = Object.keys(modules).find((name) => existsSync(join(work, name, f)));
      if (!m) throw new Error(`gen-proto: ${f} is in no import root`);
      return ['--path', join(m, f)];
    }).flat();
    execFileSync(join(BIN, 'buf'), ['generate', '--template', 'buf.gen.json', ...paths], { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] });

    // ts-proto emits every imported file; keep only those the roots' types reach (annotation-only
    // imports such as validate, udpa and descriptor.proto carry no types we use).
    const keep = reachable(raw, PROTO_FILES.map((f) => f.replace(/\.proto$/, '.ts')));
    rmSync(outDir, { recursive: true, force: true });
    for (const f of keep) {
      mkdirSync(dirname(join(outDir, f)), { recursive: true });
      cpSync(join(raw, f), join(outDir, f));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function reachable(dir: string, roots: string[]): string[] {
  const seen = new Set<string>();
  const todo = [...roots];
  for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
    if (seen.has(f)) continue;
    seen.add(f);
    const text = readFileSync(join(dir, f), 'utf8');
    for (const m of text.matchAll(/from "(\.[^"]+)"/g)) todo.push(relative(dir, resolve(dirname(join(dir, f)), m[1] ?? '')));
  }
  return [...seen].sort();
}

function listFiles(dir: string, base = dir, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) listFiles(p, base, out);
    else out.push(relative(base, p));
  }
  return out.sort();
}

/** Paths (relative to the gen dir) that differ between a fresh generation and `genDir`. */
export function staleFiles(genDir = GEN_DIR): string[] {
  const fresh = mkdtempSync(join(tmpdir(), 'gen-proto-check-'));
  try {
    generate(fresh);
    const a = listFiles(fresh);
    const b = listFiles(genDir);
    const all = [...new Set([...a, ...b])].sort();
    return all.filter((f) => !existsSync(join(fresh, f)) || !existsSync(join(genDir, f)) || readFileSync(join(fresh, f), 'utf8') !== readFileSync(join(genDir, f), 'utf8'));
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length > 0) {
      console.error(`lib/proto/gen is stale (run make gen): ${stale.slice(0, 20).join(', ')}${stale.length > 20 ? ', …' : ''}`);
      process.exit(1);
    }
  } else {
    generate(GEN_DIR);
    console.log(`lib/proto/gen: ${listFiles(GEN_DIR).length} files`);
  }
}
