/*
 * emperor-exec: the step between the emperor and a worker's program.
 *
 *   emperor-exec [options] -- PROGRAM ARGS...
 *
 * Node's spawn cannot run code in the child between fork and exec, yet a worker must join its
 * cgroup, change credentials and arrange to die with the emperor before its program runs, or a
 * forked child could escape the cgroup and an orphan could outlive the emperor. This helper does
 * exactly those steps, in the order the kernel requires, then execs PROGRAM (PATH is searched).
 *
 * Options (all before "--"):
 *   --merge-stderr       dup2(1, 2) first, so one pipe carries stdout and stderr
 *   --cgroup-procs FILE  write our pid to FILE (repeatable); done before anything else runs
 *   --pidns              run PROGRAM in a new pid namespace (root only), see run_in_pidns()
 *   --gid N              setgid(N), then drop supplementary groups
 *   --init-groups USER   initgroups(USER, N) instead of dropping supplementary groups
 *   --uid N              setuid(N) (needs --gid, so a worker never keeps group 0 by accident)
 *   --no-new-privs       prctl(PR_SET_NO_NEW_PRIVS): setuid binaries cannot raise privileges
 *   --parent PID         the process that spawned us (default: our parent at start)
 *   --listen-fds N       fds 3..3+N-1 are listening sockets passed the way systemd passes them
 *                        (sd_listen_fds(3)): PROGRAM gets LISTEN_FDS=N and LISTEN_PID=its own pid
 *                        (with --pidns, the pid inside the namespace), blocking and inheritable
 *   --hold-fd N          after joining the cgroups, wait for one byte on fd N before going on
 *                        (N is then closed); exit 0 quietly if N reaches its end first. This starts
 *                        a process ahead of need: joining a cgroup v1 hierarchy can cost the kernel
 *                        an RCU grace period (milliseconds), paid here before anyone waits for it
 *
 * Exit: 126 and "emperor-exec: <what>: <reason>" on stderr when setting up fails; 127 when
 * PROGRAM cannot be executed. Otherwise the exit is PROGRAM's own (it replaces this process, or
 * with --pidns this process ends exactly as PROGRAM ended: same code or same signal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_SETUP 126
#define EXIT_EXEC 127
#define MAX_CGROUPS 16

struct options {
  int merge_stderr;
  const char *cgroup_procs[MAX_CGROUPS];
  int n_cgroups;
  int pidns;
  long uid, gid; /* -1: unchanged */
  const char *init_groups;
  int no_new_privs;
  pid_t parent;
  int listen_fds; /* fds 3..3+listen_fds-1 are passed listening sockets */
  int hold_fd;    /* -1: none */
  char **argv; /* PROGRAM ARGS..., NULL-terminated */
};

/* Prints "emperor-exec: <what>[: <strerror(err)>]" and exits 126. */
static void fail(int err, const char *fmt, ...) {
  va_list ap;
  fputs("emperor-exec: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (err != 0) fprintf(stderr, ": %s", strerror(err));
  fputc('\n', stderr);
  _exit(EXIT_SETUP);
}

static long parse_id(const char *opt, const char *s, long max) {
  char *end = NULL;
  errno = 0;
  long v = (s == NULL || *s == '\0') ? -1 : strtol(s, &end, 10);
  if (v < 0 || errno != 0 || *end != '\0' || v > max)
    fail(0, "%s expects an integer 0..%ld, got \"%s\"", opt, max, s == NULL ? "" : s);
  return v;
}

static void parse(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->uid = o->gid = -1;
  o->hold_fd = -1;
  o->parent = getppid();
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--merge-stderr") == 0) o->merge_stderr = 1;
    else if (strcmp(a, "--pidns") == 0) o->pidns = 1;
    else if (strcmp(a, "--no-new-privs") == 0) o->no_new_privs = 1;
    else if (strcmp(a, "--cgroup-procs") == 0 && v != NULL) {
      if (o->n_cgroups == MAX_CGROUPS) fail(0, "at most %d --cgroup-procs", MAX_CGROUPS);
      o->cgroup_procs[o->n_cgroups++] = v;
      i++;
    } else if (strcmp(a, "--uid") == 0) { o->uid = parse_id(a, v, 4294967294L); i++; }
    else if (strcmp(a, "--gid") == 0) { o->gid = parse_id(a, v, 4294967294L); i++; }
    else if (strcmp(a, "--parent") == 0) { o->parent = (pid_t)parse_id(a, v, 4194304L); i++; }
    else if (strcmp(a, "--init-groups") == 0 && v != NULL) { o->init_groups = v; i++; }
    else if (strcmp(a, "--listen-fds") == 0) { o->listen_fds = (int)parse_id(a, v, 1024L); i++; }
    else if (strcmp(a, "--hold-fd") == 0) { o->hold_fd = (int)parse_id(a, v, 1048576L); i++; }
    else fail(0, "unknown option or missing value: %s (usage: emperor-exec [options] -- PROGRAM ARGS...)", a);
  }
  if (i + 1 >= argc) fail(0, "no PROGRAM after \"--\" (usage: emperor-exec [options] -- PROGRAM ARGS...)");
  if (o->uid >= 0 && o->gid < 0) fail(0, "--uid needs --gid");
  if (o->init_groups != NULL && o->gid < 0) fail(0, "--init-groups needs --gid");
  for (int fd = 3; fd < 3 + o->listen_fds; fd++) {
    if (fcntl(fd, F_GETFD) < 0) fail(errno, "--listen-fds %d: fd %d", o->listen_fds, fd);
  }
  if (o->hold_fd >= 0 && fcntl(o->hold_fd, F_GETFD) < 0) fail(errno, "--hold-fd %d", o->hold_fd);
  if (o->hold_fd >= 0 && o->hold_fd < 3 + o->listen_fds) fail(0, "--hold-fd %d is one of the standard or listening fds", o->hold_fd);
  o->argv = argv + i + 1;
}

