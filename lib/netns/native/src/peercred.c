/* Who is on the other end of a unix socket: SO_PEERCRED, as the kernel recorded it at connect()
 * (or socketpair()) time. The ZDS listener checks it before handing a pod netns to a peer. */
#include <errno.h>
#include <sys/socket.h>

#include "util.h"

static napi_value js_get_peer_cred(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return throw_errno(env, errno, "getsockopt(SO_PEERCRED)", NULL);
  if (len != sizeof cred) return throw_errno(env, EINVAL, "getsockopt(SO_PEERCRED)", "short answer");
  napi_value o, pid, uid, gid;
  CHECK_NAPI(env, napi_create_object(env, &o));
  CHECK_NAPI(env, napi_create_int32(env, (int32_t)cred.pid, &pid));
  CHECK_NAPI(env, napi_create_uint32(env, (uint32_t)cred.uid, &uid));
  CHECK_NAPI(env, napi_create_uint32(env, (uint32_t)cred.gid, &gid));
  CHECK_NAPI(env, napi_set_named_property(env, o, "pid", pid));
  CHECK_NAPI(env, napi_set_named_property(env, o, "uid", uid));
  CHECK_NAPI(env, napi_set_named_property(env, o, "gid", gid));
  return o;
}

napi_status register_peercred(napi_env env, napi_value exports) {
  return export_fn(env, exports, "getPeerCred", js_get_peer_cred);
}
