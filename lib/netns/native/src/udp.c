/* UDP sockets created inside a netns (Node's dgram cannot adopt an fd, and creates its socket on a
 * later tick, outside any setns window). Non-blocking; readiness comes from a poller (poll.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"
#include "util.h"

/* The largest UDP payload over IPv6 jumbo-less paths; one buffer of this size never truncates. */
#define MAX_DATAGRAM 65536

static int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

/* Parses a numeric address for a socket of `family` into ss; false (errno EINVAL) if it is not one. */
static bool parse_addr(int family, const char* text, int port, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET6) {
    struct sockaddr_in6* a = (struct sockaddr_in6*)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, text, &a->sin6_addr) != 1) goto invalid;
    *len = sizeof *a;
  } else {
    struct sockaddr_in* a = (struct sockaddr_in*)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, text, &a->sin_addr) != 1) goto invalid;
    *len = sizeof *a;
  }
  return true;
invalid:
  errno = EINVAL;
  return false;
}

/* { address, port, family } of a sockaddr; v4-mapped IPv6 peers are reported as IPv4. */
static napi_value addr_value(napi_env env, const struct sockaddr_storage* ss) {
  int family;
  uint16_t port;
  const void* raw;
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)ss;
    port = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      family = AF_INET;
      raw = &a->sin6_addr.s6_addr[12];
    } else {
      family = AF_INET6;
      raw = &a->sin6_addr;
    }
  } else if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)ss;
    port = ntohs(a->sin_port);
    family = AF_INET;
    raw = &a->sin_addr;
  } else {
    return throw_errno(env, EAFNOSUPPORT, "recvfrom", "peer address family");
  }
  return addr_object(env, family, raw, port);
}

/* createUdpSocket({ netns, family, mark, reusePort, bindAddress, bindPort }) -> fd, bound. The
 * options are normalised by udp.ts; bindAddress is always set (a wildcard to bind port 0). */
static napi_value js_create_udp_socket(napi_env env, napi_callback_info info) {
  napi_value argv[1], netns_v, mark_v;
  int32_t family_n, bind_port;
  bool reuse_port;
  bool has_mark = false;
  uint32_t mark = 0;
  char bind_address[INET6_ADDRSTRLEN + 1];
  if (!get_args(env, info, 1, argv) || !prop_int32(env, argv[0], "family", &family_n) ||
      !prop_bool(env, argv[0], "reusePort", &reuse_port) || !prop_int32(env, argv[0], "bindPort", &bind_port) ||
      !prop_value(env, argv[0], "mark", &mark_v) || !prop_value(env, argv[0], "netns", &netns_v))
    return NULL;
  napi_value addr_v;
  if (!prop_value(env, argv[0], "bindAddress", &addr_v) ||
      !arg_string(env, addr_v, "bindAddress", bind_address, sizeof bind_address))
    return NULL;
  if (!arg_is_nullish(env, mark_v)) {
    if (!arg_uint32(env, mark_v, "mark", &mark)) return NULL;
    has_mark = true;
  }
  if (bind_port < 0 || bind_port > 65535) return throw_type_error(env, "netns addon: bindPort out of range");
  int family = family_n == 6 ? AF_INET6 : AF_INET;
  struct sockaddr_storage ss;
  socklen_t len;
  if (!parse_addr(family, bind_address, bind_port, &ss, &len)) return throw_errno(env, errno, "inet_pton", bind_address);

  int fd = socket_in_netns(env, netns_v, family, SOCK_DGRAM);
  if (fd < 0) return NULL;

  const char* failed = NULL;
  if (has_mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) failed = "setsockopt(SO_MARK)";
  else if (reuse_port && set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0) failed = "setsockopt(SO_REUSEPORT)";
  else if (bind(fd, (struct sockaddr*)&ss, len) != 0) failed = "bind";
  if (failed) {
    int e = errno;
    close(fd);
    char detail[96];
    snprintf(detail, sizeof detail, "%s%s%s:%d", family == AF_INET6 ? "[" : "", bind_address,
             family == AF_INET6 ? "]" : "", bind_port);
    return throw_errno(env, e, failed, detail);
  }
  return make_int32(env, fd);
}

