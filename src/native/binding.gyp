{
  "targets": [
    {
      "target_name": "emperor-exec",
      "type": "executable",
      "sources": ["emperor-exec.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "spawn",
      "sources": ["spawn.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "file-lease",
      "sources": ["file-lease.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "listen-socket",
      "sources": ["listen-socket.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
