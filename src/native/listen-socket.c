/*
 * listen-socket: listening sockets the emperor holds for on-demand vassals, watched on Node's
 * event loop without ever accepting.
 *
 * Node's net.Server accepts every connection as soon as it listens (libuv accepts before it tells
 * anyone), so the first client of an on-demand vassal would land in the emperor instead of the
 * vassal. Here the socket is bound and listened with plain system calls, libuv never sees it as a
 * stream, and readiness is watched with uv_poll: a pending connection makes the socket readable
 * and stays in the backlog for the vassal to accept.
 *
 *   listenTcp(host, port, backlog) -> fd           host: a numeric IPv4 or IPv6 address
 *   listenUnix(path, backlog, mode, owner, give) -> fd   path: a file path, or "@name" (abstract)
 *   chmodUnix(path, mode, owner)                   chmod of the socket file at path
 *   unlinkUnix(path, owner)                        removes the socket file at path, if it is one
 *   watch(fd, onReadable, onError) -> { arm, disarm, close }
 *   closeFd(fd)
 *
 * owner is null or { uid, gid, groups }: the file is then created, chmod'ed and removed with that
 * user's file-system rights (setfsuid/setfsgid and the thread's own group list, per thread, just
 * for these calls), so a path the user could not create is refused by the kernel itself, symlinks
 * and all, and the file is the user's. give is null or { uid, gid }: the file is lchown'ed to them
 * (a root emperor running the vassal as another user, outside tyrant mode).
 *
 * A watch is one-shot: once the socket is readable it stops (the vassal is about to accept) and
 * calls onReadable; arm() starts it again. Stopping removes the fd from epoll at once, which
 * matters because the workers hold the same socket: a stale registration would wake the loop for
 * every connection they get.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#define MAX_GROUPS 1024

/* An Error shaped like Node's own system errors: message, code (EADDRINUSE...), syscall, path. */
static napi_value system_error(napi_env env, int err, const char *syscall, const char *path) {
  char msg[4400];
  if (path != NULL) snprintf(msg, sizeof msg, "%s %s: %s", syscall, path, strerror(err));
  else snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error, v;
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  if (path != NULL) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, error, "path", v);
  }
  return error;
}

static napi_value throw_system(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, system_error(env, err, syscall, path));
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static bool get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return false;
  return len < size - 1 && strlen(buf) == len; /* not cut, no NUL inside */
}

static bool get_int(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (d != (double)(int64_t)d || d < (double)min || d > (double)max) return false;
  *out = (int64_t)d;
  return true;
}

static napi_value make_int(napi_env env, int v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* ---- file-system rights of a user, for the calling thread only ---- */

typedef struct {
  bool active;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_GROUPS];
  int n_groups;
} owner_t;

typedef struct {
  gid_t groups[MAX_GROUPS];
  int n_groups;
} saved_t;

/* Reads null or { uid, gid, groups: number[] }. */
static bool get_owner(napi_env env, napi_value v, owner_t *o) {
  napi_valuetype t;
  memset(o, 0, sizeof *o);
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) return true;
  if (t != napi_object) return false;
  napi_value x;
  int64_t n;
  if (napi_get_named_property(env, v, "uid", &x) != napi_ok || !get_int(env, x, 0, 4294967294LL, &n)) return false;
  o->uid = (uid_t)n;
  if (napi_get_named_property(env, v, "gid", &x) != napi_ok || !get_int(env, x, 0, 4294967294LL, &n)) return false;
  o->gid = (gid_t)n;
  bool is_array;
  uint32_t len;
  if (napi_get_named_property(env, v, "groups", &x) != napi_ok || napi_is_array(env, x, &is_array) != napi_ok || !is_array) return false;
  if (napi_get_array_length(env, x, &len) != napi_ok || len > MAX_GROUPS) return false;
  for (uint32_t i = 0; i < len; i++) {
    napi_value g;
    if (napi_get_element(env, x, i, &g) != napi_ok || !get_int(env, g, 0, 4294967294LL, &n)) return false;
    o->groups[i] = (gid_t)n;
  }
  o->n_groups = (int)len;
  o->active = true;
  return true;
}

/* Reads null or { uid, gid }. */
static bool get_give(napi_env env, napi_value v, bool *active, uid_t *uid, gid_t *gid) {
  napi_valuetype t;
  *active = false;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) return true;
  if (t != napi_object) return false;
  napi_value x;
  int64_t n;
  if (napi_get_named_property(env, v, "uid", &x) != napi_ok || !get_int(env, x, 0, 4294967294LL, &n)) return false;
  *uid = (uid_t)n;
  if (napi_get_named_property(env, v, "gid", &x) != napi_ok || !get_int(env, x, 0, 4294967294LL, &n)) return false;
  *gid = (gid_t)n;
  *active = true;
  return true;
}

