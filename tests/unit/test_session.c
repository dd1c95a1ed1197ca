/*
 * tests/unit/test_session.c - the request loops of server/session.c and
 * server/uring.c on a real FUSE mount served by this process (root only,
 * skipped otherwise): a thread a backend spoiled (vfs/backend.h) answers its
 * request, serves no other, and another thread takes its place. The spoiling
 * is a passthrough credential restore made to fail (pt_debug_fail_cred_restores).
 */
#include "backends/passthrough/passthrough.h"
#include "config/config.h"
#include "server/log.h"
#include "server/mount.h"
#include "server/session.h"
#include "server/session_int.h"
#include "testlib.h"
#include "vfs/vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define URING_PARAM "/sys/module/fuse/parameters/enable_uring"

static char *tmp, src[512], mnt[512];
static struct vfsmux_config *cfg;
static struct vfs *vfs;
static struct session *se;
static pthread_t runner;
static int fuse_fd = -1;
static struct fuse_mount fmount; /* what fuse_mount() mounted, for fuse_unmount() */
static bool running;

/* What the log said about the last spoiled thread (set from that thread). */
static atomic_int spoiled_tid;
static atomic_bool spoiled_pinned; /* it could run on one CPU only: a ring thread */

static void sink(enum vlog_level lvl, const char *msg, void *data)
{
	int tid;

	(void)data;
	if (lvl == VLOG_ERR && sscanf(msg, "thread %d:", &tid) == 1 &&
	    strstr(msg, "serves no more requests")) {
		cpu_set_t set;

		CPU_ZERO(&set);
		sched_getaffinity(0, sizeof(set), &set);
		atomic_store(&spoiled_pinned, CPU_COUNT(&set) == 1);
		atomic_store(&spoiled_tid, tid);
	}
}

static void *run_main(void *arg)
{
	(void)arg;
	session_run(se);
	return NULL;
}

/* Mount a passthrough of src at mnt, served by a session in this process. */
static void serve(bool io_uring)
{
	struct fuse_mount_opts mo = { .mountpoint = mnt,
				      .allow_other = true,
				      .default_permissions = true };
	struct session_opts so = { .threads = 1, .max_threads = 1, .max_write = 131072 };
	struct config_errors errs = { 0 };
	char text[1024], err[512], ok[8] = "";
	int ready[2];

	snprintf(text, sizeof(text),
		 "fuse: {allow_other: true, io_uring: %s}\n"
		 "mounts: [{path: /p, type: passthrough, source: %s}]\n",
		 io_uring ? "true" : "false", src);
	ck_assert_int_eq(config_load_buffer("s.yaml", text, strlen(text), &cfg, &errs), 0);
	config_errors_fini(&errs);
	ck_assert_int_eq(vfs_create(cfg, &vfs, err, sizeof(err)), 0);
	fuse_fd = fuse_mount(&mo, &fmount, err, sizeof(err));
	ck_assert_msg(fuse_fd >= 0, "fuse_mount: %s", err);
	ck_assert_int_eq(pipe(ready), 0);
	so.io_uring = io_uring;
	so.ready_fd = ready[1];
	ck_assert_int_eq(session_create(vfs, fuse_fd, &so, &se), 0);
	ck_assert_int_eq(pthread_create(&runner, NULL, run_main, NULL), 0);
	running = true;
	/* The kernel sends INIT at once; the session writes "ok" once it answered. */
	ck_assert_int_gt(read(ready[0], ok, sizeof(ok) - 1), 0);
	ck_assert_str_eq(ok, "ok\n");
	close(ready[0]);
}

static void setup(void)
{
	/*
	 * A mount namespace of this test process's own: a test that fails (and so
	 * skips teardown) takes its mount with it instead of leaving a dead one.
	 * Before any thread starts (unshare refuses a threaded process).
	 */
	if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0)
		ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	tmp = testlib_tmpdir();
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(mnt, sizeof(mnt), "%s/mnt", tmp);
	ck_assert_int_eq(mkdir(src, 0777), 0);
	ck_assert_int_eq(chmod(src, 0777), 0);
	ck_assert_int_eq(chmod(tmp, 0755), 0); /* uid 1000 walks to the mount */
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	atomic_store(&spoiled_tid, 0);
	vlog_set_sink(sink, NULL);
}

static void teardown(void)
{
	pt_debug_fail_cred_restores(0);
	if (running) {
		fuse_unmount(&fmount);
		session_stop(se);
		pthread_join(runner, NULL);
		running = false;
	}
	session_destroy(se);
	se = NULL;
	if (fuse_fd >= 0)
		close(fuse_fd);
	fuse_fd = -1;
	vfs_destroy(vfs);
	vfs = NULL;
	config_free(cfg);
	cfg = NULL;
	vlog_set_sink(NULL, NULL);
	testlib_rmtree(tmp);
	free(tmp);
}

