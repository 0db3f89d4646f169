// Our entry in the node's primary CNI conflist: where it goes (last in the chain, after the primary
// plugin and any others), how it is taken out again, and which file is the primary one. Pure
// functions over the JSON text, with path-prefixed errors for a file we cannot understand.

export type ConflistEdit = { ok: true; text: string; changed: boolean } | { ok: false; error: string };

type Json = Record<string, unknown>;

function parse(text: string, file: string): { ok: true; doc: Json; plugins: Json[] } | { ok: false; error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `${file}: not JSON: ${(err as Error).message}` };
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { ok: false, error: `${file}: not a JSON object` };
  const plugins = (doc as Json).plugins;
  if (!Array.isArray(plugins) || !plugins.every((p) => p && typeof p === 'object' && typeof (p as Json).type === 'string')) {
    return { ok: false, error: `${file}: .plugins must be a list of objects with a "type"` };
  }
  return { ok: true, doc: doc as Json, plugins: plugins as Json[] };
}

const render = (doc: Json): string => `${JSON.stringify(doc, null, 2)}\n`;

/** Puts `entry` last in the chain, replacing an older entry of the same type (config changed). */
export function insertPlugin(text: string, entry: Json & { type: string }, file = 'conflist'): ConflistEdit {
  const p = parse(text, file);
  if (!p.ok) return p;
  const others = p.plugins.filter((x) => x.type !== entry.type);
  const plugins = [...others, entry];
  const changed = JSON.stringify(plugins) !== JSON.stringify(p.plugins);
  return { ok: true, text: changed ? render({ ...p.doc, plugins }) : text, changed };
}

export function removePlugin(text: string, type: string, file = 'conflist'): ConflistEdit {
  const p = parse(text, file);
  if (!p.ok) return p;
  const plugins = p.plugins.filter((x) => x.type !== type);
  const changed = plugins.length !== p.plugins.length;
  return { ok: true, text: changed ? render({ ...p.doc, plugins }) : text, changed };
}

export function hasPlugin(text: string, type: string): boolean {
  const p = parse(text, 'conflist');
  return p.ok && p.plugins.at(-1)?.type === type;
}

/** The file a runtime uses: the first `.conflist` (or `.conf`) in lexical order, as libcni picks it. */
export function primaryConfigFile(names: readonly string[]): string | undefined {
  return [...names].filter((n) => n.endsWith('.conflist') || n.endsWith('.conf') || n.endsWith('.json')).sort()[0];
}