/* Joining the cgroup first means everything after, including any child PROGRAM forks, is in it. */
static void join_cgroups(const struct options *o) {
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  for (int i = 0; i < o->n_cgroups; i++) {
    int fd = open(o->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail(errno, "cannot open %s", o->cgroup_procs[i]);
    if (write(fd, pid, (size_t)len) != len) fail(errno, "cannot join cgroup via %s", o->cgroup_procs[i]);
    close(fd);
  }
}

/* Group first, then supplementary groups, then user: each later step gives up the right to do
 * the earlier ones. */
static void drop_credentials(const struct options *o) {
  if (o->gid >= 0) {
    if (setgid((gid_t)o->gid) != 0) fail(errno, "cannot setgid(%ld)", o->gid);
    if (o->init_groups != NULL) {
      if (initgroups(o->init_groups, (gid_t)o->gid) != 0) fail(errno, "cannot initgroups(%s)", o->init_groups);
    } else if (setgroups(0, NULL) != 0) {
      fail(errno, "cannot drop supplementary groups");
    }
  }
  if (o->uid >= 0 && setuid((uid_t)o->uid) != 0) fail(errno, "cannot setuid(%ld)", o->uid);
  if (o->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(errno, "cannot set no_new_privs");
}

/* Die by SIGKILL when the parent dies, even if it dies by SIGKILL. Credential changes clear this
 * setting, so it must come after them. The parent may already have died before the setting took
 * effect; then nobody would send the signal, so check and leave. Note the signal follows the
 * parent *thread*: the emperor spawns from its main thread, which lives as long as it does. */
static void die_with_parent(pid_t expected) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(errno, "cannot set the parent-death signal");
  if (getppid() != expected) fail(0, "the spawning process %d is gone", (int)expected);
}

/* As systemd hands sockets over (NonBlocking=no): blocking, inheritable, and announced to the
 * process that will hold them. LISTEN_PID is that process's own pid as it sees it, which only the
 * final process can know (in a pid namespace the emperor sees another number). */
static void announce_listen_fds(int n) {
  char value[32];
  for (int fd = 3; fd < 3 + n; fd++) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) fail(errno, "cannot make fd %d blocking", fd);
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl & ~FD_CLOEXEC) < 0) fail(errno, "cannot make fd %d inheritable", fd);
  }
  snprintf(value, sizeof value, "%d", n);
  if (setenv("LISTEN_FDS", value, 1) != 0) fail(errno, "cannot set LISTEN_FDS");
  snprintf(value, sizeof value, "%d", (int)getpid());
  if (setenv("LISTEN_PID", value, 1) != 0) fail(errno, "cannot set LISTEN_PID");
}

/* The helper processes that stay outside PROGRAM (with --pidns) must not keep its sockets. */
static void close_listen_fds(int n) {
  for (int fd = 3; fd < 3 + n; fd++) close(fd);
}

static void run(const struct options *o) {
  if (o->listen_fds > 0) announce_listen_fds(o->listen_fds);
  execvp(o->argv[0], o->argv);
  fprintf(stderr, "emperor-exec: cannot run %s: %s\n", o->argv[0], strerror(errno));
  _exit(EXIT_EXEC);
}

static int read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    got += (size_t)n;
  }
  return 1;
}

static void write_full(int fd, const void *buf, size_t len) {
  ssize_t n;
  do n = write(fd, buf, len); while (n < 0 && errno == EINTR);
}

/* --hold-fd: the go-ahead is one byte; the end of the descriptor (the emperor closed it, or died)
 * means the process is not needed after all. */
