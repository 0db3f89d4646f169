/* AF_UNIX SOCK_SEQPACKET syscalls: one datagram per call, fds carried as SCM_RIGHTS. Everything is
 * non-blocking; the caller waits for readiness with a poller (poll.c). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* ZDS messages are under 1 KiB; 64 KiB leaves room without letting a peer make us allocate much. */
#define MAX_MESSAGE 65536
/* ZDS sends exactly one fd; more than this in one message is a protocol error for us. */
#define MAX_FDS 32

static bool unix_addr(napi_env env, napi_value v, struct sockaddr_un* addr, socklen_t* len) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (!arg_string(env, v, "path", addr->sun_path, sizeof addr->sun_path)) return false;
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(addr->sun_path) + 1);
  return true;
}

static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct sockaddr_un addr;
  socklen_t len;
  int32_t backlog;
  if (!get_args(env, info, 2, argv) || !unix_addr(env, argv[0], &addr, &len) ||
      !arg_int32(env, argv[1], "backlog", &backlog))
    return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  const char* failed = NULL;
  if (bind(fd, (struct sockaddr*)&addr, len) != 0) failed = "bind";
  else if (listen(fd, backlog) != 0) failed = "listen";
  if (failed) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, failed, addr.sun_path);
  }
  return make_int32(env, fd);
}

/* A unix connect never goes EINPROGRESS: it either completes or fails (EAGAIN when the
 * listener's backlog is full), so a synchronous answer is honest. */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un addr;
  socklen_t len;
  if (!get_args(env, info, 1, argv) || !unix_addr(env, argv[0], &addr, &len)) return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  int r;
  do r = connect(fd, (struct sockaddr*)&addr, len);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "connect", addr.sun_path);
  }
  return make_int32(env, fd);
}

static napi_value js_pair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    return throw_errno(env, errno, "socketpair", NULL);
  napi_value arr;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &arr));
  CHECK_NAPI(env, napi_set_element(env, arr, 0, make_int32(env, sv[0])));
  CHECK_NAPI(env, napi_set_element(env, arr, 1, make_int32(env, sv[1])));
  return arr;
}

/* accept(listenFd) -> fd, or -1 when no connection is waiting. */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t lfd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &lfd)) return NULL;
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return make_int32(env, fd);
    /* A connection that died in the backlog is not the listener's failure. */
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_int32(env, -1);
    return throw_errno(env, errno, "accept4", NULL);
  }
}

/* send(fd, data, fds) -> true if sent, false if the socket buffer is full (try again when
 * writable). The kernel duplicates the fds during the call; the caller keeps its own. */
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[3], r;
  int32_t fd;
  void* data = NULL;
  size_t len = 0;
  uint32_t nfds = 0;
  if (!get_args(env, info, 3, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  bool is_buffer = false;
  CHECK_NAPI(env, napi_is_buffer(env, argv[1], &is_buffer));
  if (!is_buffer) return throw_type_error(env, "netns addon: data must be a Buffer");
  CHECK_NAPI(env, napi_get_buffer_info(env, argv[1], &data, &len));
  if (len > MAX_MESSAGE) return throw_errno(env, EMSGSIZE, "sendmsg", "message larger than 65536 bytes");
  CHECK_NAPI(env, napi_get_array_length(env, argv[2], &nfds));
  if (nfds > MAX_FDS) return throw_errno(env, EMSGSIZE, "sendmsg", "more than 32 fds in one message");

  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    int* fds = (int*)CMSG_DATA(c);
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value e;
      int32_t v;
      CHECK_NAPI(env, napi_get_element(env, argv[2], i, &e));
      if (!arg_int32(env, e, "fds[i]", &v)) return NULL;
      memcpy(&fds[i], &v, sizeof v);
    }
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      CHECK_NAPI(env, napi_get_boolean(env, false, &r));
      return r;
    }
    return throw_errno(env, errno, "sendmsg", NULL);
  }
  CHECK_NAPI(env, napi_get_boolean(env, true, &r));
  return r;
}