/* udpSend(fd, data, port, address) -> true if sent, false if the socket buffer is full. The
 * address must be of the socket's family (udp.ts maps IPv4 onto IPv6 sockets). */
static napi_value js_udp_send(napi_env env, napi_callback_info info) {
  napi_value argv[4], r;
  int32_t fd, port;
  void* data = NULL;
  size_t len = 0;
  char address[INET6_ADDRSTRLEN + 1];
  if (!get_args(env, info, 4, argv) || !arg_int32(env, argv[0], "fd", &fd) ||
      !arg_int32(env, argv[2], "port", &port) || !arg_string(env, argv[3], "address", address, sizeof address))
    return NULL;
  bool is_buffer = false;
  CHECK_NAPI(env, napi_is_buffer(env, argv[1], &is_buffer));
  if (!is_buffer) return throw_type_error(env, "netns addon: data must be a Buffer");
  CHECK_NAPI(env, napi_get_buffer_info(env, argv[1], &data, &len));
  if (port < 1 || port > 65535) return throw_type_error(env, "netns addon: port out of range");

  int domain = 0;
  socklen_t dlen = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) != 0)
    return throw_errno(env, errno, "getsockopt(SO_DOMAIN)", NULL);
  struct sockaddr_storage ss;
  socklen_t alen;
  if (!parse_addr(domain, address, port, &ss, &alen)) return throw_errno(env, errno, "inet_pton", address);
  ssize_t n;
  do n = sendto(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr*)&ss, alen);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      CHECK_NAPI(env, napi_get_boolean(env, false, &r));
      return r;
    }
    return throw_errno(env, errno, "sendto", address);
  }
  CHECK_NAPI(env, napi_get_boolean(env, true, &r));
  return r;
}

/* udpRecv(fd) -> { data, address, port, family, truncated } or null when nothing is waiting. */
static napi_value js_udp_recv(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  char data[MAX_DATAGRAM];
  struct sockaddr_storage ss;
  socklen_t slen;
  ssize_t n;
  do {
    slen = sizeof ss;
    memset(&ss, 0, sizeof ss);
    n = recvfrom(fd, data, sizeof data, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr*)&ss, &slen);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value nul;
      CHECK_NAPI(env, napi_get_null(env, &nul));
      return nul;
    }
    return throw_errno(env, errno, "recvfrom", NULL);
  }
  /* With MSG_TRUNC the return value is the datagram's real length, which may exceed the buffer. */
  bool truncated = (size_t)n > sizeof data;
  size_t kept = truncated ? sizeof data : (size_t)n;
  napi_value out = addr_value(env, &ss);
  if (!out) return NULL;
  napi_value buf, t;
  CHECK_NAPI(env, napi_create_buffer_copy(env, kept, data, NULL, &buf));
  CHECK_NAPI(env, napi_get_boolean(env, truncated, &t));
  CHECK_NAPI(env, napi_set_named_property(env, out, "data", buf));
  CHECK_NAPI(env, napi_set_named_property(env, out, "truncated", t));
  return out;
}

/* getLocalAddress(fd) -> { address, port, family } (getsockname). */
static napi_value js_get_local_address(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t slen = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (getsockname(fd, (struct sockaddr*)&ss, &slen) != 0) return throw_errno(env, errno, "getsockname", NULL);
  return addr_value(env, &ss);
}

napi_status register_udp(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = export_fn(env, exports, "createUdpSocket", js_create_udp_socket)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "udpSend", js_udp_send)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "udpRecv", js_udp_recv)) != napi_ok) return s;
  return export_fn(env, exports, "getLocalAddress", js_get_local_address);
}