/* The raw system calls change this thread only; glibc's setgroups() would change every thread
 * of the emperor. The effective ids stay root, so the way back is always open. */
static int become(const owner_t *o, saved_t *s) {
  if (!o->active) return 0;
  s->n_groups = getgroups(MAX_GROUPS, s->groups);
  if (s->n_groups < 0) return errno;
  if (syscall(SYS_setgroups, (size_t)o->n_groups, o->groups) != 0) return errno;
  setfsgid(o->gid);
  setfsuid(o->uid);
  if ((uid_t)setfsuid((uid_t)-1) != o->uid || (gid_t)setfsgid((gid_t)-1) != o->gid) {
    setfsuid(geteuid());
    setfsgid(getegid());
    syscall(SYS_setgroups, (size_t)s->n_groups, s->groups);
    return EPERM;
  }
  return 0;
}

static void restore(const owner_t *o, const saved_t *s) {
  if (!o->active) return;
  setfsuid(geteuid());
  setfsgid(getegid());
  if (syscall(SYS_setgroups, (size_t)s->n_groups, s->groups) != 0) {
    /* Cannot happen while the effective uid is root; going on with the user's groups would be
     * wrong for everything the emperor does next. */
    napi_fatal_error("listen-socket", NAPI_AUTO_LENGTH, "cannot restore the emperor's groups", NAPI_AUTO_LENGTH);
  }
}

/* ---- sockets ---- */

/* listenTcp(host, port, backlog) */
static napi_value listen_tcp(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char host[64];
  int64_t port, backlog;
  if (argc < 3 || !get_string(env, argv[0], host, sizeof host) || !get_int(env, argv[1], 0, 65535, &port) || !get_int(env, argv[2], 1, 65535, &backlog)) {
    return throw_type(env, "listenTcp(host: numeric address, port: 0..65535, backlog: 1..65535)");
  }
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    len = sizeof *in4;
  } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    len = sizeof *in6;
  } else {
    return throw_type(env, "listenTcp: host must be a numeric IPv4 or IPv6 address");
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_system(env, errno, "socket", NULL);
  int one = 1;
  /* As uWSGI's emperor binds them: a restarted emperor can bind again at once. */
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    int err = errno;
    close(fd);
    return throw_system(env, err, "setsockopt", NULL);
  }
  if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, (int)backlog) != 0) {
    int err = errno;
    close(fd);
    return throw_system(env, err, "bind", NULL);
  }
  return make_int(env, fd);
}

static bool unix_address(const char *path, struct sockaddr_un *sun, socklen_t *len) {
  size_t n = strlen(path);
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (n == 0 || n >= sizeof sun->sun_path) return false;
  memcpy(sun->sun_path, path, n);
  if (path[0] == '@') sun->sun_path[0] = '\0'; /* abstract: no file */
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  return true;
}

/* A socket file nobody listens on any more is left over: it may go. Returns 0 when the path is
 * free, else the errno to report (EADDRINUSE: someone listens; EEXIST: not a socket). */
static int clear_stale(const char *path, const struct sockaddr_un *sun, socklen_t len) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : errno;
  if (!S_ISSOCK(st.st_mode)) return EEXIST;
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) return errno;
  int rc = connect(probe, (const struct sockaddr *)sun, len);
  int err = rc == 0 ? 0 : errno;
  close(probe);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) return EADDRINUSE;
  if (err != ECONNREFUSED) return err == ENOENT ? 0 : err;
  if (unlink(path) != 0 && errno != ENOENT) return errno;
  return 0;
}

