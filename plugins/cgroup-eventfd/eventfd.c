/*
 * cgroup v1 event notifications through eventfd, watched on Node's event loop.
 *
 * watch(controlFile, subjectFile, extra, onEvent, onError) -> close
 *
 * Registers an eventfd with the kernel the way the cgroup v1 interface asks (and as uWSGI's
 * eventfd plugin does): write "<eventfd> <subject fd>[ <extra>]" to the control file, e.g.
 * cgroup.event_control with memory.usage_in_bytes and a threshold, or with memory.oom_control.
 * The eventfd is non-blocking and watched with uv_poll on the loop itself: thousands of watches
 * cost no thread each and never occupy the thread pool with a blocking read.
 *
 * onEvent(count: bigint) runs on every notification with the eventfd counter (the number of
 * notifications since the last read). onError(err) runs if the descriptor fails; the watch stops.
 * close() is idempotent; the watch also ends when the environment is torn down.
 */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  char *subject; /* for error messages */
  napi_ref on_event, on_error;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup_hook;
  bool closing;       /* close() called, an error stopped it, or the environment is ending */
  bool handle_closed; /* libuv no longer uses the struct */
  bool close_fn_gone; /* the JS close function was collected: nothing can reach the struct */
} watcher;

/* The struct is freed only when libuv and JS are both done with it, so a stray close() call
 * after the watch ended is still safe. */
static void maybe_free(watcher *w) {
  if (!w->handle_closed || !w->close_fn_gone) return;
  free(w->subject);
  free(w);
}

static void on_handle_closed(uv_handle_t *handle) {
  watcher *w = handle->data;
  close(w->fd);
  napi_delete_reference(w->env, w->on_event);
  napi_delete_reference(w->env, w->on_error);
  napi_async_destroy(w->env, w->async_context);
  napi_remove_async_cleanup_hook(w->cleanup_hook);
  w->handle_closed = true;
  maybe_free(w);
}

static void stop(watcher *w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_handle_closed);
}

/* Calls a JS callback as a proper async operation (async hooks, microtasks). An exception it
 * throws has nowhere to go but the process's uncaughtException, as for any event-loop callback. */
static void call_js(watcher *w, napi_ref fn_ref, napi_value arg) {
  napi_value fn, recv, exc;
  napi_get_reference_value(w->env, fn_ref, &fn);
  napi_get_global(w->env, &recv); /* napi_make_callback needs an object receiver */
  if (napi_make_callback(w->env, w->async_context, recv, fn, 1, &arg, NULL) == napi_pending_exception) {
    napi_get_and_clear_last_exception(w->env, &exc);
    napi_fatal_exception(w->env, exc);
  }
}

