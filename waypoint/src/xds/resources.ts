// The waypoint's xDS state: per Envoy type, the resources in force (decoded message, what it
// compiled to, version, when) and the last refusal per name (for /config_dump's error_state), and
// the handlers that write them. A refused resource leaves its last good version in force; a
// removal drops both. Written only by the handlers; read by the assembler and the config dump.
import type { Any } from '../../../lib/proto/index.ts';
import type { XdsHandler, XdsRejection, XdsResponseInfo, XdsUpdate } from '../../../lib/xds/index.ts';
import { compileResource, TYPE_URL_OF, type CompiledByKind, type EnvoyKind } from './compile.ts';

export interface ActiveResource<C> {
  name: string;
  version: string;
  /** The decoded Envoy message (generated-type shape). */
  message: unknown;
  compiled: C;
  lastUpdated: Date;
}

export interface FailedResource {
  name: string;
  version: string;
  /** The decoded message when it decoded at all; else the raw Any. */
  message: unknown;
  any: Any;
  details: string;
  lastUpdateAttempt: Date;
}

export class ResourceTable<K extends EnvoyKind> {
  readonly kind: K;
  readonly typeUrl: string;
  readonly active = new Map<string, ActiveResource<CompiledByKind[K]>>();
  readonly failed = new Map<string, FailedResource>();
  /** system_version_info of the last response applied. */
  versionInfo = '';

  constructor(kind: K) {
    this.kind = kind;
    this.typeUrl = TYPE_URL_OF[kind];
  }

  compiled(): Map<string, CompiledByKind[K]> {
    return new Map([...this.active].map(([n, r]) => [n, r.compiled]));
  }
}

export interface HandlerHooks {
  /** After every applied response (something may have changed). */
  applied(typeUrl: string): void;
  /** A resource was accepted with parts ignored. */
  warn?(typeUrl: string, name: string, warnings: string[]): void;
}

export function envoyHandler<K extends EnvoyKind>(table: ResourceTable<K>, hooks: HandlerHooks, now: () => Date = () => new Date()): XdsHandler {
  return {
    typeUrl: table.typeUrl,
    apply(update: XdsUpdate, info?: XdsResponseInfo) {
      const rejected: XdsRejection[] = [];
      const at = now();
      for (const r of update.resources) {
        const c = compileResource(table.kind, r.name, r.resource);
        if (!c.ok) {
          const details = c.errors.join('; ');
          table.failed.set(r.name, { name: r.name, version: r.version, message: c.message, any: r.resource, details, lastUpdateAttempt: at });
          rejected.push({ name: r.name, reason: details });
          continue;
        }
        if (c.warnings.length) hooks.warn?.(table.typeUrl, r.name, c.warnings);
        table.failed.delete(r.name);
        table.active.set(r.name, { name: r.name, version: r.version, message: c.message, compiled: c.compiled, lastUpdated: at });
      }
      for (const name of update.removed) {
        table.active.delete(name);
        table.failed.delete(name);
      }
      if (info) table.versionInfo = info.systemVersionInfo;
      hooks.applied(table.typeUrl);
      return { rejected };
    },
  };
}

/** One table per Envoy kind. */
export interface ResourceTables {
  readonly listener: ResourceTable<'listener'>;
  readonly cluster: ResourceTable<'cluster'>;
  readonly endpoint: ResourceTable<'endpoint'>;
  readonly route: ResourceTable<'route'>;
}

export function resourceTables(): ResourceTables {
  return { listener: new ResourceTable('listener'), cluster: new ResourceTable('cluster'), endpoint: new ResourceTable('endpoint'), route: new ResourceTable('route') };
}
