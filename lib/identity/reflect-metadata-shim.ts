// @peculiar/x509 resolves its algorithm providers through tsyringe, which refuses to load unless
// the Reflect metadata API exists (normally the `reflect-metadata` package, not a dependency here).
// This installs the small part of that API tsyringe and tslib's __metadata call, and nothing when
// a real polyfill is already present. Imported for its side effect, before @peculiar/x509.

type Key = string | symbol | undefined;
const store = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();

function table(target: object, prop: Key, create: boolean): Map<unknown, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp) {
    if (!create) return undefined;
    byProp = new Map();
    store.set(target, byProp);
  }
  let t = byProp.get(prop);
  if (!t && create) {
    t = new Map();
    byProp.set(prop, t);
  }
  return t;
}

function getOwnMetadata(key: unknown, target: object, prop?: Key): unknown {
  return table(target, prop, false)?.get(key);
}

function hasOwnMetadata(key: unknown, target: object, prop?: Key): boolean {
  return table(target, prop, false)?.has(key) ?? false;
}

// Walks the prototype chain (for classes: the parent constructor), as reflect-metadata does.
function getMetadata(key: unknown, target: object, prop?: Key): unknown {
  for (let o: object | null = target; o; o = Object.getPrototypeOf(o) as object | null) {
    if (hasOwnMetadata(key, o, prop)) return getOwnMetadata(key, o, prop);
  }
  return undefined;
}

function hasMetadata(key: unknown, target: object, prop?: Key): boolean {
  for (let o: object | null = target; o; o = Object.getPrototypeOf(o) as object | null) {
    if (hasOwnMetadata(key, o, prop)) return true;
  }
  return false;
}

function defineMetadata(key: unknown, value: unknown, target: object, prop?: Key): void {
  table(target, prop, true)!.set(key, value);
}

function metadata(key: unknown, value: unknown): (target: object, prop?: Key) => void {
  return (target, prop) => defineMetadata(key, value, target, prop);
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  Object.assign(R, { getOwnMetadata, hasOwnMetadata, getMetadata, hasMetadata, defineMetadata, metadata });
}
