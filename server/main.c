/*
 * server/main.c - the vfsmux command: `run`, `check`, --help, --version.
 *
 * run: load the config (a bad one exits 1 before anything is mounted), build
 * the vfs (backends validate their sources), mount, serve in the foreground.
 * SIGINT/SIGTERM detach the mount at once (like umount -l), keep serving
 * files that are still open for a grace period, then end the connection,
 * destroy the backends and exit 0. The process is gone GRACE_SECONDS after
 * the signal whatever its backends do: a thread stuck in a backend call is
 * left behind (exit 1, backends not destroyed) rather than waited for.
 */
#include "config/config.h"
#include "server/log.h"
#include "server/mount.h"
#include "server/session.h"
#include "vfs/fd_budget.h"
#include "vfs/vfs.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/*
 * After SIGTERM the process exits within GRACE_SECONDS (docs/vfsmux.1.md):
 * open files are served for SERVE_SECONDS, then the threads get STOP_SECONDS
 * to finish (session_opts.stop_seconds); the second left is for the exit
 * itself (unmount, freeing the backends).
 */
#define GRACE_SECONDS 10
#define STOP_SECONDS  2
#define SERVE_SECONDS (GRACE_SECONDS - STOP_SECONDS - 1)

static const char usage_text[] =
    "Usage: vfsmux run -c FILE [--mountpoint DIR] [--force] [-v|--debug] [--ready-fd N]\n"
    "       vfsmux check -c FILE\n"
    "       vfsmux --help | --version\n"
    "\n"
    "Compose host directories and in-memory trees under one FUSE mount, as a config\n"
    "file (YAML or JSON) describes.\n"
    "\n"
    "Commands:\n"
    "  run     mount and serve in the foreground until SIGINT/SIGTERM or unmount\n"
    "  check   validate the config and print the namespace it describes\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE     config file (.yaml, .yml or .json; '-' reads stdin)\n"
    "  -m, --mountpoint DIR  mount here instead of the config's `mountpoint`\n"
    "                        (a relative DIR is from the working directory)\n"
    "  -f, --force           lazily unmount a stale mountpoint left by a crashed daemon\n"
    "  -v, --debug           log every request and reply (one line each)\n"
    "  -q, --quiet           log only warnings and errors\n"
    "      --ready-fd N      write \"ok\" (or the error) to fd N once the mount is live\n"
    "  -h, --help            show this help\n"
    "  -V, --version         show the version\n"
    "\n"
    "Exit status: 0 on a clean stop, 1 on a bad config or a failure, 2 on bad usage.\n"
    "See vfsmux(1) in docs/vfsmux.1.md for the config reference.\n";

struct cli {
	const char *cmd;
	bool check; /* cmd is "check", else "run" */
	const char *config;
	const char *mountpoint;
	char mountpoint_abs[PATH_MAX]; /* --mountpoint made absolute, as mount(8) does */
	bool force;
	int ready_fd;
	enum vlog_level level;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vfsmux: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'vfsmux --help'.\n", stderr);
	return 2;
}

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "mountpoint", required_argument, NULL, 'm' },
	{ "force", no_argument, NULL, 'f' },
	{ "debug", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "ready-fd", required_argument, NULL, 'r' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/*
 * A relative --mountpoint is taken from the working directory, as mount(8)
 * and sshfs take it. It is joined, not resolved: a stale mountpoint (which
 * --force must still reach) fails every stat, and realpath(3) with it.
 * Returns 0, or the exit code after a message.
 */
static int mountpoint_arg(struct cli *c, const char *arg)
{
	char cwd[PATH_MAX];
	int n;

	if (arg[0] == '/' || !arg[0]) {
		c->mountpoint = arg; /* an empty one is refused with the mount's own message */
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return usage_error("--mountpoint %s: the working directory: %s", arg,
				   strerror(errno));
	n = snprintf(c->mountpoint_abs, sizeof(c->mountpoint_abs), "%s%s%s", cwd,
		     strcmp(cwd, "/") ? "/" : "", arg);
	if (n < 0 || (size_t)n >= sizeof(c->mountpoint_abs))
		return usage_error("--mountpoint %s: the path is too long", arg);
	c->mountpoint = c->mountpoint_abs;
	return 0;
}

/*
 * Options before and after the command are the same (vfsmux -v run -c F, or
 * vfsmux run -c F -v). Returns -1 to go on, or the exit code.
 */
static int parse_opts(int argc, char **argv, const char *optstring, struct cli *c)
{
	int opt;

	while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		char *end;
		long v;

		switch (opt) {
		case 'c':
			c->config = optarg;
			break;
		case 'm':
			if (mountpoint_arg(c, optarg))
				return 2;
			break;
		case 'f':
			c->force = true;
			break;
		case 'v':
			c->level = VLOG_DEBUG;
			break;
		case 'q':
			c->level = VLOG_WARN;
			break;
		case 'r':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > INT_MAX)
				return usage_error(
				    "--ready-fd wants a file descriptor number, not '%s'", optarg);
			c->ready_fd = (int)v;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("vfsmux %s\n", VFSMUX_VERSION);
			return 0;
		default:
			return usage_error("invalid option");
		}
	}
	return -1;
}