/*
 * In a child pinned to cpu (so its requests go to that CPU's ring queue) and
 * running as uid 1000: mkdir mnt/p/name, then stat it. 0 if both worked; the
 * alarm turns a request no thread ever answers into a failure.
 */
static int as_user_on_cpu(int cpu, const char *name)
{
	char path[600];
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "%s/p/%s", mnt, name);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		cpu_set_t set;
		struct stat st;

		alarm(30);
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0 || setgroups(0, NULL) < 0 ||
		    setgid(1000) < 0 || setuid(1000) < 0)
			_exit(3);
		if (mkdir(path, 0755) < 0)
			_exit(1);
		_exit(stat(path, &st) == 0 && st.st_uid == 1000 ? 0 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The thread tid has ended (it is gone from /proc once it exits, joined or not). */
static bool thread_gone(int tid)
{
	char path[64];
	struct timespec ts = { 0, 10 * 1000000 };

	snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
	for (int i = 0; i < 1000; i++) { /* up to 10 s: on a loaded machine, not a race */
		if (access(path, F_OK) < 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static bool can_mount(void)
{
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "test_session: needs root and /dev/fuse; skipped\n");
		return false;
	}
	return true;
}

START_TEST(dev_fuse_worker_with_spoiled_credentials_is_retired_and_replaced)
{
	int tid;

	if (!can_mount())
		return;
	serve(false);
	ck_assert_int_eq(as_user_on_cpu(0, "warm"), 0);
	pt_debug_fail_cred_restores(1);
	/* The spoiled worker still answers the request it holds... */
	ck_assert_int_eq(as_user_on_cpu(0, "spoil"), 0);
	tid = atomic_load(&spoiled_tid);
	ck_assert_int_ne(tid, 0);
	/* ...then leaves (it was the only worker: max_threads 1)... */
	ck_assert_msg(thread_gone(tid), "spoiled worker %d still runs", tid);
	/* ...and a new one serves what comes next. */
	ck_assert_int_eq(as_user_on_cpu(0, "after"), 0);
	ck_assert_int_eq(as_user_on_cpu(0, "after2"), 0);
}
END_TEST

START_TEST(ring_thread_with_spoiled_credentials_hands_its_entry_over)
{
	char orig[8] = "";
	bool ring = false;
	FILE *f;
	int tid = 0;

	if (!can_mount())
		return;
	f = fopen(URING_PARAM, "r+");
	if (!f || !fgets(orig, sizeof(orig), f)) {
		fprintf(stderr, "test_session: no %s; ring case skipped\n", URING_PARAM);
		if (f)
			fclose(f);
		return;
	}
	rewind(f);
	fputs("Y", f);
	fclose(f);
	serve(true);
	/* The module parameter is read at INIT only: put back what was there. */
	f = fopen(URING_PARAM, "w");
	if (f) {
		fputs(orig, f);
		fclose(f);
	}
	if (!se->uring) {
		fprintf(stderr, "test_session: io_uring not agreed at INIT; ring case skipped\n");
		return;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr,
			"test_session: one CPU: ring and worker threads look alike; skipped\n");
		return;
	}
	/*
	 * Requests go by /dev/fuse until every queue has an entry: spoil until a
	 * ring thread takes one (a spoiled worker is replaced on the way).
	 */
	for (int i = 0; i < 50 && !ring; i++) {
		char name[32];

		snprintf(name, sizeof(name), "spoil%d", i);
		pt_debug_fail_cred_restores(1);
		ck_assert_int_eq(as_user_on_cpu(0, name), 0); /* its reply came */
		tid = atomic_load(&spoiled_tid);
		ck_assert_int_ne(tid, 0);
		ring = atomic_load(&spoiled_pinned);
		ck_assert_msg(thread_gone(tid), "spoiled thread %d still runs", tid);
	}
	ck_assert_msg(ring, "no request reached a ring thread");
	/* CPU 0's queue still has a thread: its callers are answered. */
	for (int i = 0; i < 20; i++) {
		char name[32];

		snprintf(name, sizeof(name), "after%d", i);
		ck_assert_int_eq(as_user_on_cpu(0, name), 0);
	}
	ck_assert_int_eq(as_user_on_cpu(1, "other_cpu"), 0);
}
END_TEST

static Suite *session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("spoiled");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, dev_fuse_worker_with_spoiled_credentials_is_retired_and_replaced);
	tcase_add_test(tc, ring_thread_with_spoiled_credentials_hands_its_entry_over);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(session_suite());
}
