/*
 * file-lease: whether any process has a file open for writing, asked of the kernel itself.
 *
 *   writers(fd) -> 0   nobody has the file open for writing
 *                  1   some process has (a writer that has not finished yet)
 *                 <0   -errno: the kernel cannot tell (EACCES: not the file's owner and no
 *                      CAP_LEASE; EINVAL: a filesystem without leases, or leases turned off)
 *
 * fd must be open read-only. The answer comes from a read lease (fcntl F_SETLEASE F_RDLCK), which
 * the kernel refuses with EAGAIN while a writable descriptor of the file exists anywhere; a lease
 * that is granted is dropped again before the call returns.
 *
 * While it is held, a lease registers this process for a signal should another process open the
 * file for writing (SIGIO by default, which would end the process). The descriptor's signal is set
 * to SIGURG first, whose default action is to be ignored and which neither Node nor libuv use, so
 * a writer racing with the probe costs nothing: its open waits the few microseconds until the lease
 * is dropped. If something here handles SIGURG, no lease is taken and the answer is -ENOTSUP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <signal.h>
#include <stddef.h>

static int writers(int fd) {
  struct sigaction sa;
  if (sigaction(SIGURG, NULL, &sa) != 0 || (sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)) return -ENOTSUP;
  if (fcntl(fd, F_SETSIG, SIGURG) != 0) return -errno;
  if (fcntl(fd, F_SETLEASE, F_RDLCK) != 0) return errno == EAGAIN ? 1 : -errno;
  int err = fcntl(fd, F_SETLEASE, F_UNLCK) != 0 ? errno : 0;
  return err == 0 ? 0 : -err;
}

static napi_value js_writers(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "writers(fd): fd must be a file descriptor");
    return NULL;
  }
  napi_create_int32(env, writers(fd), &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "writers", NAPI_AUTO_LENGTH, js_writers, NULL, &fn);
  napi_set_named_property(env, exports, "writers", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
