// Envoy's header mutation (pure): `*_headers_to_remove`, then `*_headers_to_add` with their append
// actions, applied to a header map in place. Used for route, weighted-cluster and (later) virtual
// host mutations; order between levels is the caller's (Envoy: weighted cluster, route, vhost, route config).
import type { HeaderMutation } from '../config/types.ts';
import type { HeaderMap } from '../http/headers.ts';

/** Applies `m` to `headers` (lower-case names). Returns `headers` for chaining. */
export function applyHeaderMutation(headers: HeaderMap, m: HeaderMutation | undefined): HeaderMap {
  if (!m) return headers;
  for (const name of m.remove) delete headers[name];
  for (const h of m.add) {
    // Envoy adds nothing for an empty value unless keep_empty_value.
    if (h.value === '' && !h.keepEmpty) continue;
    const present = headers[h.name] !== undefined;
    switch (h.action) {
      case 'append': {
        const cur = headers[h.name];
        headers[h.name] = cur === undefined ? h.value : Array.isArray(cur) ? [...cur, h.value] : [cur, h.value];
        break;
      }
      case 'add-if-absent':
        if (!present) headers[h.name] = h.value;
        break;
      case 'overwrite':
        headers[h.name] = h.value;
        break;
      case 'overwrite-if-exists':
        if (present) headers[h.name] = h.value;
        break;
    }
  }
  return headers;
}
