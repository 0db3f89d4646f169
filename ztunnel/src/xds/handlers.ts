// The two workload xDS handlers of ztunnel: decode each resource, convert it (./convert.ts) and write
// it to the ProxyState, or refuse it with a reason the client puts in the NACK. A refused resource
// leaves whatever was in force for that name untouched. One response is one state batch: listeners
// (re-authorization, DNS) hear about it once, whatever its size.
import type { XdsHandler, XdsRejection, XdsUpdate } from '../../../lib/xds/index.ts';
import { addressCodec, ADDRESS_TYPE_URL, authorizationCodec, AUTHORIZATION_TYPE_URL, unpackAny, type MessageCodec, type Any } from '../../../lib/proto/index.ts';
import { createLogger, type Logger } from '../../../lib/log/logger.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import { policyKey, serviceKey } from '../state/types.ts';
import { convertAddress, convertAuthorization, type ConvertResult } from './convert.ts';

type Decoded<T> = { ok: true; value: T; warnings: string[] } | { ok: false; reason: string };

/** Unpack, then convert; every problem of the resource in one reason. */
function decode<P, T>(codec: MessageCodec<P>, any: Any, convert: (p: P) => ConvertResult<T>): Decoded<T> {
  const unpacked = unpackAny(codec, any);
  if (!unpacked.ok) return { ok: false, reason: unpacked.error.issues.join(', ') };
  const converted = convert(unpacked.value);
  return converted.ok ? converted : { ok: false, reason: converted.errors.join(', ') };
}

/**
 * Which address resource a removed name denotes (fact sheet §4.2): a workload uid if one is held,
 * else `<namespace>/<hostname>` of a service. A "hostname" with a '/' cannot be a service key
 * (it is some other workload uid we do not hold), so nothing is removed.
 */
export function removeAddress(state: ProxyState, name: string): 'workload' | 'service' | 'none' {
  if (state.removeWorkload(name)) return 'workload';
  const i = name.indexOf('/');
  if (i < 0 || name.slice(i + 1).includes('/')) return 'none';
  return state.removeService(name) ? 'service' : 'none';
}

export function addressHandler(state: ProxyState, log: Logger = createLogger({ component: 'ztunnel', level: 'silent' })): XdsHandler {
  return {
    typeUrl: ADDRESS_TYPE_URL,
    apply(update: XdsUpdate) {
      return state.batch(() => applyAddresses(state, update, log));
    },
  };
}

function applyAddresses(state: ProxyState, update: XdsUpdate, log: Logger): { rejected: XdsRejection[] } {
  const rejected: XdsRejection[] = [];
  for (const r of update.resources) {
    const d = decode(addressCodec, r.resource, convertAddress);
    if (!d.ok) {
      rejected.push({ name: r.name, reason: d.reason });
      continue;
    }
    const key = d.value.kind === 'workload' ? d.value.workload.uid : serviceKey(d.value.service);
    if (key !== r.name) {
      rejected.push({ name: r.name, reason: `resource name must be the ${d.value.kind === 'workload' ? 'workload uid' : 'service <namespace>/<hostname>'} ${JSON.stringify(key)}` });
      continue;
    }
    if (d.warnings.length) log.warn({ resource: r.name, warnings: d.warnings }, 'xDS address accepted with parts ignored');
    if (d.value.kind === 'workload') state.upsertWorkload(d.value.workload);
    else state.upsertService(d.value.service);
  }
  for (const name of update.removed) removeAddress(state, name);
  return { rejected };
}

export function authorizationHandler(state: ProxyState, log: Logger = createLogger({ component: 'ztunnel', level: 'silent' })): XdsHandler {
  return {
    typeUrl: AUTHORIZATION_TYPE_URL,
    apply(update: XdsUpdate) {
      return state.batch(() => applyAuthorizations(state, update, log));
    },
  };
}

function applyAuthorizations(state: ProxyState, update: XdsUpdate, log: Logger): { rejected: XdsRejection[] } {
  const rejected: XdsRejection[] = [];
  for (const r of update.resources) {
    const d = decode(authorizationCodec, r.resource, (a) => convertAuthorization(a));
    if (!d.ok) {
      rejected.push({ name: r.name, reason: d.reason });
      continue;
    }
    const key = policyKey(d.value);
    if (key !== r.name) {
      rejected.push({ name: r.name, reason: `resource name must be <namespace>/<name> ${JSON.stringify(key)}` });
      continue;
    }
    if (d.warnings.length) log.warn({ resource: r.name, warnings: d.warnings }, 'xDS authorization accepted with parts ignored');
    state.upsertPolicy(d.value);
  }
  for (const name of update.removed) state.removePolicy(name);
  return { rejected };
}
