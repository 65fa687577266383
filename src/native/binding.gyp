{
  "targets": [
    {
      "target_name": "emperor-exec",
      "type": "executable",
      "sources": ["emperor-exec.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
