/*
 * tests/unit/test_mount.c - server/mount.c against the real kernel.
 *
 * Mounting needs root and /dev/fuse; without them those tests return early
 * with a note. Nothing may hang: every read of the FUSE fd is behind poll()
 * with a timeout and every child that touches the mount runs under alarm().
 * Nothing may stay mounted: each test mounts under one directory that the
 * unchecked (parent-side) teardown sweeps with lazy unmounts, because Check
 * does not run a checked teardown after a failed assertion in fork mode.
 */
#include "server/fuse_kernel.h"
#include "server/log.h"
#include "server/mount.h"
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534
/* Bounds that only fail a test whose mount hangs: generous, since a loaded
 * machine is slow but never this slow (Check's own limit, CK_DEFAULT_TIMEOUT in
 * meson.build, is above CHILD_ALARM * 3). */
#define WAIT_MS	    60000
#define CHILD_ALARM 60

static char *base; /* per suite run, 0755 so an unprivileged child can reach below it */
static char mnt[512];
static uint8_t reqbuf[(1 << 20) + 4096]; /* >= max_write + headers, as the kernel wants */

/* ---- mountinfo ---- */

struct mi_entry {
	char fstype[64];
	char source[256];
	char mnt_opts[256];
	char super_opts[512];
};

/* Number of mounts stacked at path; the topmost one (listed last) into *e. */
static int mi_find(const char *path, struct mi_entry *e)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *save, *tok;
	size_t cap = 0;
	int count = 0;

	ck_assert_ptr_nonnull(f);
	while (getline(&line, &cap, f) > 0) {
		char *fields[6];
		int i;

		line[strcspn(line, "\n")] = '\0';
		tok = strtok_r(line, " ", &save);
		for (i = 0; i < 6 && tok; i++) {
			fields[i] = tok;
			tok = i < 5 ? strtok_r(NULL, " ", &save) : NULL;
		}
		if (i < 6 || strcmp(fields[4], path) != 0)
			continue;
		while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-") != 0)
			; /* optional fields (shared:N ...) */
		count++;
		if (!e)
			continue;
		snprintf(e->mnt_opts, sizeof(e->mnt_opts), "%s", fields[5]);
		tok = strtok_r(NULL, " ", &save);
		snprintf(e->fstype, sizeof(e->fstype), "%s", tok ? tok : "");
		tok = tok ? strtok_r(NULL, " ", &save) : NULL;
		snprintf(e->source, sizeof(e->source), "%s", tok ? tok : "");
		tok = tok ? strtok_r(NULL, " ", &save) : NULL;
		snprintf(e->super_opts, sizeof(e->super_opts), "%s", tok ? tok : "");
	}
	free(line);
	fclose(f);
	return count;
}

/* opt is one of the comma-separated options in opts. */
static bool has_opt(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = opts; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Lazily unmount everything at or below dir (repeat: mounts can be stacked). */
static void sweep_mounts(const char *dir)
{
	size_t n = strlen(dir);

	for (int pass = 0; pass < 32; pass++) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		char *line = NULL;
		size_t cap = 0;
		int found = 0;

		if (!f)
			return;
		while (getline(&line, &cap, f) > 0) {
			char point[512];

			if (sscanf(line, "%*s %*s %*s %*s %511s", point) != 1)
				continue;
			if (strncmp(point, dir, n) == 0 && (point[n] == '/' || point[n] == '\0')) {
				umount2(point, MNT_DETACH);
				found++;
			}
		}
		free(line);
		fclose(f);
		if (!found)
			return;
	}
}

/* ---- fixtures ---- */

static void suite_setup(void)
{
	base = testlib_tmpdir();
	chmod(base, 0755);
}

static void suite_teardown(void)
{
	sweep_mounts(base);
	testlib_rmtree(base);
	free(base);
	base = NULL;
}

static void test_setup(void)
{
	snprintf(mnt, sizeof(mnt), "%s/mnt.%d", base, (int)getpid());
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
}

static void test_teardown(void)
{
	sweep_mounts(mnt);
	rmdir(mnt);
}

