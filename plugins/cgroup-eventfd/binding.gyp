{
  "targets": [
    {
      "target_name": "eventfd",
      "sources": ["eventfd.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
