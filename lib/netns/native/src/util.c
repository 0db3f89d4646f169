/* Shared helpers for the netns addon: argument reading, errno-to-NetnsError, export table. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

napi_value throw_napi_failure(napi_env env, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info* info = NULL;
    napi_get_last_error_info(env, &info);
    char msg[256];
    snprintf(msg, sizeof msg, "netns addon: %s failed: %s", what,
             info && info->error_message ? info->error_message : "unknown N-API error");
    napi_throw_error(env, NULL, msg);
  }
  return NULL;
}

napi_value throw_errno(napi_env env, int err, const char* syscall, const char* detail) {
  addon_state* st = NULL;
  napi_value ctor = NULL;
  if (napi_get_instance_data(env, (void**)&st) == napi_ok && st && st->error_ctor &&
      napi_get_reference_value(env, st->error_ctor, &ctor) == napi_ok && ctor) {
    napi_value argv[3];
    napi_value instance;
    napi_create_int32(env, err, &argv[0]);
    napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &argv[1]);
    if (detail) napi_create_string_utf8(env, detail, NAPI_AUTO_LENGTH, &argv[2]);
    else napi_get_undefined(env, &argv[2]);
    if (napi_new_instance(env, ctor, 3, argv, &instance) == napi_ok) {
      napi_throw(env, instance);
      return NULL;
    }
  }
  /* Loader not initialised (or the constructor threw): still report the errno. */
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s%s%s", syscall, strerror(err), detail ? " " : "", detail ? detail : "");
  napi_throw_error(env, NULL, msg);
  return NULL;
}

napi_value throw_type_error(napi_env env, const char* msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_napi_failure(env, "napi_get_cb_info");
    return false;
  }
  if (argc < want) {
    throw_type_error(env, "netns addon: too few arguments");
    return false;
  }
  return true;
}

static bool expect_type(napi_env env, napi_value v, napi_valuetype want, const char* name) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != want) {
    char msg[160];
    snprintf(msg, sizeof msg, "netns addon: %s has the wrong type", name);
    throw_type_error(env, msg);
    return false;
  }
  return true;
}

bool arg_int32(napi_env env, napi_value v, const char* name, int32_t* out) {
  return expect_type(env, v, napi_number, name) && napi_get_value_int32(env, v, out) == napi_ok;
}

bool arg_uint32(napi_env env, napi_value v, const char* name, uint32_t* out) {
  return expect_type(env, v, napi_number, name) && napi_get_value_uint32(env, v, out) == napi_ok;
}

bool arg_bool(napi_env env, napi_value v, const char* name, bool* out) {
  return expect_type(env, v, napi_boolean, name) && napi_get_value_bool(env, v, out) == napi_ok;
}

bool arg_string(napi_env env, napi_value v, const char* name, char* buf, size_t bufsize) {
  if (!expect_type(env, v, napi_string, name)) return false;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  if (len + 1 > bufsize) {
    throw_errno(env, ENAMETOOLONG, name, NULL);
    return false;
  }
  return napi_get_value_string_utf8(env, v, buf, bufsize, &len) == napi_ok;
}

bool arg_is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  return t == napi_undefined || t == napi_null;
}

bool prop_value(napi_env env, napi_value obj, const char* key, napi_value* out) {
  if (napi_get_named_property(env, obj, key, out) != napi_ok) {
    throw_napi_failure(env, key);
    return false;
  }
  return true;
}

bool prop_int32(napi_env env, napi_value obj, const char* key, int32_t* out) {
  napi_value v;
  return prop_value(env, obj, key, &v) && arg_int32(env, v, key, out);
}

bool prop_bool(napi_env env, napi_value obj, const char* key, bool* out) {
  napi_value v;
  return prop_value(env, obj, key, &v) && arg_bool(env, v, key, out);
}

napi_value make_int32(napi_env env, int32_t v) {
  napi_value r = NULL;
  napi_create_int32(env, v, &r);
  return r;
}

napi_value make_undefined(napi_env env) {
  napi_value r = NULL;
  napi_get_undefined(env, &r);
  return r;
}

bool arg_netns_fd(napi_env env, napi_value v, int* fd, bool* owned) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_number) {
    int32_t n;
    if (napi_get_value_int32(env, v, &n) != napi_ok) return false;
    *fd = n;
    *owned = false;
    return true;
  }
  char path[4096];
  if (!arg_string(env, v, "netns", path, sizeof path)) return false;
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) {
    throw_errno(env, errno, "open", path);
    return false;
  }
  *fd = f;
  *owned = true;
  return true;
}

napi_status export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, exports, name, fn);
}