/* listenUnix(path, backlog, mode, owner, give) */
static napi_value listen_unix(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  int64_t backlog, mode;
  owner_t owner;
  bool give;
  uid_t give_uid = 0;
  gid_t give_gid = 0;
  if (argc < 5 || !get_string(env, argv[0], path, sizeof path) || !get_int(env, argv[1], 1, 65535, &backlog) || !get_int(env, argv[2], 0, 0777, &mode) ||
      !get_owner(env, argv[3], &owner) || !get_give(env, argv[4], &give, &give_uid, &give_gid)) {
    return throw_type(env, "listenUnix(path: at most 107 bytes, backlog: 1..65535, mode: 0..0777, owner: null | { uid, gid, groups }, give: null | { uid, gid })");
  }
  struct sockaddr_un sun;
  socklen_t len;
  if (!unix_address(path, &sun, &len)) return throw_type(env, "listenUnix: path must be 1..107 bytes");
  bool abstract = path[0] == '@';
  saved_t saved;
  int err = become(&owner, &saved);
  if (err != 0) return throw_system(env, err, "setfsuid", NULL);
  const char *step = "bind";
  int fd = -1;
  if (!abstract) {
    err = clear_stale(path, &sun, len);
    if (err != 0) step = "bind";
  }
  if (err == 0) {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { err = errno; step = "socket"; }
  }
  if (err == 0 && bind(fd, (struct sockaddr *)&sun, len) != 0) { err = errno; step = "bind"; }
  /* The mode is set before listen(): until then nobody can connect, so no client ever gets in
   * through the umask's wider default. */
  if (err == 0 && !abstract && chmod(path, (mode_t)mode) != 0) {
    err = errno;
    step = "chmod";
    unlink(path);
  }
  if (err == 0 && !abstract && give && lchown(path, give_uid, give_gid) != 0) {
    err = errno;
    step = "chown";
    unlink(path);
  }
  if (err == 0 && listen(fd, (int)backlog) != 0) {
    err = errno;
    step = "listen";
    if (!abstract) unlink(path);
  }
  restore(&owner, &saved);
  if (err != 0) {
    if (fd >= 0) close(fd);
    return throw_system(env, err, step, path);
  }
  return make_int(env, fd);
}

/* chmodUnix(path, mode, owner) */
static napi_value chmod_unix(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4097];
  int64_t mode;
  owner_t owner;
  if (argc < 3 || !get_string(env, argv[0], path, sizeof path) || !get_int(env, argv[1], 0, 0777, &mode) || !get_owner(env, argv[2], &owner)) {
    return throw_type(env, "chmodUnix(path, mode: 0..0777, owner: null | { uid, gid, groups })");
  }
  if (path[0] == '@') return NULL;
  saved_t saved;
  int err = become(&owner, &saved);
  if (err != 0) return throw_system(env, err, "setfsuid", NULL);
  struct stat st;
  const char *step = "lstat";
  if (lstat(path, &st) != 0) err = errno;
  else if (!S_ISSOCK(st.st_mode)) err = EEXIST;
  else if (chmod(path, (mode_t)mode) != 0) { err = errno; step = "chmod"; }
  restore(&owner, &saved);
  if (err != 0) return throw_system(env, err, step, path);
  return NULL;
}

/* unlinkUnix(path, owner): removes the file only if it is a socket (never whatever a user put in
 * its place). */
static napi_value unlink_unix(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4097];
  owner_t owner;
  if (argc < 2 || !get_string(env, argv[0], path, sizeof path) || !get_owner(env, argv[1], &owner)) {
    return throw_type(env, "unlinkUnix(path, owner: null | { uid, gid, groups })");
  }
  if (path[0] == '@') return NULL;
  saved_t saved;
  int err = become(&owner, &saved);
  if (err != 0) return throw_system(env, err, "setfsuid", NULL);
  struct stat st;
  const char *step = "lstat";
  if (lstat(path, &st) != 0) err = errno == ENOENT ? 0 : errno;
  else if (S_ISSOCK(st.st_mode) && unlink(path) != 0 && errno != ENOENT) { err = errno; step = "unlink"; }
  restore(&owner, &saved);
  if (err != 0) return throw_system(env, err, step, path);
  return NULL;
}

/* closeFd(fd) */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !get_int(env, argv[0], 0, 1 << 30, &fd)) return throw_type(env, "closeFd(fd)");
  if (close((int)fd) != 0 && errno != EINTR) return throw_system(env, errno, "close", NULL);
  return NULL;
}

/* ---- watching for a pending connection ---- */

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  bool armed;
  bool closing;       /* close() called or the environment is ending */
  bool handle_closed; /* libuv no longer uses the struct */
  int js_refs;        /* arm/disarm/close functions not yet collected */
  napi_ref on_readable, on_error;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup_hook;
} watcher;

static void maybe_free(watcher *w) {
  if (w->handle_closed && w->js_refs == 0) free(w);
}

static void on_handle_closed(uv_handle_t *handle) {
  watcher *w = handle->data;
  napi_delete_reference(w->env, w->on_readable);
  napi_delete_reference(w->env, w->on_error);
  napi_async_destroy(w->env, w->async_context);
  napi_remove_async_cleanup_hook(w->cleanup_hook);
  w->handle_closed = true;
  maybe_free(w);
}

