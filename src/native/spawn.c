/*
 * spawn: starts worker processes with posix_spawn and watches their end through SIGCHLD.
 *
 * Node's child_process forks: the kernel copies the emperor's page tables for every spawn, so a
 * spawn costs more the larger the emperor grows (about 2 ms at 50 MB, 3.5 ms at 300 MB here),
 * and a fleet of thousands is started one copy at a time on the event loop. glibc's posix_spawn
 * uses clone(CLONE_VM | CLONE_VFORK): nothing is copied, and the cost no longer depends on the
 * emperor's size. The end of each worker is seen on Node's loop through SIGCHLD and reaped by
 * its pid, so only our own children are ever reaped.
 *
 *   spawn(file, argv, env, cwd, fds, onExit) -> pid
 *       file: a path (or a name looked up in the emperor's PATH); argv, env: arrays of strings
 *       ("KEY=value"); cwd: a directory or null; fds: the child's descriptors 0..n-1, each a
 *       descriptor of ours to dup2 there or -1 for /dev/null; every other descriptor is closed
 *       in the child. The child runs in a session and process group of its own, with every
 *       signal at its default and none blocked. onExit(code, signal) runs once, when it ends:
 *       code is null when a signal (a number) killed it.
 *   pipe() -> [readFd, writeFd]          close-on-exec
 *   socketpair() -> [fd, fd]             AF_UNIX stream, close-on-exec
 *   closeFd(fd)
 *
 * A spawn that cannot run (no such file, no permission) throws an Error with code and syscall,
 * as Node's own system errors do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#define MAX_FDS 1024

static napi_value throw_system(napi_env env, int err, const char *syscall, const char *path) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s %s%s%s", syscall, uv_err_name(-err), path ? " " : "", path ? path : "");
  napi_value code, message, error, v;
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, error, "path", v);
  }
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* A JS string as a malloc'ed C string; NULL (and a pending TypeError) when it is not a string or
 * holds a NUL. */
static char *dup_string(napi_env env, napi_value v, const char *what) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    throw_type(env, what);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    throw_type(env, what);
    return NULL;
  }
  return s;
}

static void free_strings(char **list) {
  if (list == NULL) return;
  for (char **p = list; *p; p++) free(*p);
  free(list);
}

/* A JS array of strings as a NULL-terminated array. */
static char **dup_strings(napi_env env, napi_value arr, const char *what) {
  bool is_array;
  uint32_t n;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, &n) != napi_ok) {
    throw_type(env, what);
    return NULL;
  }
  char **list = calloc(n + 1, sizeof *list);
  if (list == NULL) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, arr, i, &v);
    list[i] = dup_string(env, v, what);
    if (list[i] == NULL) {
      free_strings(list);
      return NULL;
    }
  }
  return list;
}

static bool get_fd(napi_env env, napi_value v, int min, int *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int)d || d < min || d > (1 << 30)) return false;
  *out = (int)d;
  return true;
}

/* ---- the end of a child ----
 *
 * One SIGCHLD handle for all children, not a pidfd each: a pidfd is a descriptor, and with a pipe
 * per worker as well a fleet of 10,000 would need 20,000 of them. On SIGCHLD the exited children
 * are found with waitid(P_ALL, WNOWAIT), which only looks, and each of ours is then reaped by its
 * pid: children that Node's child_process started stay for libuv to reap. */

typedef struct child {
  struct child *prev, *next;
  pid_t pid;
  napi_ref on_exit;
  napi_async_context async_context;
} child_t;

typedef struct {
  napi_env env;
  uv_signal_t sigchld;
  child_t *children;
  bool started;
  bool closing;
} reaper_t;

static reaper_t *reaper;

static void unlink_child(child_t *c) {
  if (c->prev) c->prev->next = c->next;
  else reaper->children = c->next;
  if (c->next) c->next->prev = c->prev;
  /* Nothing left to wait for: the handle must not keep the emperor alive on its own. */
  if (reaper->children == NULL) uv_unref((uv_handle_t *)&reaper->sigchld);
}

