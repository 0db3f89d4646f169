/* TCP sockets created natively so that the netns, mark and transparency are fixed before Node
 * sees the fd: Node's own connect() happens on a later tick, outside any setns window. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"
#include "util.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

typedef struct {
  int family;
  bool has_mark;
  uint32_t mark;
  bool reuse_addr, reuse_port, transparent, freebind;
  int v6only; /* -1: kernel default */
  bool has_bind;
  char bind_address[INET6_ADDRSTRLEN + 1];
  int32_t bind_port;
  bool has_backlog;
  int32_t backlog;
} tcp_opts;

static bool read_opts(napi_env env, napi_value o, tcp_opts* t) {
  napi_value v;
  int32_t family;
  memset(t, 0, sizeof *t);
  if (!prop_int32(env, o, "family", &family)) return false;
  t->family = family == 6 ? AF_INET6 : AF_INET;
  if (!prop_value(env, o, "mark", &v)) return false;
  if (!arg_is_nullish(env, v)) {
    if (!arg_uint32(env, v, "mark", &t->mark)) return false;
    t->has_mark = true;
  }
  if (!prop_bool(env, o, "reuseAddr", &t->reuse_addr) || !prop_bool(env, o, "reusePort", &t->reuse_port) ||
      !prop_bool(env, o, "transparent", &t->transparent) || !prop_bool(env, o, "freebind", &t->freebind))
    return false;
  t->v6only = -1;
  if (!prop_value(env, o, "v6Only", &v)) return false;
  if (!arg_is_nullish(env, v)) {
    bool b;
    if (!arg_bool(env, v, "v6Only", &b)) return false;
    t->v6only = b;
  }
  if (!prop_value(env, o, "bindAddress", &v)) return false;
  if (!arg_is_nullish(env, v)) {
    if (!arg_string(env, v, "bindAddress", t->bind_address, sizeof t->bind_address)) return false;
    if (!prop_int32(env, o, "bindPort", &t->bind_port)) return false;
    t->has_bind = true;
  }
  if (!prop_value(env, o, "backlog", &v)) return false;
  if (!arg_is_nullish(env, v)) {
    if (!arg_int32(env, v, "backlog", &t->backlog)) return false;
    t->has_backlog = true;
  }
  return true;
}

static int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

/* Applies options in the order the kernel needs them: the mark and reuse flags must precede
 * bind/connect, transparent/freebind must precede a bind to a foreign address. */
static const char* configure(int fd, const tcp_opts* t) {
  bool v6 = t->family == AF_INET6;
  if (t->has_mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &t->mark, sizeof t->mark) != 0)
    return "setsockopt(SO_MARK)";
  if (t->reuse_addr && set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0) return "setsockopt(SO_REUSEADDR)";
  if (t->reuse_port && set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0) return "setsockopt(SO_REUSEPORT)";
  if (t->transparent) {
    if (v6 ? set_int(fd, SOL_IPV6, IPV6_TRANSPARENT, 1) : set_int(fd, SOL_IP, IP_TRANSPARENT, 1))
      return v6 ? "setsockopt(IPV6_TRANSPARENT)" : "setsockopt(IP_TRANSPARENT)";
  }
  if (t->freebind) {
    if (v6 ? set_int(fd, SOL_IPV6, IPV6_FREEBIND, 1) : set_int(fd, SOL_IP, IP_FREEBIND, 1))
      return v6 ? "setsockopt(IPV6_FREEBIND)" : "setsockopt(IP_FREEBIND)";
  }
  if (v6 && t->v6only >= 0 && set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, t->v6only) != 0)
    return "setsockopt(IPV6_V6ONLY)";
  if (t->has_bind) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (v6) {
      struct sockaddr_in6* a = (struct sockaddr_in6*)&ss;
      a->sin6_family = AF_INET6;
      a->sin6_port = htons((uint16_t)t->bind_port);
      if (inet_pton(AF_INET6, t->bind_address, &a->sin6_addr) != 1) {
        errno = EINVAL;
        return "inet_pton";
      }
      len = sizeof *a;
    } else {
      struct sockaddr_in* a = (struct sockaddr_in*)&ss;
      a->sin_family = AF_INET;
      a->sin_port = htons((uint16_t)t->bind_port);
      if (inet_pton(AF_INET, t->bind_address, &a->sin_addr) != 1) {
        errno = EINVAL;
        return "inet_pton";
      }
      len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr*)&ss, len) != 0) return "bind";
  }
  if (t->has_backlog && listen(fd, t->backlog) != 0) return "listen";
  return NULL;
}

/* createTcpSocket(opts) -> fd. opts is normalised by socket.ts; see tcp_opts for the fields. */
static napi_value js_create_tcp_socket(napi_env env, napi_callback_info info) {
  napi_value argv[1], netns_v;
  tcp_opts t;
  if (!get_args(env, info, 1, argv) || !read_opts(env, argv[0], &t)) return NULL;
  if (!prop_value(env, argv[0], "netns", &netns_v)) return NULL;

  int fd = socket_in_netns(env, netns_v, t.family, SOCK_STREAM);
  if (fd < 0) return NULL;

  const char* failed = configure(fd, &t);
  if (failed) {
    int e = errno;
    close(fd);
    char detail[96];
    if (t.has_bind) snprintf(detail, sizeof detail, "%s%s%s:%d", t.family == AF_INET6 ? "[" : "",
                             t.bind_address, t.family == AF_INET6 ? "]" : "", t.bind_port);
    return throw_errno(env, e, failed, t.has_bind ? detail : NULL);
  }
  return make_int32(env, fd);
}

napi_status register_tcp(napi_env env, napi_value exports) {
  return export_fn(env, exports, "createTcpSocket", js_create_tcp_socket);
}
