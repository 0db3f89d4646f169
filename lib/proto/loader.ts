// Loads the .proto sources of lib/proto-files.ts into one protobufjs reflection Root, in two steps:
// the core set (Istio's APIs, delta ADS) at first use of any codec, Envoy's listener/route/cluster
// API at first use of an Envoy codec, so ztunnel's start-up does not parse Envoy's tree. Field
// names keep the .proto spelling (keepCase): the codec derives the TypeScript names from them the
// way the generator does, and the JSON renderer needs the originals.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import protobuf from 'protobufjs';
import { CORE_PROTO_FILES, ENVOY_PROTO_FILES, PROTO_DIR, PROTO_FILES, XDS_DEPS_DIR, XDS_DEPS_ROOTS } from './proto-files.ts';

export { PROTO_DIR, PROTO_FILES, CORE_PROTO_FILES, ENVOY_PROTO_FILES };

/** Import roots, in lookup order; google/protobuf/* not bundled by protobufjs (descriptor.proto) comes from its own copy. */
const IMPORT_ROOTS = [PROTO_DIR, ...XDS_DEPS_ROOTS.map((r) => join(XDS_DEPS_DIR, r)), dirname(createRequire(import.meta.url).resolve('protobufjs/package.json'))];

/** Where an import path is found; a path in no root is returned as is, for protobufjs to report. */
export function resolveProtoPath(target: string): string {
  if (isAbsolute(target)) return target;
  for (const dir of IMPORT_ROOTS) {
    const p = join(dir, target);
    if (existsSync(p)) return p;
  }
  return target;
}

let root: protobuf.Root | undefined;
let envoyLoaded = false;

function load(r: protobuf.Root, files: readonly string[]): void {
  r.loadSync(files.map(resolveProtoPath), { keepCase: true });
  r.resolveAll();
}

/** The shared Root with the core set. A broken .proto is a build defect, so this throws rather than returning a result. */
export function protoRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  // Imports name paths relative to an import root, never to the importing file.
  r.resolvePath = (_origin, target) => resolveProtoPath(target);
  load(r, CORE_PROTO_FILES);
  root = r;
  return r;
}

/** The shared Root with Envoy's API added (same Root, so Anys across both sets resolve). */
export function envoyRoot(): protobuf.Root {
  const r = protoRoot();
  if (!envoyLoaded) {
    load(r, ENVOY_PROTO_FILES);
    envoyLoaded = true;
  }
  return r;
}

/** A message type by its full name, e.g. 'istio.workload.Address'; Envoy's types load the Envoy set first. */
export function lookupMessage(fullName: string): protobuf.Type {
  const r = protoRoot();
  const t = r.lookup(fullName, [protobuf.Type]);
  if (t instanceof protobuf.Type) return t;
  return envoyRoot().lookupType(fullName);
}

/** Like lookupMessage, but undefined for a name no loaded or loadable file defines (an Any of a foreign type). */
export function findMessage(fullName: string): protobuf.Type | undefined {
  const t = protoRoot().lookup(fullName, [protobuf.Type]) ?? envoyRoot().lookup(fullName, [protobuf.Type]);
  return t instanceof protobuf.Type ? t : undefined;
}
