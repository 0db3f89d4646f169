/* Reading kernel state off existing sockets: the pre-NAT destination and the mark. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

/* Values from linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h; those headers clash
 * with the libc socket headers, so the two numbers are spelled out here. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

napi_value addr_object(napi_env env, int family, const void* addr, uint16_t port) {
  char text[INET6_ADDRSTRLEN];
  if (!inet_ntop(family, addr, text, sizeof text)) return throw_errno(env, errno, "inet_ntop", NULL);
  napi_value o, a, p, f;
  CHECK_NAPI(env, napi_create_object(env, &o));
  CHECK_NAPI(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &a));
  CHECK_NAPI(env, napi_create_uint32(env, port, &p));
  CHECK_NAPI(env, napi_create_int32(env, family == AF_INET6 ? 6 : 4, &f));
  CHECK_NAPI(env, napi_set_named_property(env, o, "address", a));
  CHECK_NAPI(env, napi_set_named_property(env, o, "port", p));
  CHECK_NAPI(env, napi_set_named_property(env, o, "family", f));
  return o;
}

/* Same order as ztunnel: the IPv4 conntrack lookup first (it also answers for v4-mapped peers on
 * a dual-stack socket), then the IPv6 one on AF_INET6 sockets. */
static napi_value js_get_original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;

  struct sockaddr_in v4;
  socklen_t len = sizeof v4;
  memset(&v4, 0, sizeof v4);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &v4, &len) == 0 && v4.sin_family == AF_INET)
    return addr_object(env, AF_INET, &v4.sin_addr, ntohs(v4.sin_port));
  int err4 = errno;

  int domain = 0;
  socklen_t dlen = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) != 0)
    return throw_errno(env, errno, "getsockopt(SO_DOMAIN)", NULL);
  if (domain != AF_INET6) return throw_errno(env, err4, "getsockopt(SO_ORIGINAL_DST)", NULL);

  struct sockaddr_in6 v6;
  len = sizeof v6;
  memset(&v6, 0, sizeof v6);
  if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &v6, &len) != 0)
    return throw_errno(env, errno, "getsockopt(IP6T_SO_ORIGINAL_DST)", NULL);
  if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr))
    return addr_object(env, AF_INET, &v6.sin6_addr.s6_addr[12], ntohs(v6.sin6_port));
  return addr_object(env, AF_INET6, &v6.sin6_addr, ntohs(v6.sin6_port));
}

static napi_value js_get_socket_mark(napi_env env, napi_callback_info info) {
  napi_value argv[1], r;
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  uint32_t mark = 0;
  socklen_t len = sizeof mark;
  if (getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) != 0)
    return throw_errno(env, errno, "getsockopt(SO_MARK)", NULL);
  CHECK_NAPI(env, napi_create_uint32(env, mark, &r));
  return r;
}

napi_status register_sockopt(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = export_fn(env, exports, "getOriginalDst", js_get_original_dst)) != napi_ok) return s;
  return export_fn(env, exports, "getSocketMark", js_get_socket_mark);
}