static void close_all(const int* fds, size_t n) {
  for (size_t i = 0; i < n; i++) close(fds[i]);
}

/* A zero-byte read is either EOF or an empty datagram; only the socket's shutdown state and an
 * empty queue tell them apart. */
static bool at_eof(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
  if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLRDHUP | POLLHUP))) return false;
  int queued = 0;
  return ioctl(fd, FIONREAD, &queued) != 0 || queued == 0;
}

/* recv(fd, maxBytes, maxFds) -> { data, fds, eof } or null when nothing is waiting. Received fds
 * are CLOEXEC and belong to the caller; on a message over either limit they are closed here and
 * an error is thrown (the datagram is consumed either way, so the stream of messages stays intact). */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, max_bytes, max_fds;
  if (!get_args(env, info, 3, argv) || !arg_int32(env, argv[0], "fd", &fd) ||
      !arg_int32(env, argv[1], "maxBytes", &max_bytes) || !arg_int32(env, argv[2], "maxFds", &max_fds))
    return NULL;
  if (max_bytes < 0 || max_bytes > MAX_MESSAGE || max_fds < 0 || max_fds > MAX_FDS)
    return throw_type_error(env, "netns addon: recv limits out of range");

  char data[MAX_MESSAGE];
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = (size_t)max_bytes};
  /* CMSG_LEN, not CMSG_SPACE: the kernel derives how many fds fit from msg_controllen, and the
   * alignment padding of CMSG_SPACE would admit an extra fd for odd limits. */
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = max_fds ? control.buf : NULL,
                       .msg_controllen = max_fds ? CMSG_LEN(sizeof(int) * (size_t)max_fds) : 0};
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value nul;
      CHECK_NAPI(env, napi_get_null(env, &nul));
      return nul;
    }
    return throw_errno(env, errno, "recvmsg", NULL);
  }

  int fds[MAX_FDS];
  size_t nfds = 0;
  if (msg.msg_controllen > 0) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int f;
        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (nfds < (size_t)max_fds) {
          fds[nfds++] = f;
        } else {
          close(f);
          msg.msg_flags |= MSG_CTRUNC;
        }
      }
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    close_all(fds, nfds);
    char detail[96];
    snprintf(detail, sizeof detail, "more than %d fds (MSG_CTRUNC); %zu fds closed", max_fds, nfds);
    return throw_errno(env, EMSGSIZE, "recvmsg", detail);
  }
  if (msg.msg_flags & MSG_TRUNC) {
    close_all(fds, nfds);
    char detail[96];
    snprintf(detail, sizeof detail, "message longer than %d bytes (MSG_TRUNC); %zu fds closed", max_bytes, nfds);
    return throw_errno(env, EMSGSIZE, "recvmsg", detail);
  }

  napi_value out, buf, arr, eof;
  if (napi_create_object(env, &out) != napi_ok || napi_create_buffer_copy(env, (size_t)n, data, NULL, &buf) != napi_ok ||
      napi_create_array_with_length(env, nfds, &arr) != napi_ok) {
    close_all(fds, nfds);
    return throw_napi_failure(env, "recv result");
  }
  for (size_t i = 0; i < nfds; i++) napi_set_element(env, arr, (uint32_t)i, make_int32(env, fds[i]));
  CHECK_NAPI(env, napi_get_boolean(env, n == 0 && nfds == 0 && at_eof(fd), &eof));
  CHECK_NAPI(env, napi_set_named_property(env, out, "data", buf));
  CHECK_NAPI(env, napi_set_named_property(env, out, "fds", arr));
  CHECK_NAPI(env, napi_set_named_property(env, out, "eof", eof));
  return out;
}

napi_status register_seqpacket(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = export_fn(env, exports, "seqpacketListen", js_listen)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "seqpacketConnect", js_connect)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "seqpacketPair", js_pair)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "seqpacketAccept", js_accept)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "seqpacketSend", js_send)) != napi_ok) return s;
  return export_fn(env, exports, "seqpacketRecv", js_recv);
}
