/* Module entry for the netns addon: per-env state and the export table. */
#include <stdlib.h>

#include "util.h"

static void free_state(napi_env env, void* data, void* hint) {
  addon_state* st = (addon_state*)data;
  if (st->error_ctor) napi_delete_reference(env, st->error_ctor);
  free(st);
}

/* init(NetnsError): native failures are thrown as instances of the TypeScript error class. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  addon_state* st = NULL;
  CHECK_NAPI(env, napi_get_instance_data(env, (void**)&st));
  if (st->error_ctor) napi_delete_reference(env, st->error_ctor);
  st->error_ctor = NULL;
  CHECK_NAPI(env, napi_create_reference(env, argv[0], 1, &st->error_ctor));
  return make_undefined(env);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  addon_state* st = (addon_state*)calloc(1, sizeof *st);
  if (!st || napi_set_instance_data(env, st, free_state, NULL) != napi_ok) {
    free(st);
    napi_throw_error(env, NULL, "netns addon: cannot allocate state");
    return NULL;
  }
  if (export_fn(env, exports, "init", js_init) != napi_ok || register_netns(env, exports) != napi_ok ||
      register_tcp(env, exports) != napi_ok || register_sockopt(env, exports) != napi_ok ||
      register_seqpacket(env, exports) != napi_ok || register_poll(env, exports) != napi_ok ||
      register_udp(env, exports) != napi_ok || register_peercred(env, exports) != napi_ok ||
      register_mem(env, exports) != napi_ok) {
    throw_napi_failure(env, "module init");
    return NULL;
  }
  return exports;
}
