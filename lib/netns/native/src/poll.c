/* Readiness notifications for raw fds on Node's own event loop (uv_poll), so seqpacket sockets
 * wait in epoll like every other Node handle: no threads, no busy polling. */
#include <errno.h>
#include <stdlib.h>
#include <uv.h>

#include "util.h"

enum { EV_READABLE = 1, EV_WRITABLE = 2 };

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup_hook;
  bool closing;
  /* Two owners: the JS external and the uv handle; memory goes when both are done. */
  int owners;
} poller;

static void release(poller* p) {
  if (--p->owners == 0) free(p);
}

static void on_closed(uv_handle_t* h) {
  poller* p = (poller*)h->data;
  napi_delete_reference(p->env, p->callback);
  napi_async_destroy(p->env, p->async_context);
  napi_remove_async_cleanup_hook(p->cleanup_hook);
  release(p);
}

static void start_close(poller* p) {
  if (p->closing) return;
  p->closing = true;
  uv_close((uv_handle_t*)&p->handle, on_closed);
}

/* The env is going away (worker exit, process teardown) with the poller still open. */
static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void* arg) {
  start_close((poller*)arg);
}

static void on_finalize(napi_env env, void* data, void* hint) {
  release((poller*)data);
}

static void on_poll(uv_poll_t* h, int status, int events) {
  poller* p = (poller*)h->data;
  if (p->closing) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, global, argv[2], result;
  int ev = (events & UV_READABLE ? EV_READABLE : 0) | (events & UV_WRITABLE ? EV_WRITABLE : 0);
  /* make_callback needs an object receiver, and (unlike call_function) drains nextTicks and
   * microtasks afterwards, as every other Node callback does. */
  if (napi_get_reference_value(env, p->callback, &cb) == napi_ok && napi_get_global(env, &global) == napi_ok &&
      napi_create_int32(env, status, &argv[0]) == napi_ok && napi_create_int32(env, ev, &argv[1]) == napi_ok)
    napi_make_callback(env, p->async_context, global, cb, 2, argv, &result);
  /* A throwing 'message' listener is an uncaught exception, as for any Node event; leaving it
   * pending would resurface it from some unrelated later N-API call. */
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static poller* unwrap(napi_env env, napi_value v) {
  void* data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    throw_type_error(env, "netns addon: not a poller");
    return NULL;
  }
  poller* p = (poller*)data;
  if (p->closing) {
    throw_type_error(env, "netns addon: poller is closed");
    return NULL;
  }
  return p;
}

/* pollCreate(fd, callback(status, events)) -> poller; not watching anything until pollSet. */
static napi_value js_poll_create(napi_env env, napi_callback_info info) {
  napi_value argv[2], name, ext;
  int32_t fd;
  if (!get_args(env, info, 2, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  napi_valuetype t;
  CHECK_NAPI(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function) return throw_type_error(env, "netns addon: callback must be a function");

  uv_loop_t* loop = NULL;
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
  poller* p = (poller*)calloc(1, sizeof *p);
  if (!p) return throw_errno(env, ENOMEM, "calloc", NULL);
  int r = uv_poll_init_socket(loop, &p->handle, fd);
  if (r != 0) {
    free(p);
    return throw_errno(env, -r, "uv_poll_init", NULL);
  }
  p->handle.data = p;
  p->env = env;
  p->owners = 2;
  CHECK_NAPI(env, napi_create_string_utf8(env, "netns.Poll", NAPI_AUTO_LENGTH, &name));
  if (napi_create_reference(env, argv[1], 1, &p->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &p->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, p, &p->cleanup_hook) != napi_ok ||
      napi_create_external(env, p, on_finalize, NULL, &ext) != napi_ok) {
    /* Only reachable on allocation failure inside V8; leak rather than free a live uv handle. */
    return throw_napi_failure(env, "pollCreate");
  }
  return ext;
}

/* pollSet(poller, events): 0 stops watching; 1 readable, 2 writable, 3 both. */
static napi_value js_poll_set(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t events;
  if (!get_args(env, info, 2, argv) || !arg_int32(env, argv[1], "events", &events)) return NULL;
  poller* p = unwrap(env, argv[0]);
  if (!p) return NULL;
  int uv_events = (events & EV_READABLE ? UV_READABLE : 0) | (events & EV_WRITABLE ? UV_WRITABLE : 0);
  int r = uv_events ? uv_poll_start(&p->handle, uv_events, on_poll) : uv_poll_stop(&p->handle);
  if (r != 0) return throw_errno(env, -r, "uv_poll_start", NULL);
  return make_undefined(env);
}

static napi_value js_poll_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool ref;
  if (!get_args(env, info, 2, argv) || !arg_bool(env, argv[1], "ref", &ref)) return NULL;
  poller* p = unwrap(env, argv[0]);
  if (!p) return NULL;
  if (ref) uv_ref((uv_handle_t*)&p->handle);
  else uv_unref((uv_handle_t*)&p->handle);
  return make_undefined(env);
}

/* pollClose(poller): stops watching at once (the fd may be closed right after); idempotent. */
static napi_value js_poll_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void* data = NULL;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || !data)
    return throw_type_error(env, "netns addon: not a poller");
  start_close((poller*)data);
  return make_undefined(env);
}

napi_status register_poll(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = export_fn(env, exports, "pollCreate", js_poll_create)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "pollSet", js_poll_set)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "pollRef", js_poll_ref)) != napi_ok) return s;
  return export_fn(env, exports, "pollClose", js_poll_close);
}
