/* Entering and leaving a network namespace on the calling thread (the only per-thread state we
 * touch). Used by the runInNetns binding and by socket creation. */
#ifndef NETNS_NETNS_H
#define NETNS_NETNS_H

/* Moves this thread into target_fd's netns. Returns an fd for the netns we came from, or -1 with
 * errno set and *failed naming the syscall. */
int netns_enter(int target_fd, const char** failed);

/* Returns this thread to saved_fd's netns and closes it. Failing here would leave the JS thread in
 * a pod's netns, where every later socket would silently land: the process aborts instead. */
void netns_leave(int saved_fd);

#include <node_api.h>

/* socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC) created inside the netns `netns_v` names (a
 * path or an fd; nullish: the current one). Only socket() runs inside: the socket keeps its netns
 * for life. Returns the fd, or -1 with a JS exception pending. */
int socket_in_netns(napi_env env, napi_value netns_v, int family, int type);

#endif