static mode_t st_mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_mode : 0;
}

static bool can_mount(const char *test)
{
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
		fprintf(stderr, "%s: skipped (needs root and /dev/fuse)\n", test);
		return false;
	}
	return true;
}

#define SKIP_UNLESS_MOUNTABLE()                                                                    \
	do {                                                                                       \
		if (!can_mount(__func__))                                                          \
			return;                                                                    \
	} while (0)

/* ---- a minimal FUSE server ---- */

/* One request into reqbuf; its length, 0 on timeout, -errno on error. */
static ssize_t read_req(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	r = poll(&p, 1, WAIT_MS);
	if (r <= 0)
		return r < 0 ? -errno : 0;
	n = read(fd, reqbuf, sizeof(reqbuf));
	return n < 0 ? -errno : n;
}

static void reply(int fd, uint64_t unique, int error, const void *arg, size_t len)
{
	struct {
		struct fuse_out_header h;
		uint8_t arg[256];
	} out;

	ck_assert_uint_le(len, sizeof(out.arg));
	out.h.len = (uint32_t)(sizeof(out.h) + len);
	out.h.error = error;
	out.h.unique = unique;
	if (len)
		memcpy(out.arg, arg, len);
	ck_assert_int_eq(write(fd, &out, out.h.len), (ssize_t)out.h.len);
}

/* Read FUSE_INIT (checking it) and answer it with a minimal 7.x reply. */
static void serve_init(int fd)
{
	const struct fuse_in_header *h = (const void *)reqbuf;
	const struct fuse_init_in *in = (const void *)(h + 1);
	struct fuse_init_out out = { 0 };
	ssize_t n = read_req(fd);

	ck_assert_msg(n > 0, "no FUSE_INIT within %d ms (%zd)", WAIT_MS, n);
	ck_assert_uint_ge((size_t)n, sizeof(*h) + sizeof(*in) - sizeof(in->unused));
	ck_assert_uint_eq(h->len, (size_t)n);
	ck_assert_uint_eq(h->opcode, FUSE_INIT);
	ck_assert_uint_eq(in->major, 7);
	out.major = FUSE_KERNEL_VERSION;
	out.minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
	out.max_readahead = in->max_readahead;
	out.max_write = 4096;
	reply(fd, h->unique, 0, &out, sizeof(out));
}

/*
 * In a child, stat the mountpoint: the kernel asks us GETATTR for the root,
 * and we answer a 0755 directory. Checks the answer reached the child.
 */
static void serve_root_stat(int fd)
{
	const struct fuse_in_header *h = (const void *)reqbuf;
	bool answered = false;
	int status;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct stat st;

		alarm(CHILD_ALARM);
		if (stat(mnt, &st) != 0)
			_exit(2);
		_exit(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_ino == 1 &&
			      st.st_nlink == 2
			  ? 0
			  : 3);
	}
	while (!answered) {
		ssize_t n = read_req(fd);

		if (n <= 0)
			break;
		if (h->opcode == FUSE_GETATTR && h->nodeid == FUSE_ROOT_ID) {
			struct fuse_attr_out out = { 0 };

			out.attr.ino = FUSE_ROOT_ID;
			out.attr.mode = S_IFDIR | 0755;
			out.attr.nlink = 2;
			reply(fd, h->unique, 0, &out, sizeof(out));
			answered = true;
		} else if (h->opcode != FUSE_FORGET && h->opcode != FUSE_BATCH_FORGET) {
			reply(fd, h->unique, -ENOSYS, NULL, 0);
		}
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(answered, "the kernel sent no GETATTR for the root");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "stat in the child: status %#x (2: stat failed, 3: wrong attributes)",
		      status);
}

