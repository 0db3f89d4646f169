// Loads our .proto sources (./protos) into one protobufjs reflection Root, once per process. No
// code generation: the files are parsed at first use, found beside this module through
// import.meta.url so the source tree works as is. Imports inside the files are relative to ./protos;
// google/protobuf/* comes from the definitions protobufjs bundles.
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const PROTO_DIR = fileURLToPath(new URL('./protos/', import.meta.url));

/** Every file we own; their imports are pulled in too, listing them keeps the set explicit. */
export const PROTO_FILES = [
  'istio/workload/workload.proto',
  'istio/security/authorization.proto',
  'istio/workload/zds/zds.proto',
  'istio/v1/auth/ca.proto',
  'envoy/config/core/v3/base.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'google/rpc/status.proto',
] as const;

let root: protobuf.Root | undefined;

/** The shared Root. A broken .proto is a build defect, so this throws rather than returning a result. */
export function protoRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(PROTO_DIR, target));
  r.loadSync(PROTO_FILES.map((f) => join(PROTO_DIR, f)));
  r.resolveAll();
  root = r;
  return r;
}

/** A message type by its full name, e.g. 'istio.workload.Address'. */
export function lookupMessage(fullName: string): protobuf.Type {
  return protoRoot().lookupType(fullName);
}