static void report(child_t *c, const siginfo_t *info) {
  napi_env env = reaper->env;
  unlink_child(c);
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[2], fn, recv, exc;
  napi_get_null(env, &argv[0]);
  napi_get_null(env, &argv[1]);
  if (info->si_code == CLD_EXITED) {
    napi_create_int32(env, info->si_status, &argv[0]);
  } else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED) {
    napi_create_int32(env, info->si_status, &argv[1]);
  }
  napi_get_reference_value(env, c->on_exit, &fn);
  napi_get_global(env, &recv);
  napi_status st = napi_make_callback(env, c->async_context, recv, fn, 2, argv, NULL);
  napi_delete_reference(env, c->on_exit);
  napi_async_destroy(env, c->async_context);
  free(c);
  if (st == napi_pending_exception) {
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static child_t *find_child(pid_t pid) {
  for (child_t *c = reaper->children; c; c = c->next) {
    if (c->pid == pid) return c;
  }
  return NULL;
}

/* Reaps child c if it has exited; true when it was reported. */
static bool reap(child_t *c) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG) != 0) {
    if (errno != ECHILD) return false;
    info.si_code = 0; /* reaped by someone else: its status is unknown */
  } else if (info.si_pid == 0) {
    return false;
  }
  report(c, &info);
  return true;
}

static void on_sigchld(uv_signal_t *handle, int signum) {
  (void)handle;
  (void)signum;
  if (reaper->closing) return;
  for (;;) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    child_t *c = find_child(info.si_pid);
    if (c == NULL) {
      /* Someone else's child (libuv's) is first in line: look at each of ours instead. */
      for (child_t *x = reaper->children, *next; x; x = next) {
        next = x->next;
        reap(x);
      }
      return;
    }
    if (!reap(c)) return;
  }
}

static void on_environment_ending(void *arg) {
  reaper_t *r = arg;
  r->closing = true;
  for (child_t *c = r->children, *next; c; c = next) {
    next = c->next;
    napi_delete_reference(r->env, c->on_exit);
    napi_async_destroy(r->env, c->async_context);
    free(c);
  }
  r->children = NULL;
  if (r->started) uv_close((uv_handle_t *)&r->sigchld, NULL);
  /* The handle's memory must outlive the close: the process is ending, the reaper is kept. */
}

/* The SIGCHLD handle, started before the first spawn so that no exit goes unseen; false (errno
 * set) when it cannot be. */
static bool ensure_reaper(napi_env env) {
  if (reaper == NULL) {
    reaper = calloc(1, sizeof *reaper);
    if (reaper == NULL) {
      errno = ENOMEM;
      return false;
    }
    reaper->env = env;
    napi_add_env_cleanup_hook(env, on_environment_ending, reaper);
  }
  if (!reaper->started) {
    uv_loop_t *loop;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      errno = ENOMEM;
      return false;
    }
    int rc = uv_signal_init(loop, &reaper->sigchld);
    if (rc == 0) rc = uv_signal_start(&reaper->sigchld, on_sigchld, SIGCHLD);
    if (rc != 0) {
      errno = -rc;
      return false;
    }
    uv_unref((uv_handle_t *)&reaper->sigchld);
    reaper->started = true;
  }
  return true;
}

/* Watches pid's end on the loop (ensure_reaper first); false (errno set) when it cannot. */
static bool watch_exit(napi_env env, pid_t pid, napi_value on_exit) {
  child_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    errno = ENOMEM;
    return false;
  }
  c->pid = pid;
  napi_value name;
  napi_create_string_utf8(env, "emperor.worker", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, on_exit, 1, &c->on_exit);
  napi_async_init(env, NULL, name, &c->async_context);
  if (reaper->children == NULL) uv_ref((uv_handle_t *)&reaper->sigchld);
  c->next = reaper->children;
  if (c->next) c->next->prev = c;
  reaper->children = c;
  return true;
}

/* ---- spawn ---- */