static void disarm(watcher *w) {
  if (!w->armed) return;
  w->armed = false;
  /* Also takes the fd out of epoll at once (uv__platform_invalidate_fd). */
  uv_poll_stop(&w->poll);
}

static void stop(watcher *w) {
  if (w->closing) return;
  w->closing = true;
  disarm(w);
  uv_close((uv_handle_t *)&w->poll, on_handle_closed);
}

static void call_js(watcher *w, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_value fn, recv, exc;
  napi_get_reference_value(w->env, fn_ref, &fn);
  napi_get_global(w->env, &recv);
  if (napi_make_callback(w->env, w->async_context, recv, fn, argc, argv, NULL) == napi_pending_exception) {
    napi_get_and_clear_last_exception(w->env, &exc);
    napi_fatal_exception(w->env, exc);
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  watcher *w = handle->data;
  (void)events;
  if (w->closing || !w->armed) return;
  disarm(w);
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  if (status < 0) {
    napi_value err = system_error(w->env, -status, "poll", NULL);
    call_js(w, w->on_error, 1, &err);
  } else {
    call_js(w, w->on_readable, 0, NULL);
  }
  napi_close_handle_scope(w->env, scope);
}

static void on_environment_ending(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  stop(arg);
}

static void on_fn_collected(napi_env env, void *data, void *hint) {
  watcher *w = data;
  (void)env;
  (void)hint;
  w->js_refs--;
  maybe_free(w);
}

static napi_value arm_watch(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  watcher *w = data;
  if (w->closing || w->armed) return NULL;
  int rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc != 0) return throw_system(env, -rc, "poll", NULL);
  w->armed = true;
  return NULL;
}

static napi_value disarm_watch(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  watcher *w = data;
  if (!w->closing) disarm(w);
  return NULL;
}

static napi_value close_watch(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  stop(data);
  return NULL;
}

static bool add_fn(napi_env env, napi_value obj, const char *name, napi_callback cb, watcher *w) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, w, &fn) != napi_ok) return false;
  if (napi_add_finalizer(env, fn, w, on_fn_collected, NULL, NULL) != napi_ok) return false;
  w->js_refs++;
  return napi_set_named_property(env, obj, name, fn) == napi_ok;
}

/* watch(fd, onReadable, onError) -> { arm, disarm, close }; the fd stays the caller's. */
static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t fd;
  napi_valuetype t1, t2;
  if (argc < 3 || !get_int(env, argv[0], 0, 1 << 30, &fd) || napi_typeof(env, argv[1], &t1) != napi_ok || t1 != napi_function ||
      napi_typeof(env, argv[2], &t2) != napi_ok || t2 != napi_function) {
    return throw_type(env, "watch(fd, onReadable: function, onError: function)");
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_type(env, "watch: no event loop");
  /* uv_poll_init makes the socket non-blocking; the workers that inherit it expect it blocking,
   * as systemd hands sockets over, and epoll does not care. */
  int fl = fcntl((int)fd, F_GETFL);
  if (fl < 0) return throw_system(env, errno, "fcntl", NULL);
  watcher *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_system(env, ENOMEM, "watch", NULL);
  w->env = env;
  w->fd = (int)fd;
  int rc = uv_poll_init(loop, &w->poll, w->fd);
  if (rc != 0) {
    free(w);
    return throw_system(env, -rc, "poll", NULL);
  }
  fcntl(w->fd, F_SETFL, fl);
  w->poll.data = w;
  napi_value name, obj;
  napi_create_string_utf8(env, "emperor.on-demand", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &w->on_readable);
  napi_create_reference(env, argv[2], 1, &w->on_error);
  napi_async_init(env, NULL, name, &w->async_context);
  napi_add_async_cleanup_hook(env, on_environment_ending, w, &w->cleanup_hook);
  napi_create_object(env, &obj);
  if (!add_fn(env, obj, "arm", arm_watch, w) || !add_fn(env, obj, "disarm", disarm_watch, w) || !add_fn(env, obj, "close", close_watch, w)) {
    stop(w);
    return throw_type(env, "watch: cannot create its functions");
  }
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"listenTcp", NULL, listen_tcp, NULL, NULL, NULL, napi_default, NULL},
      {"listenUnix", NULL, listen_unix, NULL, NULL, NULL, napi_default, NULL},
      {"chmodUnix", NULL, chmod_unix, NULL, NULL, NULL, napi_default, NULL},
      {"unlinkUnix", NULL, unlink_unix, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, watch, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