static int parse_cli(int argc, char **argv, struct cli *c)
{
	int rc;

	c->ready_fd = -1;
	c->level = VLOG_INFO;
	/* '+': stop at the command word, whose own options are parsed next. */
	rc = parse_opts(argc, argv, "+c:m:fvqhV", c);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return usage_error("missing command: run or check");
	c->cmd = argv[optind];
	c->check = strcmp(c->cmd, "check") == 0;
	if (!c->check && strcmp(c->cmd, "run") != 0)
		return usage_error("unknown command '%s' (use run or check)", c->cmd);
	argc -= optind;
	argv += optind;
	optind = 1;
	rc = parse_opts(argc, argv, "c:m:fvqhV", c);
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!c->config)
		return usage_error("%s: -c FILE is required", c->cmd);
	return -1; /* go on */
}

/* Tell a --ready-fd waiter why we stop; closes the fd. */
static void ready_fail(struct cli *c, const char *why)
{
	if (c->ready_fd < 0)
		return;
	dprintf(c->ready_fd, "error: %s\n", why);
	close(c->ready_fd);
	c->ready_fd = -1;
}

static int load_config(struct cli *c, struct vfsmux_config **cfg)
{
	struct config_errors errs = { 0 };
	int err = config_load(c->config, cfg, &errs);

	if (err) {
		config_errors_print(&errs, c->config, stderr);
		if (errs.n == 0)
			fprintf(stderr, "vfsmux: %s: %s\n", c->config, strerror(-err));
		ready_fail(c, "invalid config");
		config_errors_fini(&errs);
		return 1;
	}
	config_errors_fini(&errs);
	return 0;
}

static int cmd_check(struct cli *c)
{
	struct vfsmux_config *cfg;

	if (load_config(c, &cfg))
		return 1;
	config_print_tree(cfg, stdout);
	config_free(cfg);
	return 0;
}

/* The signal thread: waits for SIGINT/SIGTERM/SIGHUP, detaches the mount, ends the session. */
struct sigctl {
	sigset_t set;
	struct session *se;
	struct fuse_mount *fm;
	atomic_bool done; /* session_run() returned */
};

/* Nanoseconds from now to *t (CLOCK_MONOTONIC), 0 when past. */
static int64_t ns_until(const struct timespec *t)
{
	struct timespec now;
	int64_t d;

	clock_gettime(CLOCK_MONOTONIC, &now);
	d = (int64_t)(t->tv_sec - now.tv_sec) * 1000000000 + (t->tv_nsec - now.tv_nsec);
	return d > 0 ? d : 0;
}

static void *signal_main(void *arg)
{
	struct sigctl *sc = arg;
	struct timespec deadline = { 0, 0 };
	bool serving = false; /* a signal came; open files are served until deadline */

	while (!atomic_load(&sc->done)) {
		/* Wake at least every 200 ms to see done, and at the deadline. */
		int64_t wait = 200 * 1000000;
		struct timespec poll;
		int sig;

		if (serving && ns_until(&deadline) < wait)
			wait = ns_until(&deadline);
		poll.tv_sec = (time_t)(wait / 1000000000);
		poll.tv_nsec = (long)(wait % 1000000000);
		sig = sigtimedwait(&sc->set, NULL, &poll);
		if (serving && ns_until(&deadline) == 0) {
			vlog(VLOG_WARN, "grace period over: closing files still open");
			session_stop(sc->se);
			serving = false;
		}
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			vlog(VLOG_WARN, "SIGHUP ignored: this vfsmux reads its config once, at "
					"start (no reload)");
			continue;
		}
		if (serving || session_stopping(sc->se)) {
			/* A second signal: stop waiting for open files. */
			session_stop(sc->se);
			serving = false;
			continue;
		}
		/* Taken before the unmount, so that nothing it does eats into the grace. */
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += SERVE_SECONDS;
		serving = true;
		vlog(VLOG_INFO, "%s: unmounting %s", strsignal(sig), sc->fm->mountpoint);
		fuse_unmount(sc->fm); /* it logs why when it leaves a mount in place */
		/* Once the last open file closes, the kernel ends the connection by itself. */
	}
	return NULL;
}

