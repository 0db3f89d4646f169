/* mallocTrim(): hands the C heap's free memory back to the kernel (glibc malloc_trim). After a burst
 * of connections, TLS and HTTP/2 state freed by the thousand stays in malloc's arenas as resident
 * memory; the idle collector (lib/metrics/idle-gc.ts) calls this after its full collection. */
#include <malloc.h>

#include "util.h"

static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  napi_value r;
  napi_get_boolean(env, malloc_trim(0) == 1, &r);
  return r;
}

napi_status register_mem(napi_env env, napi_value exports) {
  return export_fn(env, exports, "mallocTrim", js_malloc_trim);
}