/* stat the mountpoint while the child server answers: a 0755 directory. */
static void serve_root_stat_by(pid_t server)
{
	int status;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct stat st;

		alarm(CHILD_ALARM);
		_exit(stat(mnt, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755
			  ? 0
			  : 2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stat: status %#x", status);
	ck_assert_int_eq(waitpid(server, &status, WNOHANG), 0); /* still serving */
}

/* ---- captured log ---- */

static char logged[1024];

static void capture_sink(enum vlog_level lvl, const char *msg, void *data)
{
	(void)data;
	if (lvl == VLOG_WARN)
		snprintf(logged, sizeof(logged), "%s", msg);
}

/* ---- tests ---- */

static const enum fuse_mount_method methods[] = { FUSE_MOUNT_FSMOUNT, FUSE_MOUNT_LEGACY,
						  FUSE_MOUNT_FUSERMOUNT, FUSE_MOUNT_AUTO };
static const char *const method_how[] = { "fsmount", "mount", "fusermount3", "fsmount" };

START_TEST(mount_serves_requests_and_unmounts)
{
	struct fuse_mount_opts o = { .mountpoint = mnt, .fsname = "vfsmux-test" };
	struct fuse_mount m;
	struct mi_entry e;
	char err[512];
	int fd;

	SKIP_UNLESS_MOUNTABLE();
	o.method = methods[_i];
	fd = fuse_mount(&o, &m, err, sizeof(err));
	ck_assert_msg(fd >= 0, "fuse_mount: %d %s", fd, err);
	ck_assert_str_eq(m.how, method_how[_i]);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	ck_assert_int_eq(mi_find(mnt, &e), 1);
	ck_assert_str_eq(e.fstype, "fuse.vfsmux");
	ck_assert_str_eq(e.source, "vfsmux-test");
	ck_assert_msg(has_opt(e.mnt_opts, "nosuid") && has_opt(e.mnt_opts, "nodev"), "%s",
		      e.mnt_opts);
	ck_assert_msg(has_opt(e.super_opts, "user_id=0") && has_opt(e.super_opts, "group_id=0"),
		      "%s", e.super_opts);
	ck_assert_msg(!has_opt(e.super_opts, "allow_other"), "%s", e.super_opts);
	ck_assert_msg(!has_opt(e.super_opts, "default_permissions"), "%s", e.super_opts);

	serve_init(fd);
	serve_root_stat(fd);

	ck_assert_int_eq(fuse_unmount(&m), 0);
	ck_assert_int_eq(mi_find(mnt, NULL), 0);
	ck_assert_int_eq(fuse_unmount(&m), 0); /* once only: the second is a no-op */
	close(fd);
}
END_TEST

START_TEST(mount_options_reach_the_kernel)
{
	struct fuse_mount_opts o = { .mountpoint = mnt,
				     .allow_other = true,
				     .default_permissions = true,
				     .suid = true,
				     .dev = true,
				     .max_read = 65536 };
	struct fuse_mount m;
	struct mi_entry e;
	char err[512];
	int fd;

	SKIP_UNLESS_MOUNTABLE();
	o.method = methods[_i];
	fd = fuse_mount(&o, &m, err, sizeof(err));
	ck_assert_msg(fd >= 0, "fuse_mount: %d %s", fd, err);
	ck_assert_str_eq(m.how, method_how[_i]);
	ck_assert_int_eq(mi_find(mnt, &e), 1);
	ck_assert_str_eq(e.source, "vfsmux"); /* the default fsname */
	ck_assert_msg(!has_opt(e.mnt_opts, "nosuid") && !has_opt(e.mnt_opts, "nodev"), "%s",
		      e.mnt_opts);
	ck_assert_msg(has_opt(e.super_opts, "allow_other"), "%s", e.super_opts);
	ck_assert_msg(has_opt(e.super_opts, "default_permissions"), "%s", e.super_opts);
	ck_assert_msg(has_opt(e.super_opts, "max_read=65536"), "%s", e.super_opts);
	ck_assert_int_eq(fuse_unmount(&m), 0);
	ck_assert_int_eq(mi_find(mnt, NULL), 0);
	close(fd);
}
END_TEST

START_TEST(fsname_with_comma_survives_fusermount3)
{
	struct fuse_mount_opts o = { .mountpoint = mnt,
				     .fsname = "a,b\\c",
				     .method = FUSE_MOUNT_FUSERMOUNT };
	struct fuse_mount m;
	struct mi_entry e;
	char err[512];
	int fd;

	SKIP_UNLESS_MOUNTABLE();
	fd = fuse_mount(&o, &m, err, sizeof(err));
	ck_assert_msg(fd >= 0, "fuse_mount: %d %s", fd, err);
	ck_assert_int_eq(mi_find(mnt, &e), 1);
	ck_assert_str_eq(e.source, "a,b\\134c"); /* mountinfo octal-escapes the backslash */
	ck_assert_int_eq(fuse_unmount(&m), 0);
	close(fd);
}
END_TEST

START_TEST(missing_mountpoint_is_enoent)
{
	struct fuse_mount_opts o = { .mountpoint = "/nonexistent/vfsmux-test" };
	char err[512];

	ck_assert_int_eq(fuse_mount(&o, NULL, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "mountpoint /nonexistent/vfsmux-test does not exist");
}
END_TEST

START_TEST(file_mountpoint_is_enotdir)
{
	char path[600], err[512];
	struct fuse_mount_opts o = { .mountpoint = path };

	snprintf(path, sizeof(path), "%s/file", mnt);
	testlib_write_file(path, "x", 1);
	ck_assert_int_eq(fuse_mount(&o, NULL, err, sizeof(err)), -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(err, "is not a directory"));
	ck_assert_int_eq(mi_find(path, NULL), 0);
	unlink(path);
}
END_TEST

START_TEST(relative_or_missing_mountpoint_is_einval)
{
	struct fuse_mount_opts o = { .mountpoint = "relative/dir" };
	char err[512];

	ck_assert_int_eq(fuse_mount(&o, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not an absolute path"));
	o.mountpoint = NULL;
	ck_assert_int_eq(fuse_mount(&o, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(fuse_mount(NULL, NULL, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(stale_mountpoint_needs_force)
{
	struct fuse_mount_opts o = { .mountpoint = mnt };
	struct fuse_mount m;
	char err[512], want[1200];
	struct stat st;
	int fd;

	SKIP_UNLESS_MOUNTABLE();
	fd = fuse_mount(&o, NULL, err, sizeof(err));
	ck_assert_msg(fd >= 0, "fuse_mount: %d %s", fd, err);
	close(fd); /* the daemon "dies": the kernel aborts the connection */
	ck_assert_int_eq(stat(mnt, &st), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	ck_assert(fuse_mount_is_stale(mnt));

	ck_assert_int_eq(fuse_mount(&o, NULL, err, sizeof(err)), -ENOTCONN);
	snprintf(want, sizeof(want),
		 "mountpoint %s is stale (Transport endpoint is not connected): a previous "
		 "vfsmux died there; run 'umount -l %s' or start with --force",
		 mnt, mnt);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(mi_find(mnt, NULL), 1); /* refused: nothing changed */

	o.force = true;
	logged[0] = '\0';
	vlog_set_sink(capture_sink, NULL);
	fd = fuse_mount(&o, &m, err, sizeof(err));
	vlog_set_sink(NULL, NULL);
	ck_assert_msg(fd >= 0, "fuse_mount --force: %d %s", fd, err);
	ck_assert_ptr_nonnull(strstr(logged, "stale"));
	ck_assert_ptr_nonnull(strstr(logged, mnt));
	ck_assert_int_eq(mi_find(mnt, NULL), 1); /* the dead mount replaced, not stacked */
	serve_init(fd);				 /* and the new one is alive */
	serve_root_stat(fd);
	ck_assert_int_eq(fuse_unmount(&m), 0);
	ck_assert_int_eq(mi_find(mnt, NULL), 0);
	ck_assert(!fuse_mount_is_stale(mnt)); /* the plain directory again */
	close(fd);
}
END_TEST

START_TEST(unmount_of_non_mount_succeeds)
{
	struct fuse_mount m = { 0 };

	/* A record of no mount (as fuse_mount() leaves one it could not identify). */
	snprintf(m.mountpoint, sizeof(m.mountpoint), "%s", mnt);
	ck_assert_int_eq(fuse_unmount(&m), 0);
	ck_assert_int_eq(fuse_unmount(NULL), -EINVAL);
}
END_TEST

/*
 * In a child: serve the mount on fd until it goes away - INIT, GETATTR of the
 * root, STATFS; ENOSYS to the rest. A daemon that answers. Its pid.
 */
static pid_t serve_in_child(int fd)
{
	const struct fuse_in_header *h = (const void *)reqbuf;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	alarm(CHILD_ALARM * 6);
	for (;;) {
		ssize_t n = read(fd, reqbuf, sizeof(reqbuf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* ENODEV: unmounted */
		if (h->opcode == FUSE_INIT) {
			const struct fuse_init_in *in = (const void *)(h + 1);
			struct fuse_init_out out = { .major = FUSE_KERNEL_VERSION };

			out.minor = in->minor < FUSE_KERNEL_MINOR_VERSION
					? in->minor
					: FUSE_KERNEL_MINOR_VERSION;
			out.max_readahead = in->max_readahead;
			out.max_write = 4096;
			reply(fd, h->unique, 0, &out, sizeof(out));
		} else if (h->opcode == FUSE_GETATTR && h->nodeid == FUSE_ROOT_ID) {
			struct fuse_attr_out out = { 0 };

			out.attr.ino = FUSE_ROOT_ID;
			out.attr.mode = S_IFDIR | 0755;
			out.attr.nlink = 2;
			reply(fd, h->unique, 0, &out, sizeof(out));
		} else if (h->opcode == FUSE_STATFS) {
			struct fuse_statfs_out out = { .st = { .bsize = 4096, .namelen = 255 } };

			reply(fd, h->unique, 0, &out, sizeof(out));
		} else if (h->opcode != FUSE_FORGET && h->opcode != FUSE_BATCH_FORGET) {
			reply(fd, h->unique, -ENOSYS, NULL, 0);
		}
	}
}

static void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Something is mounted on path (asked without a FUSE request). */
static bool is_mount_root(const char *path)
{
	struct statx sx;

	ck_assert_int_eq(statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, 0, &sx), 0);
	return sx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
}

/* A second FUSE mount on mnt by mount(2) directly, as another daemon would; its fd. */
static int raw_fuse_mount(const char *fstype, const char *source)
{
	char data[128];
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	snprintf(data, sizeof(data), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	ck_assert_msg(mount(source, mnt, fstype, 0, data) == 0, "mount %s: %s", fstype,
		      strerror(errno));
	return fd;
}

START_TEST(live_fuse_mountpoint_is_refused_even_with_force)
{
	struct fuse_mount_opts first = { .mountpoint = mnt, .fsname = "the first one" };
	struct fuse_mount_opts o = { .mountpoint = mnt, .force = (_i == 1) };
	struct fuse_mount m1;
	struct mi_entry e;
	char err[512];
	int fd1, fd;
	pid_t server;

	SKIP_UNLESS_MOUNTABLE();
	fd1 = fuse_mount(&first, &m1, err, sizeof(err));
	ck_assert_msg(fd1 >= 0, "fuse_mount: %d %s", fd1, err);
	server = serve_in_child(fd1);
	serve_root_stat_by(server);

	fd = fuse_mount(&o, NULL, err, sizeof(err));
	ck_assert_int_eq(fd, -EBUSY);
	ck_assert_msg(strstr(err, mnt) && strstr(err, "live FUSE filesystem") &&
			  strstr(err, "fuse.vfsmux") && strstr(err, "'the first one'") &&
			  !strstr(err, "did not answer"),
		      "%s", err);
	ck_assert(!fuse_mount_is_stale(mnt));
	ck_assert_int_eq(mi_find(mnt, &e), 1); /* nothing stacked, nothing removed */
	ck_assert_str_eq(e.source, "the\\040first\\040one");
	serve_root_stat_by(server); /* and the first one still serves */

	ck_assert_int_eq(fuse_unmount(&m1), 0);
	ck_assert_int_eq(mi_find(mnt, NULL), 0);
	stop_child(server);
	close(fd1);
}
END_TEST

/* A mountpoint named with a space and a backslash: mountinfo escapes both. */
START_TEST(live_mount_on_an_odd_name_is_refused_by_name)
{
	char dir[600], err[1024];
	struct fuse_mount_opts first = { .mountpoint = dir, .fsname = "odd\\ source" };
	struct fuse_mount_opts o = { .mountpoint = dir };
	struct fuse_mount m1;
	int fd1;
	pid_t server;

	SKIP_UNLESS_MOUNTABLE();
	snprintf(dir, sizeof(dir), "%s/a b\\c", mnt);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	fd1 = fuse_mount(&first, &m1, err, sizeof(err));
	ck_assert_msg(fd1 >= 0, "fuse_mount: %d %s", fd1, err);
	server = serve_in_child(fd1);
	ck_assert_int_eq(fuse_mount(&o, NULL, err, sizeof(err)), -EBUSY);
	ck_assert_msg(strstr(err, dir) && strstr(err, "source 'odd\\ source'"), "%s", err);
	ck_assert(is_mount_root(dir));
	ck_assert_int_eq(fuse_unmount(&m1), 0);
	ck_assert(!is_mount_root(dir));
	stop_child(server);
	close(fd1);
}
END_TEST

/* A daemon that never answers (not even INIT): live, and the check does not hang. */
START_TEST(hung_fuse_mountpoint_is_refused_without_hanging)
{
	struct fuse_mount_opts o = { .mountpoint = mnt, .force = true };
	char err[512];
	int fd1;

	SKIP_UNLESS_MOUNTABLE();
	fd1 = raw_fuse_mount("fuse.hung", "nobody-answers");
	ck_assert_int_eq(fuse_mount(&o, NULL, err, sizeof(err)), -EBUSY);
	ck_assert_msg(strstr(err, "live FUSE filesystem") && strstr(err, "fuse.hung") &&
			  strstr(err, "did not answer within"),
		      "%s", err);
	ck_assert_int_eq(mi_find(mnt, NULL), 1);
	umount2(mnt, MNT_DETACH);
	close(fd1);
}
END_TEST

static const char *const stack_types[] = { "tmpfs", "fuse.other" };

/*
 * Someone mounts over our mountpoint (a tmpfs, another FUSE) while we run:
 * at stop we touch neither that mount nor, beneath it, ours, and say so.
 */
START_TEST(unmount_leaves_a_mount_stacked_on_ours)
{
	struct fuse_mount_opts o = { .mountpoint = mnt };
	struct fuse_mount m;
	struct mi_entry e;
	char err[512];
	int fd, top = -1;

	SKIP_UNLESS_MOUNTABLE();
	o.method = methods[_i / 2];
	fd = fuse_mount(&o, &m, err, sizeof(err));
	ck_assert_msg(fd >= 0, "fuse_mount: %d %s", fd, err);
	if (_i % 2 == 0)
		ck_assert_int_eq(mount("someone", mnt, "tmpfs", 0, NULL), 0);
	else
		top = raw_fuse_mount(stack_types[1], "someone");
	ck_assert_int_eq(mi_find(mnt, NULL), 2);

	logged[0] = '\0';
	vlog_set_sink(capture_sink, NULL);
	ck_assert_int_eq(fuse_unmount(&m), -EBUSY);
	vlog_set_sink(NULL, NULL);
	ck_assert_int_eq(mi_find(mnt, &e), 2);
	ck_assert_str_eq(e.fstype, stack_types[_i % 2]); /* the top one is still there */
	ck_assert_msg(strstr(logged, "not unmounting") && strstr(logged, "on top of ours") &&
			  strstr(logged, stack_types[_i % 2]),
		      "%s", logged);

	/* Never a second try: with the top one gone, ours is not detached later either. */
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	ck_assert_int_eq(fuse_unmount(&m), 0);
	ck_assert_int_eq(mi_find(mnt, &e), 1);
	ck_assert_str_eq(e.fstype, "fuse.vfsmux");
	if (top >= 0)
		close(top);
	close(fd);
}
END_TEST

/*
 * Ours on someone's tmpfs: unmounting ours, then unmounting again (the old
 * code's second umount2 at exit), leaves their tmpfs in place.
 */
START_TEST(unmount_twice_leaves_the_mount_beneath_ours)
{
	struct fuse_mount_opts o = { .mountpoint = mnt };
	struct fuse_mount m;
	struct mi_entry e;
	char err[512];
	int fd;

	SKIP_UNLESS_MOUNTABLE();
	ck_assert_int_eq(mount("beneath", mnt, "tmpfs", 0, NULL), 0);
	fd = fuse_mount(&o, &m, err, sizeof(err)); /* not FUSE: mounted over, as mount(8) would */
	ck_assert_msg(fd >= 0, "fuse_mount: %d %s", fd, err);
	ck_assert_int_eq(mi_find(mnt, NULL), 2);
	ck_assert_int_eq(fuse_unmount(&m), 0);
	ck_assert_int_eq(fuse_unmount(&m), 0);
	ck_assert_int_eq(mi_find(mnt, &e), 1);
	ck_assert_str_eq(e.fstype, "tmpfs");
	close(fd);
}
END_TEST

/* Ours was unmounted by someone, who then mounted something else there. */
START_TEST(unmount_leaves_a_mount_that_replaced_ours)
{
	struct fuse_mount_opts o = { .mountpoint = mnt };
	struct fuse_mount m;
	struct mi_entry e;
	char err[512];
	int fd;

	SKIP_UNLESS_MOUNTABLE();
	fd = fuse_mount(&o, &m, err, sizeof(err));
	ck_assert_msg(fd >= 0, "fuse_mount: %d %s", fd, err);
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	ck_assert_int_eq(mount("replacement", mnt, "tmpfs", 0, NULL), 0);
	ck_assert_int_eq(fuse_unmount(&m), -EBUSY);
	ck_assert_int_eq(mi_find(mnt, &e), 1);
	ck_assert_str_eq(e.fstype, "tmpfs");
	close(fd);
}
END_TEST

/*
 * /dev/fuse is often 0600 (so here): unprivileged FUSE is then impossible.
 * Give this process a mount namespace of its own with a 0666 node of the same
 * device bound over /dev/fuse, so the unprivileged path can be tested without
 * touching the machine. The namespace, and all its mounts, die with us.
 */
static bool private_dev_fuse(void)
{
	char node[600];
	struct stat st;
	bool ok;

	snprintf(node, sizeof(node), "%s/fuse.%d", base, (int)getpid());
	if (stat("/dev/fuse", &st) || unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mknod(node, S_IFCHR | 0666, st.st_rdev) || chmod(node, 0666))
		return false;
	ok = mount(node, "/dev/fuse", NULL, MS_BIND, NULL) == 0;
	unlink(node); /* the bind mount keeps the inode */
	return ok;
}

#define SKIPPED 77

/* In a child: become nobody (able to open /dev/fuse), then run fn; its status. */
static int as_nobody(int (*fn)(void))
{
	int status;
	pid_t pid;

	ck_assert_int_eq(chown(mnt, NOBODY, NOBODY), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(CHILD_ALARM * 3);
		if (access("/dev/fuse", R_OK | W_OK) != 0 ||
		    (st_mode_of("/dev/fuse") & 0006) != 0006)
			if (!private_dev_fuse())
				_exit(SKIPPED);
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(90);
		_exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* Runs as nobody; 0 or the number of the failed step (details on stderr). */
static int unprivileged_mount_unmount(void)
{
	struct fuse_mount_opts o = { .mountpoint = mnt };
	const struct fuse_in_header *h = (const void *)reqbuf;
	struct fuse_mount m;
	struct mi_entry e;
	char err[512];
	int fd;

	fd = fuse_mount(&o, &m, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "unprivileged fuse_mount: %d %s\n", fd, err);
		return 1;
	}
	if (strcmp(m.how, "fusermount3") != 0)
		return 2;
	if (mi_find(mnt, &e) != 1 || strcmp(e.fstype, "fuse.vfsmux") != 0 ||
	    !has_opt(e.super_opts, "user_id=65534") || !has_opt(e.mnt_opts, "nosuid")) {
		fprintf(stderr, "mountinfo: %s %s %s\n", e.fstype, e.mnt_opts, e.super_opts);
		return 3;
	}
	if (read_req(fd) <= 0 || h->opcode != FUSE_INIT)
		return 4;
	if (fuse_unmount(&m) != 0) /* umount2 gives EPERM: fusermount3 -u -z */
		return 5;
	if (mi_find(mnt, NULL) != 0)
		return 6;
	close(fd);
	return 0;
}

START_TEST(unprivileged_mount_uses_fusermount3)
{
	int r;

	SKIP_UNLESS_MOUNTABLE();
	r = as_nobody(unprivileged_mount_unmount);
	if (r == SKIPPED) {
		fprintf(stderr, "%s: skipped (no private 0666 /dev/fuse)\n", __func__);
		return;
	}
	ck_assert_int_eq(r, 0);
}
END_TEST

static int unprivileged_allow_other(void)
{
	struct fuse_mount_opts o = { .mountpoint = mnt, .allow_other = true };
	struct fuse_mount m;
	char err[512];
	int fd;

	fd = fuse_mount(&o, &m, err, sizeof(err));
	if (fd >= 0) {
		/* /etc/fuse.conf has user_allow_other here: nothing to check */
		fuse_unmount(&m);
		close(fd);
		return 0;
	}
	if (fd != -EIO || !strstr(err, "fusermount3") || !strstr(err, "user_allow_other")) {
		fprintf(stderr, "unexpected error: %d %s\n", fd, err);
		return 1;
	}
	return 0;
}

START_TEST(unprivileged_allow_other_reports_fusermount3_stderr)
{
	int r;

	SKIP_UNLESS_MOUNTABLE();
	r = as_nobody(unprivileged_allow_other);
	if (r == SKIPPED) {
		fprintf(stderr, "%s: skipped (no private 0666 /dev/fuse)\n", __func__);
		return;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(mi_find(mnt, NULL), 0);
}
END_TEST

static Suite *mount_suite(void)
{
	Suite *s = suite_create("mount");
	TCase *tc = tcase_create("mount");
	int nmethods = (int)(sizeof(methods) / sizeof(methods[0]));

	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_loop_test(tc, mount_serves_requests_and_unmounts, 0, nmethods);
	tcase_add_loop_test(tc, mount_options_reach_the_kernel, 0, nmethods - 1);
	tcase_add_test(tc, fsname_with_comma_survives_fusermount3);
	tcase_add_test(tc, missing_mountpoint_is_enoent);
	tcase_add_test(tc, file_mountpoint_is_enotdir);
	tcase_add_test(tc, relative_or_missing_mountpoint_is_einval);
	tcase_add_test(tc, stale_mountpoint_needs_force);
	tcase_add_test(tc, unmount_of_non_mount_succeeds);
	tcase_add_loop_test(tc, live_fuse_mountpoint_is_refused_even_with_force, 0, 2);
	tcase_add_test(tc, live_mount_on_an_odd_name_is_refused_by_name);
	tcase_add_test(tc, hung_fuse_mountpoint_is_refused_without_hanging);
	/* fsmount and mount(2), each under a tmpfs and under another FUSE */
	tcase_add_loop_test(tc, unmount_leaves_a_mount_stacked_on_ours, 0, 4);
	tcase_add_test(tc, unmount_twice_leaves_the_mount_beneath_ours);
	tcase_add_test(tc, unmount_leaves_a_mount_that_replaced_ours);
	tcase_add_test(tc, unprivileged_mount_uses_fusermount3);
	tcase_add_test(tc, unprivileged_allow_other_reports_fusermount3_stderr);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(mount_suite());
}