static int cmd_run(struct cli *c)
{
	struct vfsmux_config *cfg = NULL;
	struct vfs *vfs = NULL;
	struct session *se = NULL;
	struct sigctl sc;
	pthread_t sigthread;
	struct fuse_mount_opts mo = { 0 };
	struct fuse_mount fm = { 0 };
	struct session_opts so = { 0 };
	char why[512] = "";
	int fd = -1, err, rc = 1;

	if (load_config(c, &cfg))
		return 1;
	mo.mountpoint = c->mountpoint ? c->mountpoint : cfg->mountpoint;
	if (!mo.mountpoint) {
		fprintf(stderr,
			"vfsmux: no mountpoint: set `mountpoint` in %s or pass "
			"--mountpoint DIR\n",
			c->config);
		ready_fail(c, "no mountpoint");
		goto out;
	}
	/*
	 * A create request's mode has the caller's umask applied by the kernel
	 * already, or (FUSE_DONT_MASK, with POSIX ACLs) the backend applies the
	 * caller's umask itself, passthrough as a per-thread umask around the
	 * create; either way our own umask must not mask it a second time on a
	 * passthrough source (pjdfstest chmod/12: a file created 04777 by a
	 * caller with umask 0 came out 04755).
	 */
	umask(0);
	/* One fd budget for the whole daemon, sized before any mount takes an fd. */
	fd_budget_init();
	/* Validated so that configs written for a version with it stay valid; said
	 * aloud, because a key that silently does nothing surprises. */
	if (cfg->control_socket)
		vlog(VLOG_WARN,
		     "control_socket %s: this vfsmux has no control socket; the key is ignored",
		     cfg->control_socket);
	err = vfs_create(cfg, &vfs, why, sizeof(why));
	if (err) {
		fprintf(stderr, "vfsmux: %s: %s\n", c->config, why[0] ? why : strerror(-err));
		ready_fail(c, why[0] ? why : strerror(-err));
		goto out;
	}

	/* Signals go to the signal thread only; every thread started later inherits this. */
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	signal(SIGPIPE, SIG_IGN);

	mo.fsname = cfg->fuse.fsname;
	mo.allow_other = cfg->fuse.allow_other;
	mo.default_permissions = cfg->fuse.default_permissions;
	mo.suid = cfg->fuse.suid;
	mo.dev = cfg->fuse.dev;
	mo.force = c->force;
	fd = fuse_mount(&mo, &fm, why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, "vfsmux: %s\n", why);
		ready_fail(c, why);
		goto out;
	}
	vlog(VLOG_INFO, "mounted %s (%s), %zu backend mount%s", mo.mountpoint, fm.how, cfg->nmounts,
	     cfg->nmounts == 1 ? "" : "s");

	so.threads = cfg->fuse.threads;
	so.max_threads = cfg->fuse.max_threads;
	so.max_write = cfg->fuse.max_write;
	so.writeback_cache = cfg->fuse.writeback_cache;
	so.passthrough = cfg->fuse.passthrough;
	so.io_uring = cfg->fuse.io_uring;
	so.stop_seconds = STOP_SECONDS;
	so.posix_acl = cfg->fuse.default_permissions;
	so.ready_fd = c->ready_fd;
	so.mountpoint = mo.mountpoint;
	err = session_create(vfs, fd, &so, &se);
	if (err) {
		fprintf(stderr, "vfsmux: %s\n", strerror(-err));
		ready_fail(c, strerror(-err));
		fuse_unmount(&fm);
		goto out;
	}
	c->ready_fd = -1; /* the session answers it after INIT */

	sc.se = se;
	sc.fm = &fm;
	atomic_init(&sc.done, false);
	err = pthread_create(&sigthread, NULL, signal_main, &sc);
	if (err) {
		fprintf(stderr, "vfsmux: cannot start the signal thread: %s\n", strerror(err));
		fuse_unmount(&fm);
		goto out;
	}
	err = session_run(se);
	atomic_store(&sc.done, true);
	pthread_join(sigthread, NULL);
	/*
	 * Ended by an error or by someone else's umount: make sure our mount does
	 * not stay (a no-op when the signal thread detached it already).
	 */
	fuse_unmount(&fm);
	if (err == -ETIMEDOUT) {
		/*
		 * Threads are still inside backend calls that did not return in
		 * time: the backends, the vfs and the session are theirs until the
		 * process ends, so end it now without freeing anything (no atexit
		 * work either: it could touch what they use).
		 */
		fprintf(stderr, "vfsmux: stopped with threads still inside backend calls; "
				"exiting without destroying the backends\n");
		_exit(1);
	}
	if (err)
		fprintf(stderr, "vfsmux: session ended: %s\n", strerror(-err));
	else
		rc = 0;
	vlog(VLOG_INFO, "stopped");
out:
	session_destroy(se);
	if (fd >= 0)
		close(fd);
	vfs_destroy(vfs);
	config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	int rc = parse_cli(argc, argv, &c);

	if (rc >= 0)
		return rc;
	vlog_set_level(c.level);
	if (c.check)
		return cmd_check(&c);
	return cmd_run(&c);
}
