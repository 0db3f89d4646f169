# Native half of lib/netns: thin Linux syscall wrappers (setns, sockets, SCM_RIGHTS, uv_poll, and
# malloc_trim for the idle collector) in plain C against node_api.h. Policy and state machines live
# in the TypeScript beside it.
{
  "targets": [
    {
      "target_name": "netns",
      "sources": [
        "src/addon.c",
        "src/util.c",
        "src/netns.c",
        "src/tcp.c",
        "src/sockopt.c",
        "src/seqpacket.c",
        "src/poll.c",
        "src/udp.c",
        "src/peercred.c",
        "src/mem.c"
      ],
      "defines": ["NAPI_VERSION=9", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