static napi_value spawn_child(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t_cwd, t_fn;
  bool fds_is_array;
  uint32_t nfds;
  if (argc < 6 || napi_typeof(env, argv[3], &t_cwd) != napi_ok || napi_typeof(env, argv[5], &t_fn) != napi_ok || t_fn != napi_function ||
      napi_is_array(env, argv[4], &fds_is_array) != napi_ok || !fds_is_array || napi_get_array_length(env, argv[4], &nfds) != napi_ok || nfds > MAX_FDS) {
    return throw_type(env, "spawn(file, argv: string[], env: string[], cwd: string | null, fds: number[], onExit: function)");
  }
  int fds[MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value v;
    napi_get_element(env, argv[4], i, &v);
    if (!get_fd(env, v, -1, &fds[i])) return throw_type(env, "spawn: fds must be descriptors or -1");
  }

  napi_value result = NULL;
  char *file = NULL, *cwd = NULL, **args = NULL, **envp = NULL;
  int moved[MAX_FDS];
  uint32_t nmoved = 0;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  bool have_actions = false, have_attr = false;

  file = dup_string(env, argv[0], "spawn: file must be a string without NUL");
  if (file == NULL) goto done;
  args = dup_strings(env, argv[1], "spawn: argv must be strings without NUL");
  if (args == NULL) goto done;
  envp = dup_strings(env, argv[2], "spawn: env must be strings without NUL");
  if (envp == NULL) goto done;
  if (t_cwd == napi_string) {
    cwd = dup_string(env, argv[3], "spawn: cwd must be a string without NUL");
    if (cwd == NULL) goto done;
  } else if (t_cwd != napi_null && t_cwd != napi_undefined) {
    throw_type(env, "spawn: cwd must be a string or null");
    goto done;
  }

  /* dup2(src, i) in order would clobber a source that sits below nfds before it is used: move
   * such sources above the range first (close-on-exec, so only the dup2'ed copy reaches the
   * child). dup2 onto itself would keep close-on-exec: also avoided by the move. */
  for (uint32_t i = 0; i < nfds; i++) {
    if (fds[i] >= 0 && (uint32_t)fds[i] < nfds) {
      int high = fcntl(fds[i], F_DUPFD_CLOEXEC, (int)nfds);
      if (high < 0) {
        throw_system(env, errno, "fcntl", NULL);
        goto done;
      }
      for (uint32_t j = i + 1; j < nfds; j++) {
        if (fds[j] == fds[i]) fds[j] = high;
      }
      fds[i] = high;
      moved[nmoved++] = high;
    }
  }

  posix_spawn_file_actions_init(&actions);
  have_actions = true;
  for (uint32_t i = 0; i < nfds; i++) {
    int rc = fds[i] < 0 ? posix_spawn_file_actions_addopen(&actions, (int)i, "/dev/null", i == 0 ? O_RDONLY : O_RDWR, 0)
                        : posix_spawn_file_actions_adddup2(&actions, fds[i], (int)i);
    if (rc != 0) {
      throw_system(env, rc, "posix_spawn_file_actions", NULL);
      goto done;
    }
  }
  /* Node opens its own descriptors close-on-exec; a library's stray one must not leak either. */
  posix_spawn_file_actions_addclosefrom_np(&actions, (int)nfds);
  if (cwd != NULL) posix_spawn_file_actions_addchdir_np(&actions, cwd);

  posix_spawnattr_init(&attr);
  have_attr = true;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  if (!ensure_reaper(env)) {
    throw_system(env, errno, "sigaction", NULL);
    goto done;
  }
  pid_t pid;
  int rc = strchr(file, '/') ? posix_spawn(&pid, file, &actions, &attr, args, envp) : posix_spawnp(&pid, file, &actions, &attr, args, envp);
  if (rc != 0) {
    throw_system(env, rc, "spawn", file);
    goto done;
  }
  if (!watch_exit(env, pid, argv[5])) {
    /* Without a watch the child would never be reaped or reported: it must not run. */
    int err = errno;
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    throw_system(env, err, "watch", NULL);
    goto done;
  }
  napi_create_int32(env, pid, &result);

done:
  for (uint32_t i = 0; i < nmoved; i++) close(moved[i]);
  if (have_actions) posix_spawn_file_actions_destroy(&actions);
  if (have_attr) posix_spawnattr_destroy(&attr);
  free(file);
  free(cwd);
  free_strings(args);
  free_strings(envp);
  return result;
}

static napi_value pair(napi_env env, int fds[2]) {
  napi_value arr, v;
  napi_create_array_with_length(env, 2, &arr);
  for (uint32_t i = 0; i < 2; i++) {
    napi_create_int32(env, fds[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

static napi_value make_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_system(env, errno, "pipe2", NULL);
  return pair(env, fds);
}

static napi_value make_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return throw_system(env, errno, "socketpair", NULL);
  return pair(env, fds);
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !get_fd(env, argv[0], 0, &fd)) return throw_type(env, "closeFd(fd)");
  if (close(fd) != 0 && errno != EINTR) return throw_system(env, errno, "close", NULL);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"spawn", NULL, spawn_child, NULL, NULL, NULL, napi_default, NULL},
      {"pipe", NULL, make_pipe, NULL, NULL, NULL, napi_default, NULL},
      {"socketpair", NULL, make_socketpair, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