/* An Error shaped like Node's own system errors: message, code (ENOENT...), syscall, path. */
static napi_value system_error(napi_env env, int err, const char *syscall, const char *path, const char *what) {
  char msg[4200];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
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

static void report_error(watcher *w, int err, const char *syscall) {
  char what[4200];
  snprintf(what, sizeof what, "eventfd watch on %s stopped, %s failed", w->subject, syscall);
  stop(w);
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  call_js(w, w->on_error, system_error(w->env, err, syscall, w->subject, what));
  napi_close_handle_scope(w->env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  watcher *w = handle->data;
  (void)events;
  if (w->closing) return;
  if (status < 0) {
    report_error(w, -status, "poll");
    return;
  }
  uint64_t count;
  ssize_t n = read(w->fd, &count, sizeof count);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n != (ssize_t)sizeof count) {
    report_error(w, n < 0 ? errno : EIO, "read");
    return;
  }
  napi_handle_scope scope;
  napi_value arg;
  napi_open_handle_scope(w->env, &scope);
  napi_create_bigint_uint64(w->env, count, &arg);
  call_js(w, w->on_event, arg);
  napi_close_handle_scope(w->env, scope);
}

static void on_environment_ending(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  stop(arg);
}

static void on_close_fn_collected(napi_env env, void *data, void *hint) {
  watcher *w = data;
  (void)env;
  (void)hint;
  w->close_fn_gone = true;
  maybe_free(w);
}

static napi_value close_watch(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  stop(data);
  return NULL;
}

/* A string argument as a malloc'd C string, or NULL with a TypeError thrown. */
static char *string_arg(napi_env env, napi_value v, const char *name) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a string", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* Registers efd for subject through control, as the cgroup v1 interface expects. On failure
 * returns an errno and sets *syscall and *path to what failed. */
static int register_eventfd(int efd, const char *control, const char *subject, const char *extra,
                            const char **syscall, const char **path) {
  char line[4200];
  int err = 0;
  int sfd = open(subject, O_RDONLY | O_CLOEXEC);
  if (sfd < 0) {
    *syscall = "open", *path = subject;
    return errno;
  }
  int cfd = open(control, O_WRONLY | O_CLOEXEC);
  if (cfd < 0) {
    err = errno, *syscall = "open", *path = control;
  } else {
    int len = snprintf(line, sizeof line, "%d %d%s%s", efd, sfd, extra ? " " : "", extra ? extra : "");
    if (len < 0 || (size_t)len >= sizeof line) err = ENAMETOOLONG, *syscall = "write", *path = control;
    else if (write(cfd, line, (size_t)len) != len) err = errno, *syscall = "write", *path = control;
    close(cfd);
  }
  close(sfd);
  return err;
}

static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result = NULL;
  napi_valuetype type;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "watch(controlFile, subjectFile, extra, onEvent, onError)");
    return NULL;
  }
  for (int i = 3; i < 5; i++) {
    napi_typeof(env, argv[i], &type);
    if (type != napi_function) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", i == 3 ? "onEvent must be a function" : "onError must be a function");
      return NULL;
    }
  }
  char *control = string_arg(env, argv[0], "controlFile");
  char *subject = control ? string_arg(env, argv[1], "subjectFile") : NULL;
  char *extra = NULL;
  napi_typeof(env, argv[2], &type);
  if (subject != NULL && type != napi_undefined && type != napi_null) extra = string_arg(env, argv[2], "extra");
  if (subject == NULL || (extra == NULL && type != napi_undefined && type != napi_null)) goto out;

  const char *syscall = "eventfd", *path = NULL;
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int err = efd < 0 ? errno : register_eventfd(efd, control, subject, extra, &syscall, &path);
  if (err != 0) {
    char what[4200];
    if (path != NULL) snprintf(what, sizeof what, "cannot %s %s", syscall, path);
    else snprintf(what, sizeof what, "cannot create an eventfd");
    if (efd >= 0) close(efd);
    napi_throw(env, system_error(env, err, syscall, path, what));
    goto out;
  }

  watcher *w = calloc(1, sizeof *w);
  uv_loop_t *loop;
  napi_value name, close_fn;
  int uverr;
  if (w == NULL) {
    close(efd);
    napi_throw_error(env, "ENOMEM", "out of memory");
    goto out;
  }
  w->env = env;
  w->fd = efd;
  w->subject = subject;
  subject = NULL;
  w->poll.data = w;
  napi_get_uv_event_loop(env, &loop);
  if ((uverr = uv_poll_init(loop, &w->poll, efd)) != 0) {
    napi_throw(env, system_error(env, -uverr, "poll", w->subject, "cannot watch the eventfd"));
    close(efd);
    free(w->subject);
    free(w);
    goto out;
  }
  /* From here libuv owns the handle: the struct is released through stop() only. */
  napi_create_reference(env, argv[3], 1, &w->on_event);
  napi_create_reference(env, argv[4], 1, &w->on_error);
  napi_create_string_utf8(env, "emperor:eventfd", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->async_context);
  napi_add_async_cleanup_hook(env, on_environment_ending, w, &w->cleanup_hook);
  if ((uverr = uv_poll_start(&w->poll, UV_READABLE, on_readable)) != 0) {
    napi_throw(env, system_error(env, -uverr, "poll", w->subject, "cannot watch the eventfd"));
    w->close_fn_gone = true;
    stop(w);
    goto out;
  }
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, close_watch, w, &close_fn);
  napi_add_finalizer(env, close_fn, w, on_close_fn_collected, NULL, NULL);
  result = close_fn;

out:
  free(control);
  free(subject);
  free(extra);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "watch", NAPI_AUTO_LENGTH, watch, NULL, &fn);
  napi_set_named_property(env, exports, "watch", fn);
  return exports;
}
