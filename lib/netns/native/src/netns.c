/* setns(CLONE_NEWNET) windows on the calling thread, and netns fd helpers. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

/* The thread's own netns, opened once per thread: every window starts from it (depth 0), and
 * opening /proc/thread-self/ns/net per window cost about as much as the setns pair itself. A nested
 * window (entered from inside another) saves its real current netns as before. */
static __thread int home_fd = -1;
static __thread int depth = 0;

int netns_enter(int target_fd, const char** failed) {
  int saved;
  if (depth == 0) {
    /* thread-self, not self: setns is per thread and Node may run us on a worker thread. */
    if (home_fd < 0) home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    saved = home_fd;
  } else {
    saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  }
  if (saved < 0) {
    *failed = "open";
    return -1;
  }
  if (setns(target_fd, CLONE_NEWNET) != 0) {
    int e = errno;
    if (saved != home_fd) close(saved);
    errno = e;
    *failed = "setns";
    return -1;
  }
  depth++;
  return saved;
}

void netns_leave(int saved_fd) {
  if (setns(saved_fd, CLONE_NEWNET) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "cannot return to the original network namespace: setns: %s",
             strerror(errno));
    napi_fatal_error("lib/netns", NAPI_AUTO_LENGTH, msg, NAPI_AUTO_LENGTH);
  }
  if (depth > 0) depth--;
  if (saved_fd != home_fd) close(saved_fd);
}

/* enterNetns(target: string | fd) -> saved fd; the caller must pass it to leaveNetns. */
static napi_value js_enter_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int target;
  bool owned;
  if (!arg_netns_fd(env, argv[0], &target, &owned)) return NULL;
  const char* failed = NULL;
  int saved = netns_enter(target, &failed);
  int e = errno;
  if (owned) close(target);
  if (saved < 0) return throw_errno(env, e, failed, NULL);
  return make_int32(env, saved);
}

static napi_value js_leave_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t saved;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "savedFd", &saved)) return NULL;
  netns_leave(saved);
  return make_undefined(env);
}

static napi_value js_open_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[4096];
  if (!get_args(env, info, 1, argv) || !arg_string(env, argv[0], "path", path, sizeof path)) return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open", path);
  /* Refuse anything but a netns now, rather than an EINVAL from setns much later. */
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) {
    int e = type < 0 && errno != ENOTTY ? errno : EINVAL;
    close(fd);
    char detail[4200];
    snprintf(detail, sizeof detail, "%s is not a network namespace", path);
    return throw_errno(env, e, "ioctl(NS_GET_NSTYPE)", detail);
  }
  return make_int32(env, fd);
}

static napi_value js_is_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type < 0 && errno == EBADF) return throw_errno(env, errno, "ioctl", "NS_GET_NSTYPE");
  napi_value r;
  napi_get_boolean(env, type == CLONE_NEWNET, &r);
  return r;
}

static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  /* EINTR still closes the fd on Linux; retrying could close a reused number. */
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, errno, "close", NULL);
  return make_undefined(env);
}

static napi_value js_dup_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !arg_int32(env, argv[0], "fd", &fd)) return NULL;
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) return throw_errno(env, errno, "fcntl", "F_DUPFD_CLOEXEC");
  return make_int32(env, d);
}

napi_status register_netns(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = export_fn(env, exports, "enterNetns", js_enter_netns)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "leaveNetns", js_leave_netns)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "openNetns", js_open_netns)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "isNetns", js_is_netns)) != napi_ok) return s;
  if ((s = export_fn(env, exports, "closeFd", js_close_fd)) != napi_ok) return s;
  return export_fn(env, exports, "dupFd", js_dup_fd);
}

int socket_in_netns(napi_env env, napi_value netns_v, int family, int type) {
  int ns_fd = -1, saved = -1;
  bool ns_owned = false;
  if (!arg_is_nullish(env, netns_v)) {
    if (!arg_netns_fd(env, netns_v, &ns_fd, &ns_owned)) return -1;
    const char* failed = NULL;
    saved = netns_enter(ns_fd, &failed);
    if (saved < 0) {
      int e = errno;
      if (ns_owned) close(ns_fd);
      throw_errno(env, e, failed, NULL);
      return -1;
    }
  }
  int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int socket_errno = errno;
  if (saved >= 0) netns_leave(saved);
  if (ns_owned) close(ns_fd);
  if (fd < 0) {
    throw_errno(env, socket_errno, "socket", NULL);
    return -1;
  }
  return fd;
}
