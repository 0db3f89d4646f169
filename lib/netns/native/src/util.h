/* Shared helpers for the netns addon: argument reading, errno-to-NetnsError, export table. */
#ifndef NETNS_UTIL_H
#define NETNS_UTIL_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-env state: errors are built with the TypeScript NetnsError class so every native failure
 * reaches JS already typed, without a try/catch wrapper around each call. */
typedef struct {
  napi_ref error_ctor;
} addon_state;

/* On any N-API failure we return NULL to JS with whatever exception is pending. */
#define CHECK_NAPI(env, call)                                                                      \
  do {                                                                                             \
    if ((call) != napi_ok) return throw_napi_failure(env, #call);                                  \
  } while (0)

napi_value throw_napi_failure(napi_env env, const char* what);

/* Throws NetnsError(errno, syscall, detail); always returns NULL for `return throw_errno(...)`. */
napi_value throw_errno(napi_env env, int err, const char* syscall, const char* detail);
napi_value throw_type_error(napi_env env, const char* msg);

/* Argument readers: each throws a TypeError and returns false on a wrong type. */
bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv);
bool arg_int32(napi_env env, napi_value v, const char* name, int32_t* out);
bool arg_uint32(napi_env env, napi_value v, const char* name, uint32_t* out);
bool arg_bool(napi_env env, napi_value v, const char* name, bool* out);
/* Copies a string into buf (NUL-terminated); ENAMETOOLONG-style TypeError if it does not fit. */
bool arg_string(napi_env env, napi_value v, const char* name, char* buf, size_t bufsize);
bool arg_is_nullish(napi_env env, napi_value v);

/* Object property readers used for option bags that TypeScript has already validated. */
bool prop_int32(napi_env env, napi_value obj, const char* key, int32_t* out);
bool prop_bool(napi_env env, napi_value obj, const char* key, bool* out);
bool prop_value(napi_env env, napi_value obj, const char* key, napi_value* out);

napi_value make_int32(napi_env env, int32_t v);
napi_value make_undefined(napi_env env);

/* { address, port, family: 4|6 } for a raw address of `family` (AF_INET/AF_INET6), or a thrown error. */
napi_value addr_object(napi_env env, int family, const void* addr, uint16_t port);

/* A netns given as a path (opened here, closed by the caller when *owned) or as an open fd. */
bool arg_netns_fd(napi_env env, napi_value v, int* fd, bool* owned);

/* Registration hooks, one per source file. */
napi_status register_netns(napi_env env, napi_value exports);
napi_status register_tcp(napi_env env, napi_value exports);
napi_status register_sockopt(napi_env env, napi_value exports);
napi_status register_seqpacket(napi_env env, napi_value exports);
napi_status register_poll(napi_env env, napi_value exports);
napi_status register_udp(napi_env env, napi_value exports);
napi_status register_peercred(napi_env env, napi_value exports);
napi_status register_mem(napi_env env, napi_value exports);

napi_status export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb);

#endif