static void wait_for_go(int fd) {
  char go;
  ssize_t n;
  do n = read(fd, &go, 1); while (n < 0 && errno == EINTR);
  if (n != 1) _exit(0);
  close(fd);
}

static void ignore_signal(int sig) { (void)sig; }

/* The emperor signals the whole process group, so PROGRAM receives every signal directly. The
 * helper must survive them (and never forward: that would deliver twice). Faults stay fatal so a
 * bug in the helper shows, SIGCHLD is needed, SIGCONT must resume us. A handler rather than
 * SIG_IGN, because ignored dispositions would be inherited through exec. */
static void shield_from_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = ignore_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig = 1; sig < NSIG; sig++) {
    switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGCHLD: case SIGCONT:
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS:
      continue;
    }
    sigaction(sig, &sa, NULL); /* fails harmlessly for the signals libc reserves */
  }
}

/* End this process exactly as PROGRAM ended, so the emperor reports "killed by SIGSEGV" and not
 * "exit 139". PROGRAM already dumped core if it was going to; ours would be a misleading copy. */
static void end_like(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(EXIT_SETUP);
}

/*
 * --pidns: this process H unshares a pid namespace and forks C, pid 1 of it. C forks G, which
 * runs PROGRAM. When G exits, C exits and the kernel kills whatever is left in the namespace,
 * even a grandchild that called setsid() to leave the process group. H stays in the emperor's
 * namespace and ends as G ended; C passes G's status to H through a pipe, since an init process
 * cannot itself die by a signal.
 *
 * Signals: H, C and G share the emperor's process group, so G receives group signals directly.
 * C needs no handlers: as a namespace init the kernel drops every signal it has not caught,
 * except SIGKILL/SIGSTOP from the emperor's namespace; and G inherits C's default dispositions
 * untouched. H keeps default dispositions until C reports that G exists: before that, a signal
 * ends H as it would end a program that had not yet started, and PDEATHSIG takes C along.
 *
 * SIGKILL to the group kills H; C dies with H (PDEATHSIG), and the namespace with C.
 */
static void run_in_pidns(const struct options *o) {
  if (unshare(CLONE_NEWPID) != 0) fail(errno, "cannot create a pid namespace");
  die_with_parent(o->parent);

  int report[2]; /* C -> H: one byte once G exists, then G's wait status */
  if (pipe2(report, O_CLOEXEC) != 0) fail(errno, "cannot create a pipe");
  pid_t c = fork();
  if (c < 0) fail(errno, "cannot fork");

  if (c > 0) { /* H */
    close(report[1]);
    close_listen_fds(o->listen_fds);
    char started;
    int status, c_status;
    if (read_full(report[0], &started, 1)) {
      shield_from_signals();
      if (!read_full(report[0], &status, sizeof status)) status = -1;
    } else {
      status = -1;
    }
    while (waitpid(c, &c_status, 0) < 0) {
      if (errno != EINTR) fail(errno, "cannot wait for the namespace init");
    }
    end_like(status == -1 ? c_status : status); /* C ended without a report: mirror C itself */
  }

  /* C: pid 1. Its parent H is outside the namespace, so getppid() says 0 whether or not H still
   * lives; a write end whose only reader is H tells instead (POLLERR once H is gone). */
  close(report[0]);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(errno, "cannot set the parent-death signal");
  struct pollfd pf = {.fd = report[1], .events = POLLOUT};
  if (poll(&pf, 1, 0) < 0 || (pf.revents & POLLERR)) fail(0, "the helper outside the namespace is gone");

  pid_t g = fork();
  if (g < 0) fail(errno, "cannot fork");
  if (g == 0) { /* G */
    drop_credentials(o);
    die_with_parent(1);
    run(o);
  }
  close_listen_fds(o->listen_fds);
  write_full(report[1], "", 1);
  for (;;) { /* as init: reap every orphan until G itself ends */
    int status;
    pid_t p = waitpid(-1, &status, 0);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) _exit(EXIT_SETUP);
    if (p == g) {
      write_full(report[1], &status, sizeof status);
      _exit(0); /* the kernel now kills the rest of the namespace */
    }
  }
}

int main(int argc, char **argv) {
  /* Before parsing, so even a usage error reaches the one pipe the emperor reads. */
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--merge-stderr") == 0) {
      dup2(1, 2);
      break;
    }
  }
  struct options o;
  parse(argc, argv, &o);
  join_cgroups(&o);
  if (o.hold_fd >= 0) wait_for_go(o.hold_fd);
  if (o.pidns) run_in_pidns(&o);
  drop_credentials(&o);
  die_with_parent(o.parent);
  run(&o);
  return EXIT_EXEC;
}
