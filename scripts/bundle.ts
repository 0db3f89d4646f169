// esbuild settings shared by the one-file bundles the project ships (the CNI plugin, ztunnel):
// every TypeScript import and the npm dependencies as one ESM file, deterministic (same sources,
// same bytes).
import { readFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';

/**
 * Keeps each module's `import.meta.url` its own file's URL, relative to the bundle: modules that
 * read files beside them (lib/proto's .proto files, lib/netns's addon) find them in the tree the
 * bundle sits in (this repository, or the image's /app), as they do unbundled.
 */
function sourceFileUrls(outfile: string): Plugin {
  return {
    name: 'source-file-urls',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const rel = relative(dirname(outfile), args.path);
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: 'ts' };
      });
    },
  };
}

export async function bundle(entry: string, outfile: string, opts: { sourceFileUrls?: boolean } = {}): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    legalComments: 'none',
    // V8 keeps a module's source text in the heap for the life of the process (to compile functions
    // lazily): without comments and indentation, and ASCII-only (one byte per character instead of
    // V8's two-byte strings for any text with a non-Latin-1 character), ztunnel's is a quarter of
    // its size. Identifiers stay as written, so stack traces and logs keep their names.
    charset: 'ascii',
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
    plugins: opts.sourceFileUrls ? [sourceFileUrls(outfile)] : [],
    // CommonJS dependencies (pino, grpc-js) call require() for Node's built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  // esbuild escapes what is outside ASCII in strings and identifiers, but not in regular-expression
  // literals: one such character makes V8 hold the whole text two bytes per character.
  const out = await readFile(outfile);
  const at = out.findIndex((b) => b > 0x7f);
  if (at >= 0) throw new Error(`${outfile}: a character outside ASCII at byte ${at} (${JSON.stringify(out.subarray(Math.max(0, at - 40), at + 8).toString('utf8'))}); write it as an escape in the source`);
}
