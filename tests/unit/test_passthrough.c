/*
 * tests/unit/test_passthrough.c - the passthrough backend called directly on a
 * temporary source directory (no FUSE mount). Every test runs twice: with the
 * source on ext4 (/tmp here) and on tmpfs (/dev/shm), the two kinds of file
 * handles the design relies on.
 */
#include "backends/passthrough/passthrough.h"
#include "config/config.h"
#include "server/log.h"
#include "vfs/fd_budget.h"
#include "testlib.h"

#include <dirent.h>
#include <linux/capability.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *base = "/tmp";
static char *src;
static struct mount_config cfg;
static struct backend *be;
static const struct op_ctx root_ctx = { .uid = 0, .gid = 0 };
static char type_name[] = "passthrough";

static void make_source(void)
{
	char tmpl[256];

	snprintf(tmpl, sizeof(tmpl), "%s/vfsmux-pt.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	src = strdup(tmpl);
	ck_assert_ptr_nonnull(src);
}

/* (Re)create the backend over src with the given fd cache bound. */
static void start(uint32_t fd_cache)
{
	char err[256] = "";

	if (be)
		passthrough_ops.destroy(be);
	be = NULL;
	cfg = (struct mount_config){ .type = type_name, .source = src, .fd_cache = fd_cache };
	ck_assert_msg(passthrough_ops.create(&cfg, &be, err, sizeof(err)) == 0, "create: %s", err);
}

static void setup_ext4(void)
{
	base = "/tmp";
	make_source();
	start(0);
}

static void setup_tmpfs(void)
{
	base = "/dev/shm";
	make_source();
	start(0);
}

static void teardown(void)
{
	if (be)
		passthrough_ops.destroy(be);
	be = NULL;
	testlib_rmtree(src);
	free(src);
	src = NULL;
}

static char *host(const char *name)
{
	static char buf[4][512];
	static int k;
	char *p = buf[k++ % 4];

	snprintf(p, 512, "%s/%s", src, name);
	return p;
}

static uint64_t lookup_ok(uint64_t parent, const char *name, struct vfs_entry *e)
{
	struct vfs_entry tmp;
	int err;

	if (!e)
		e = &tmp;
	err = passthrough_ops.lookup(be, &root_ctx, parent, name, e);
	ck_assert_msg(err == 0, "lookup %s: %d", name, err);
	ck_assert_uint_ne(e->ino, 0);
	ck_assert_uint_eq(e->attr.st_ino, e->ino);
	return e->ino;
}

static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A mount takes no fd until used: use the root once, so that its cached fd
 * and the mount fd are in place before a test counts fds. */
static void warm_root(void)
{
	struct stat st;

	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, BACKEND_ROOT_INO, false, 0, &st),
			 0);
}

static struct pt_stats stats(void)
{
	struct pt_stats s;

	pt_debug_stats(be, &s);
	return s;
}

/* ---- kernel cache hints ---- */

START_TEST(keep_cache_only_when_unchanged_since_last_open)
{
	struct vfs_open o;
	struct timespec ts[2] = { { 0, 0 }, { 1000, 0 } };
	uint64_t ino, dir;

	testlib_write_file(host("k"), "abc", 3);
	ck_assert_int_eq(mkdir(host("kd"), 0755), 0);
	ino = lookup_ok(BACKEND_ROOT_INO, "k", NULL);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, ino, O_RDONLY, &o), 0);
	ck_assert(!o.keep_cache); /* first open: nothing cached can be trusted */
	ck_assert(o.noflush);	  /* ext4 and tmpfs sources: FLUSH would do nothing */
	passthrough_ops.release(be, ino, o.fh, O_RDONLY);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, ino, O_RDONLY, &o), 0);
	ck_assert(o.keep_cache);
	passthrough_ops.release(be, ino, o.fh, O_RDONLY);
	/* Changed on the host behind the mount's back: size, then mtime alone. */
	testlib_write_file(host("k"), "abcd", 4);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, ino, O_RDONLY, &o), 0);
	ck_assert(!o.keep_cache);
	passthrough_ops.release(be, ino, o.fh, O_RDONLY);
	ck_assert_int_eq(utimensat(AT_FDCWD, host("k"), ts, 0), 0);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, ino, O_RDONLY, &o), 0);
	ck_assert(!o.keep_cache);
	passthrough_ops.release(be, ino, o.fh, O_RDONLY);

	dir = lookup_ok(BACKEND_ROOT_INO, "kd", NULL);
	ck_assert_int_eq(passthrough_ops.opendir(be, &root_ctx, dir, O_RDONLY, &o), 0);
	ck_assert(o.cache_dir && o.keep_cache); /* the kernel checks the dir's mtime itself */
	ck_assert_int_eq(o.backing_fd, -1);
	passthrough_ops.releasedir(be, dir, o.fh);
}
END_TEST

/* ---- inode map ---- */

START_TEST(lookup_gives_own_ino_and_attrs)
{
	struct vfs_entry e;
	struct stat st, hst;

	testlib_write_file(host("f"), "hello", 5);
	ck_assert_int_eq(lstat(host("f"), &hst), 0);
	lookup_ok(BACKEND_ROOT_INO, "f", &e);
	/* Derived from the host number: device slot 1, the host's 32-bit st_ino. */
	ck_assert_uint_eq(e.ino, (UINT64_C(1) << 32) | (uint64_t)hst.st_ino);
	ck_assert_uint_le(e.ino, BACKEND_INO_MAX);
	ck_assert(S_ISREG(e.attr.st_mode));
	ck_assert_int_eq(e.attr.st_size, 5);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, e.ino, false, 0, &st), 0);
	ck_assert_uint_eq(st.st_ino, e.ino);
	ck_assert_int_eq(st.st_size, 5);
	ck_assert_int_eq(passthrough_ops.lookup(be, &root_ctx, BACKEND_ROOT_INO, "nope", &e),
			 -ENOENT);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, 999, false, 0, &st), -ESTALE);
}
END_TEST

START_TEST(hard_links_share_one_ino)
{
	uint64_t a, b;

	testlib_write_file(host("a"), "x", 1);
	ck_assert_int_eq(link(host("a"), host("b")), 0);
	a = lookup_ok(BACKEND_ROOT_INO, "a", NULL);
	b = lookup_ok(BACKEND_ROOT_INO, "b", NULL);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_eq(stats().inodes, 2);
	/* Two lookups: one forget keeps it, the second frees it. */
	passthrough_ops.forget(be, a, 1);
	ck_assert_uint_eq(stats().inodes, 2);
	passthrough_ops.forget(be, a, 1);
	ck_assert_uint_eq(stats().inodes, 1);
}
END_TEST

START_TEST(forget_to_zero_frees_and_overforget_is_clamped)
{
	struct stat st;
	uint64_t ino, again;

	testlib_write_file(host("f"), "x", 1);
	ino = lookup_ok(BACKEND_ROOT_INO, "f", NULL);
	lookup_ok(BACKEND_ROOT_INO, "f", NULL);
	ck_assert_uint_eq(stats().inodes, 2);
	passthrough_ops.forget(be, ino, 1);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, ino, false, 0, &st), 0);
	passthrough_ops.forget(be, ino, 1);
	ck_assert_uint_eq(stats().inodes, 1);
	ck_assert_uint_le(stats().cached_fds, 2); /* the root's and the mount fd at most */
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, ino, false, 0, &st), -ESTALE);
	/* A live file keeps its number across the kernel forgetting it (as on
	 * ext4; pjdfstest rename/09, 10); a forget for more than held is clamped. */
	again = lookup_ok(BACKEND_ROOT_INO, "f", NULL);
	ck_assert_uint_eq(again, ino);
	ck_assert_uint_eq(stats().inodes, 2);
	passthrough_ops.forget(be, again, 1000);
	passthrough_ops.forget(be, again, 1);		 /* unknown now: logged, ignored */
	passthrough_ops.forget(be, 12345, 1);		 /* never existed */
	passthrough_ops.forget(be, BACKEND_ROOT_INO, 5); /* the root is vfs's business */
	ck_assert_uint_eq(stats().inodes, 1);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, BACKEND_ROOT_INO, false, 0, &st),
			 0);
}
END_TEST

/*
 * A forgotten inode holds no fd. When the host then gives its number to a new
 * file, that file gets the same derived number: ext4 shows the reused st_ino
 * too, and the kernel no longer holds the old object (a number still held is
 * never handed on: host_inode_reuse_gets_fresh_ino).
 */
START_TEST(forgotten_inode_holds_no_fd_and_reuse_mirrors_host)
{
	struct vfs_entry e_old, e_new;
	struct stat st, old;
	uint64_t ino;
	bool provoked = false;
	size_t fds;

	testlib_write_file(host("old"), "old", 3);
	ck_assert_int_eq(stat(host("old"), &old), 0);
	warm_root();
	fds = count_fds();
	ino = lookup_ok(BACKEND_ROOT_INO, "old", &e_old);
	passthrough_ops.forget(be, ino, 1);
	ck_assert_uint_eq(count_fds(), fds);
	ck_assert_int_eq(unlink(host("old")), 0);
	for (int i = 0; i < 200 && !provoked; i++) {
		char name[32];

		snprintf(name, sizeof(name), "new%d", i);
		testlib_write_file(host(name), "newer", 5);
		ck_assert_int_eq(stat(host(name), &st), 0);
		if (st.st_ino == old.st_ino) {
			provoked = true;
			ck_assert_uint_eq(lookup_ok(BACKEND_ROOT_INO, name, &e_new), ino);
			/* Same number, another object: the generation tells the kernel's
			 * old file handles of the number apart (DESIGN §2). */
			ck_assert_uint_ne((uint32_t)e_new.generation, (uint32_t)e_old.generation);
		}
	}
	if (!provoked)
		fprintf(stderr,
			"forgotten_inode_holds_no_fd_and_reuse_mirrors_host: %s did not reuse "
			"st_ino; skipped\n",
			base);
}
END_TEST

START_TEST(host_inode_reuse_gets_fresh_ino)
{
	struct vfs_entry e1, e2, e3;
	struct stat st, old;
	bool provoked = false;

	testlib_write_file(host("old"), "old", 3);
	ck_assert_int_eq(stat(host("old"), &old), 0);
	lookup_ok(BACKEND_ROOT_INO, "old", &e1);
	pt_debug_evict_all(be); /* no fd of ours keeps the old object alive */
	ck_assert_int_eq(unlink(host("old")), 0);
	for (int i = 0; i < 200 && !provoked; i++) {
		char name[32];

		snprintf(name, sizeof(name), "new%d", i);
		testlib_write_file(host(name), "newer", 5);
		ck_assert_int_eq(stat(host(name), &st), 0);
		if (st.st_ino == old.st_ino) {
			provoked = true;
			lookup_ok(BACKEND_ROOT_INO, name, &e2);
			ck_assert_uint_ne(e2.ino, e1.ino);
			ck_assert_int_eq(e2.attr.st_size, 5);
			/* The old inode names the deleted object, not the new one. */
			ck_assert_int_eq(
			    passthrough_ops.getattr(be, &root_ctx, e1.ino, false, 0, &st), -ESTALE);
			/* The old number is still held: the new file got an allocated one,
			 * and keeps it after the kernel forgets both. */
			ck_assert_uint_ge(e2.ino, UINT64_C(1) << 47);
			passthrough_ops.forget(be, e1.ino, 1);
			passthrough_ops.forget(be, e2.ino, 1);
			lookup_ok(BACKEND_ROOT_INO, name, &e3);
			ck_assert_uint_eq(e3.ino, e2.ino);
			passthrough_ops.forget(be, e3.ino, 1);
		}
	}
	if (!provoked)
		fprintf(stderr,
			"host_inode_reuse_gets_fresh_ino: %s did not reuse st_ino; "
			"skipped\n",
			base);
}
END_TEST

/* ---- fd cache ---- */

START_TEST(fd_use_bounded_by_cache_with_many_inodes)
{
	static uint64_t inos[3000];
	size_t baseline, buckets0;
	char name[32];

	start(64);
	baseline = count_fds();
	buckets0 = stats().buckets;
	for (int i = 0; i < 3000; i++) {
		int fd;

		snprintf(name, sizeof(name), "f%d", i);
		fd = open(host(name), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		inos[i] = lookup_ok(BACKEND_ROOT_INO, name, NULL);
	}
	ck_assert_uint_eq(stats().inodes, 3001);
	ck_assert_uint_le(stats().cached_fds, 64);
	ck_assert_uint_le(count_fds(), baseline + 64 + 4);
	ck_assert_uint_le(pt_debug_open_fds(be), 64 + 2);
	ck_assert(stats().handles);
	/* The tables grew for 3001 inodes. Forgotten, they stay as hints (a
	 * handle each, no fd: the kernel may still decode a file handle of
	 * them), within the hint bound (4096 here). */
	ck_assert_uint_ge(stats().buckets, 2 * 3001);
	ck_assert_uint_gt(stats().buckets, buckets0);
	for (int i = 0; i < 3000; i++)
		passthrough_ops.forget(be, inos[i], 1);
	ck_assert_uint_eq(stats().inodes, 1);
	ck_assert_uint_eq(stats().hints, 3000);
	ck_assert_uint_le(count_fds(), baseline + 4);
}
END_TEST

static void make_files(const char *dir, int n)
{
	char name[600];

	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(name, sizeof(name), "%s/f%d", dir, i);
		fd = open(name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
}

/* Two mounts draw on one cache: its bound holds for both together (DESIGN §10). */
START_TEST(mounts_share_one_fd_cache)
{
	struct mount_config c2;
	struct backend *b2 = NULL;
	struct fd_budget_stats bs;
	struct pt_stats s2;
	char name[32], err[128], *src2;

	fd_budget_debug_cache_max(40);
	src2 = strdup(host("second"));
	ck_assert_int_eq(mkdir(src2, 0755), 0);
	make_files(src, 100);
	make_files(src2, 100);
	c2 = (struct mount_config){ .type = type_name, .source = src2 };
	ck_assert_int_eq(passthrough_ops.create(&c2, &b2, err, sizeof(err)), 0);
	for (int i = 0; i < 100; i++) {
		struct vfs_entry e;

		snprintf(name, sizeof(name), "f%d", i);
		lookup_ok(BACKEND_ROOT_INO, name, NULL);
		ck_assert_int_eq(passthrough_ops.lookup(b2, &root_ctx, BACKEND_ROOT_INO, name, &e),
				 0);
	}
	pt_debug_stats(b2, &s2);
	fd_budget_stats(&bs);
	ck_assert_uint_le(bs.cached, 40);
	ck_assert_uint_eq(bs.cached, stats().cached_fds + s2.cached_fds);
	ck_assert_uint_gt(stats().cached_fds, 0);
	ck_assert_uint_gt(s2.cached_fds, 0);
	ck_assert_uint_eq(stats().cache_max, 40);
	passthrough_ops.destroy(b2);
	fd_budget_stats(&bs);
	ck_assert_uint_eq(bs.cached, stats().cached_fds); /* b2's fds left the shared cache */
	fd_budget_debug_cache_max(0);
	free(src2);
}
END_TEST

/*
 * The budget's estimate can be wrong (fds it is not told of): an open that
 * meets EMFILE makes the cache give fds back and retries, so neither a lookup
 * nor a client's open fails because of what the daemon merely caches.
 */
START_TEST(emfile_evicts_cached_fds_and_retries)
{
	struct fd_budget_stats bs;
	struct rlimit rl;
	struct vfs_open o[50];
	uint64_t inos[300];
	char name[32];

	make_files(src, 300);
	fd_budget_debug_cache_max(100000); /* the cache believes it has room for all */
	rl.rlim_cur = rl.rlim_max = count_fds() + 100;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		inos[i] = lookup_ok(BACKEND_ROOT_INO, name, NULL);
	}
	fd_budget_stats(&bs);
	ck_assert_uint_gt(bs.reclaims, 0);
	ck_assert_uint_lt(stats().cached_fds, 100);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, inos[i], O_RDONLY, &o[i]), 0);
	for (int i = 0; i < 50; i++)
		passthrough_ops.release(be, inos[i], o[i].fh, 0);
	fd_budget_debug_cache_max(0);
}
END_TEST

START_TEST(evicted_inode_reopens_by_handle)
{
	struct vfs_open o;
	struct stat st;
	char buf[8] = "";
	uint64_t first;

	start(8);
	testlib_write_file(host("first"), "data", 4);
	first = lookup_ok(BACKEND_ROOT_INO, "first", NULL);
	for (int i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "g%d", i);
		testlib_write_file(host(name), "", 0);
		lookup_ok(BACKEND_ROOT_INO, name, NULL);
	}
	ck_assert_uint_gt(stats().evictions, 0);
	ck_assert_uint_le(stats().cached_fds, 8);
	uint64_t misses = stats().misses;
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, first, false, 0, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	/* The inode's fd, and the mount fd if it was evicted too. */
	ck_assert_uint_ge(stats().misses, misses + 1);
	ck_assert_uint_le(stats().misses, misses + 2);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, first, O_RDONLY, &o), 0);
	ck_assert_int_eq(passthrough_ops.read(be, first, o.fh, buf, sizeof(buf), 0), 4);
	ck_assert_str_eq(buf, "data");
	passthrough_ops.release(be, first, o.fh, O_RDONLY);
}
END_TEST

/*
 * Without handles (a non-root daemon, DESIGN §10) no inode pins an fd: each is
 * reached again by name from its parent, checked to be the same object, and
 * follows renames made through the mount; a name that now leads elsewhere
 * (removed, replaced on the host) answers ESTALE.
 */
START_TEST(without_handles_inodes_are_reached_by_name)
{
	struct vfs_open o;
	struct stat st;
	char buf[8] = "";
	uint64_t ino, d1, d2, deep, gone;

	pt_debug_force_pinned(true);
	start(8);
	pt_debug_force_pinned(false);
	ck_assert(!stats().handles);
	testlib_write_file(host("f"), "pin", 3);
	ck_assert_int_eq(mkdir(host("d1"), 0755), 0);
	ck_assert_int_eq(mkdir(host("d1/d2"), 0755), 0);
	testlib_write_file(host("d1/d2/deep"), "deep", 4);
	testlib_write_file(host("gone"), "", 0);
	ino = lookup_ok(BACKEND_ROOT_INO, "f", NULL);
	d1 = lookup_ok(BACKEND_ROOT_INO, "d1", NULL);
	d2 = lookup_ok(d1, "d2", NULL);
	deep = lookup_ok(d2, "deep", NULL);
	gone = lookup_ok(BACKEND_ROOT_INO, "gone", NULL);
	ck_assert_uint_eq(stats().pinned_fds, 0);
	ck_assert_uint_le(stats().cached_fds, 8);
	/* Every fd evicted: the whole chain is walked again from the source. */
	pt_debug_evict_all(be);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, deep, false, 0, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, ino, O_RDONLY, &o), 0);
	ck_assert_int_eq(passthrough_ops.read(be, ino, o.fh, buf, sizeof(buf), 0), 3);
	ck_assert_str_eq(buf, "pin");
	passthrough_ops.release(be, ino, o.fh, O_RDONLY);
	/* A rename through the mount moves the recorded name (and parent). */
	ck_assert_int_eq(
	    passthrough_ops.rename(be, &root_ctx, d1, "d2", BACKEND_ROOT_INO, "moved", 0), 0);
	pt_debug_evict_all(be);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, deep, false, 0, &st), 0);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, d2, false, 0, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	/* Replaced on the host by another file of the same name: not ours. */
	ck_assert_int_eq(unlink(host("gone")), 0);
	testlib_write_file(host("other"), "", 0);
	ck_assert_int_eq(rename(host("other"), host("gone")), 0);
	pt_debug_evict_all(be);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, gone, false, 0, &st), -ESTALE);
	/* Removed: ESTALE too. */
	ck_assert_int_eq(unlink(host("f")), 0);
	pt_debug_evict_all(be);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, ino, false, 0, &st), -ESTALE);
	passthrough_ops.forget(be, ino, 1);
	passthrough_ops.forget(be, gone, 1);
	passthrough_ops.forget(be, deep, 1);
	passthrough_ops.forget(be, d2, 1);
	passthrough_ops.forget(be, d1, 1);
	ck_assert_uint_eq(stats().inodes, 1);
	ck_assert_uint_eq(stats().pinned_fds, 0);
}
END_TEST

/*
 * A file created in pinned mode (overlayfs without nfs_export has no file
 * handles) keeps an O_PATH fd re-opened from the create's fd: that fd must name
 * the file, not the /proc magic link (getattr then said S_IFLNK and the kernel
 * failed every open of the new file with EIO).
 */
START_TEST(pinned_mode_create_pins_the_file)
{
	struct vfs_entry e, e2;
	struct vfs_open o;
	struct stat st;

	pt_debug_force_pinned(true);
	start(8);
	pt_debug_force_pinned(false);
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "new", 0640,
						     O_WRONLY | O_CREAT | O_EXCL, &e, &o),
			 0);
	ck_assert(S_ISREG(e.attr.st_mode));
	ck_assert_int_eq(passthrough_ops.write(be, &root_ctx, e.ino, o.fh, "abc", 3, 0, O_WRONLY),
			 3);
	passthrough_ops.release(be, e.ino, o.fh, O_WRONLY);
	/* Without the fh: through the pinned fd. */
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, e.ino, false, 0, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode), "mode %o", st.st_mode);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(st.st_size, 3);
	ck_assert_int_eq(passthrough_ops.link(be, &root_ctx, e.ino, BACKEND_ROOT_INO, "hard", &e2),
			 0);
	ck_assert_uint_eq(e2.ino, e.ino);
	ck_assert_uint_eq(e2.attr.st_nlink, 2);
	passthrough_ops.forget(be, e.ino, 2);
}
END_TEST

static char logged[2048];

static void log_sink(enum vlog_level lvl, const char *msg, void *data)
{
	(void)data;
	if (lvl == VLOG_INFO)
		snprintf(logged + strlen(logged), sizeof(logged) - strlen(logged), "%s\n", msg);
}

START_TEST(source_without_handles_is_reached_by_names)
{
	static char procsrc[] = "/proc/sys/kernel";
	struct mount_config c = { .type = type_name, .source = procsrc };
	struct backend *pb = NULL;
	struct vfs_entry e;
	struct vfs_open o;
	struct pt_stats ps;
	char buf[16] = "", err[128];

	vlog_set_level(VLOG_INFO);
	vlog_set_sink(log_sink, NULL);
	ck_assert_int_eq(passthrough_ops.create(&c, &pb, err, sizeof(err)), 0);
	vlog_set_sink(NULL, NULL);
	ck_assert_msg(strstr(logged, "/proc/sys/kernel: inodes by names"), "log: %s", logged);
	pt_debug_stats(pb, &ps);
	ck_assert(!ps.handles); /* /proc has no file handles */
	ck_assert_int_eq(passthrough_ops.lookup(pb, &root_ctx, BACKEND_ROOT_INO, "ostype", &e), 0);
	pt_debug_stats(pb, &ps);
	ck_assert_uint_eq(ps.pinned_fds, 0); /* reached by name: no fd for life */
	ck_assert_int_eq(passthrough_ops.open(pb, &root_ctx, e.ino, O_RDONLY, &o), 0);
	ck_assert_int_eq(passthrough_ops.read(pb, e.ino, o.fh, buf, 5, 0), 5);
	ck_assert_str_eq(buf, "Linux");
	passthrough_ops.release(pb, e.ino, o.fh, 0);
	passthrough_ops.forget(pb, e.ino, 1);
	pt_debug_stats(pb, &ps);
	ck_assert_uint_eq(ps.pinned_fds, 0);
	passthrough_ops.destroy(pb);
}
END_TEST

/* Lookups, getattrs and forgets from several threads with a tiny cache. */
struct storm_arg {
	unsigned seed;
	int errors;
};

static void *storm_thread(void *p)
{
	struct storm_arg *a = p;

	for (int i = 0; i < 3000; i++) {
		char name[32];
		struct vfs_entry e;
		struct stat st;

		snprintf(name, sizeof(name), "s%u", rand_r(&a->seed) % 40);
		if (passthrough_ops.lookup(be, &root_ctx, BACKEND_ROOT_INO, name, &e) != 0) {
			a->errors++;
			continue;
		}
		if (passthrough_ops.getattr(be, &root_ctx, e.ino, false, 0, &st) != 0 ||
		    st.st_ino != e.ino)
			a->errors++;
		passthrough_ops.forget(be, e.ino, 1);
	}
	return NULL;
}

START_TEST(forget_storm_from_threads_keeps_counts)
{
	struct storm_arg args[4];
	pthread_t t[4];

	start(4);
	for (int i = 0; i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "s%d", i);
		testlib_write_file(host(name), "", 0);
	}
	for (int i = 0; i < 4; i++) {
		args[i] = (struct storm_arg){ .seed = (unsigned)i + 1 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, storm_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(args[i].errors, 0);
	}
	ck_assert_uint_eq(stats().inodes, 1);
	ck_assert_uint_le(stats().cached_fds, 2); /* the root's and the mount fd at most */
}
END_TEST

/* ---- ops ---- */

START_TEST(create_write_read_trunc_excl)
{
	struct vfs_entry e;
	struct vfs_open o, o2;
	char buf[16] = "";
	struct stat st;

	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "f", 0640,
						     O_RDWR | O_CREAT | O_EXCL, &e, &o),
			 0);
	ck_assert(S_ISREG(e.attr.st_mode));
	ck_assert_int_eq(e.attr.st_mode & 0777, 0640);
	ck_assert_int_eq(
	    passthrough_ops.write(be, &root_ctx, e.ino, o.fh, "hello world", 11, 0, O_RDWR), 11);
	ck_assert_int_eq(passthrough_ops.read(be, e.ino, o.fh, buf, 5, 6), 5);
	ck_assert_str_eq(buf, "world");
	ck_assert_int_eq(passthrough_ops.read(be, e.ino, o.fh, buf, sizeof(buf), 100), 0);
	ck_assert_int_eq(passthrough_ops.flush(be, e.ino, o.fh, 0), 0);
	ck_assert_int_eq(passthrough_ops.fsync(be, e.ino, o.fh, true), 0);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, e.ino, true, o.fh, &st), 0);
	ck_assert_int_eq(st.st_size, 11);
	ck_assert_uint_eq(st.st_ino, e.ino);
	passthrough_ops.release(be, e.ino, o.fh, O_RDWR);
	/* A released fh is no longer accepted. */
	ck_assert_int_eq(passthrough_ops.read(be, e.ino, o.fh, buf, 1, 0), -EBADF);
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "f", 0640,
						     O_RDWR | O_CREAT | O_EXCL, &e, &o2),
			 -EEXIST);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, e.ino, O_WRONLY | O_TRUNC, &o), 0);
	ck_assert_int_eq(stat(host("f"), &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	passthrough_ops.release(be, e.ino, o.fh, O_WRONLY);
	/* create over a planted fifo neither blocks nor hands the kernel a non-file */
	ck_assert_int_eq(mkfifo(host("fifo"), 0644), 0);
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "fifo", 0644,
						     O_RDONLY | O_CREAT, &e, &o2),
			 -EEXIST);
	/* O_NONBLOCK used for the open is not left on the file */
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "nb", 0644,
						     O_WRONLY | O_CREAT | O_APPEND, &e, &o2),
			 0);
	ck_assert_int_eq(fcntl((int)o2.fh, F_GETFL) & (O_NONBLOCK | O_APPEND), O_APPEND);
	passthrough_ops.release(be, e.ino, o2.fh, O_WRONLY);
	/* create on an existing name without O_EXCL opens it: same inode. */
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "f", 0600,
						     O_RDWR | O_CREAT, &e, &o2),
			 0);
	ck_assert_uint_eq(e.ino, lookup_ok(BACKEND_ROOT_INO, "f", NULL));
	passthrough_ops.release(be, e.ino, o2.fh, O_RDWR);
}
END_TEST

START_TEST(open_refuses_symlinks_and_dirs_for_writing)
{
	struct vfs_open o;
	uint64_t l, d;

	ck_assert_int_eq(symlink("/etc/passwd", host("l")), 0);
	ck_assert_int_eq(mkdir(host("d"), 0755), 0);
	l = lookup_ok(BACKEND_ROOT_INO, "l", NULL);
	d = lookup_ok(BACKEND_ROOT_INO, "d", NULL);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, l, O_RDONLY, &o), -ELOOP);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, d, O_WRONLY, &o), -EISDIR);
	ck_assert_int_eq(passthrough_ops.opendir(be, &root_ctx, l, O_RDONLY, &o), -ENOTDIR);
	/* create through a planted symlink is not followed */
	struct vfs_entry e;
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "l", 0644,
						     O_WRONLY | O_CREAT, &e, &o),
			 -ELOOP);
}
END_TEST

START_TEST(rename_flags)
{
	char buf[8] = "";
	int fd;

	testlib_write_file(host("a"), "A", 1);
	testlib_write_file(host("b"), "B", 1);
	ck_assert_int_eq(passthrough_ops.rename(be, &root_ctx, BACKEND_ROOT_INO, "a",
						BACKEND_ROOT_INO, "b", RENAME_NOREPLACE),
			 -EEXIST);
	ck_assert_int_eq(passthrough_ops.rename(be, &root_ctx, BACKEND_ROOT_INO, "a",
						BACKEND_ROOT_INO, "b", RENAME_EXCHANGE),
			 0);
	fd = open(host("a"), O_RDONLY);
	ck_assert_int_eq(read(fd, buf, 1), 1);
	close(fd);
	ck_assert_str_eq(buf, "B");
	ck_assert_int_eq(mkdir(host("sub"), 0755), 0);
	uint64_t sub = lookup_ok(BACKEND_ROOT_INO, "sub", NULL);
	ck_assert_int_eq(
	    passthrough_ops.rename(be, &root_ctx, BACKEND_ROOT_INO, "a", sub, "moved", 0), 0);
	ck_assert_int_eq(access(host("sub/moved"), F_OK), 0);
	ck_assert_int_eq(
	    passthrough_ops.rename(be, &root_ctx, BACKEND_ROOT_INO, "b", sub, "w", RENAME_WHITEOUT),
	    0);
	struct stat st;
	ck_assert_int_eq(lstat(host("b"), &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(0, 0));
	ck_assert_int_eq(passthrough_ops.rename(be, &root_ctx, BACKEND_ROOT_INO, "x/y",
						BACKEND_ROOT_INO, "z", 0),
			 -EINVAL);
	ck_assert_int_eq(passthrough_ops.rename(be, &root_ctx, BACKEND_ROOT_INO, "sub",
						BACKEND_ROOT_INO, "z", 1u << 10),
			 -EINVAL);
}
END_TEST

START_TEST(link_symlink_readlink)
{
	struct vfs_entry e, le, se;
	char buf[64];
	ssize_t n;

	testlib_write_file(host("f"), "x", 1);
	lookup_ok(BACKEND_ROOT_INO, "f", &e);
	ck_assert_int_eq(passthrough_ops.link(be, &root_ctx, e.ino, BACKEND_ROOT_INO, "g", &le), 0);
	ck_assert_uint_eq(le.ino, e.ino);
	ck_assert_uint_eq(le.attr.st_nlink, 2);
	ck_assert_int_eq(
	    passthrough_ops.symlink(be, &root_ctx, BACKEND_ROOT_INO, "s", "../outside/target", &se),
	    0);
	ck_assert(S_ISLNK(se.attr.st_mode));
	n = passthrough_ops.readlink(be, &root_ctx, se.ino, buf, sizeof(buf));
	ck_assert_int_eq(n, 17);
	ck_assert_int_eq(memcmp(buf, "../outside/target", 17), 0);
	ck_assert_int_eq(passthrough_ops.readlink(be, &root_ctx, e.ino, buf, sizeof(buf)), -EINVAL);
	/* link of a directory: the host refuses */
	ck_assert_int_eq(passthrough_ops.link(be, &root_ctx, BACKEND_ROOT_INO, BACKEND_ROOT_INO,
					      "rootlink", &le),
			 -EPERM);
}
END_TEST

START_TEST(mknod_fifo_socket_and_devices)
{
	struct vfs_entry e;

	ck_assert_int_eq(
	    passthrough_ops.mknod(be, &root_ctx, BACKEND_ROOT_INO, "fifo", S_IFIFO | 0644, 0, &e),
	    0);
	ck_assert(S_ISFIFO(e.attr.st_mode));
	ck_assert_int_eq(
	    passthrough_ops.mknod(be, &root_ctx, BACKEND_ROOT_INO, "sock", S_IFSOCK | 0644, 0, &e),
	    0);
	ck_assert(S_ISSOCK(e.attr.st_mode));
	ck_assert_int_eq(passthrough_ops.mknod(be, &root_ctx, BACKEND_ROOT_INO, "null",
					       S_IFCHR | 0644, makedev(1, 3), &e),
			 -EPERM);
	ck_assert_int_eq(access(host("null"), F_OK), -1);
	cfg.allow_devices = true;
	passthrough_ops.destroy(be);
	be = NULL;
	char err[128];
	ck_assert_int_eq(passthrough_ops.create(&cfg, &be, err, sizeof(err)), 0);
	ck_assert_int_eq(passthrough_ops.mknod(be, &root_ctx, BACKEND_ROOT_INO, "null",
					       S_IFCHR | 0644, makedev(1, 3), &e),
			 0);
	ck_assert(S_ISCHR(e.attr.st_mode));
	ck_assert_uint_eq(e.attr.st_rdev, makedev(1, 3));
}
END_TEST

START_TEST(mkdir_rmdir_unlink)
{
	struct vfs_entry d, f;
	struct vfs_open o;

	ck_assert_int_eq(passthrough_ops.mkdir(be, &root_ctx, BACKEND_ROOT_INO, "d", 0750, &d), 0);
	ck_assert(S_ISDIR(d.attr.st_mode));
	ck_assert_int_eq(d.attr.st_mode & 0777, 0750);
	ck_assert_int_eq(passthrough_ops.mkdir(be, &root_ctx, BACKEND_ROOT_INO, "d", 0750, &d),
			 -EEXIST);
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, d.ino, "f", 0644,
						     O_WRONLY | O_CREAT, &f, &o),
			 0);
	passthrough_ops.release(be, f.ino, o.fh, 0);
	ck_assert_int_eq(passthrough_ops.rmdir(be, &root_ctx, BACKEND_ROOT_INO, "d"), -ENOTEMPTY);
	ck_assert_int_eq(passthrough_ops.unlink(be, &root_ctx, d.ino, "f"), 0);
	ck_assert_int_eq(passthrough_ops.unlink(be, &root_ctx, d.ino, "f"), -ENOENT);
	ck_assert_int_eq(passthrough_ops.rmdir(be, &root_ctx, BACKEND_ROOT_INO, "d"), 0);
	ck_assert_int_eq(access(host("d"), F_OK), -1);
	/* The kernel may still hold d: its ops fail cleanly, nothing crashes. */
	ck_assert_int_eq(passthrough_ops.lookup(be, &root_ctx, d.ino, "x", &f), -ENOENT);
}
END_TEST

START_TEST(setattr_mode_owner_size_times)
{
	struct vfs_setattr sa = { 0 };
	struct vfs_open o;
	struct stat st;
	uint64_t ino;

	testlib_write_file(host("f"), "0123456789", 10);
	ino = lookup_ok(BACKEND_ROOT_INO, "f", NULL);

	sa.valid = VFS_SET_MODE | VFS_SET_UID | VFS_SET_GID | VFS_SET_SIZE;
	sa.mode = 0600;
	sa.uid = 1234;
	sa.gid = 4321;
	sa.size = 3;
	ck_assert_int_eq(passthrough_ops.setattr(be, &root_ctx, ino, &sa, &st), 0);
	ck_assert_uint_eq(st.st_ino, ino);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, 1234);
	ck_assert_int_eq(st.st_gid, 4321);
	ck_assert_int_eq(st.st_size, 3);

	sa = (struct vfs_setattr){ .valid = VFS_SET_ATIME | VFS_SET_MTIME };
	sa.atime.tv_sec = 1000;
	sa.mtime.tv_sec = 2000;
	sa.mtime.tv_nsec = 5;
	ck_assert_int_eq(passthrough_ops.setattr(be, &root_ctx, ino, &sa, &st), 0);
	ck_assert_int_eq(stat(host("f"), &st), 0);
	ck_assert_int_eq(st.st_atim.tv_sec, 1000);
	ck_assert_int_eq(st.st_mtim.tv_sec, 2000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 5);

	sa = (struct vfs_setattr){ .valid = VFS_SET_MTIME_NOW };
	ck_assert_int_eq(passthrough_ops.setattr(be, &root_ctx, ino, &sa, &st), 0);
	ck_assert_int_gt(st.st_mtim.tv_sec, 2000);
	ck_assert_int_eq(st.st_atim.tv_sec, 1000);

	/* Through an open fh. */
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, ino, O_RDWR, &o), 0);
	sa = (struct vfs_setattr){ .valid = VFS_SET_SIZE, .size = 100, .has_fh = true, .fh = o.fh };
	ck_assert_int_eq(passthrough_ops.setattr(be, &root_ctx, ino, &sa, &st), 0);
	ck_assert_int_eq(st.st_size, 100);
	passthrough_ops.release(be, ino, o.fh, O_RDWR);

	/* KILL_SUIDGID with a truncate drops setuid. */
	ck_assert_int_eq(chmod(host("f"), 04755), 0);
	sa = (struct vfs_setattr){ .valid = VFS_SET_SIZE | VFS_SET_KILL_SUIDGID, .size = 1 };
	ck_assert_int_eq(passthrough_ops.setattr(be, &root_ctx, ino, &sa, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);

	/* A symlink: times of the link itself, size refused without opening it. */
	ck_assert_int_eq(symlink("f", host("l")), 0);
	uint64_t l = lookup_ok(BACKEND_ROOT_INO, "l", NULL);
	sa = (struct vfs_setattr){ .valid = VFS_SET_MTIME };
	sa.mtime.tv_sec = 3000;
	ck_assert_int_eq(passthrough_ops.setattr(be, &root_ctx, l, &sa, &st), 0);
	ck_assert_int_eq(st.st_mtim.tv_sec, 3000);
	ck_assert_int_eq(stat(host("f"), &st), 0);
	ck_assert_int_ne(st.st_mtim.tv_sec, 3000);
	sa = (struct vfs_setattr){ .valid = VFS_SET_SIZE, .size = 0 };
	ck_assert_int_eq(passthrough_ops.setattr(be, &root_ctx, l, &sa, &st), -EINVAL);
}
END_TEST

START_TEST(xattr_probe_erange_list_remove)
{
	char buf[64];
	uint64_t ino;
	ssize_t n;

	testlib_write_file(host("f"), "x", 1);
	ino = lookup_ok(BACKEND_ROOT_INO, "f", NULL);
	ck_assert_int_eq(passthrough_ops.setxattr(be, &root_ctx, ino, "user.k", "value", 5, 0), 0);
	ck_assert_int_eq(
	    passthrough_ops.setxattr(be, &root_ctx, ino, "user.k", "v", 1, XATTR_CREATE), -EEXIST);
	ck_assert_int_eq(passthrough_ops.getxattr(be, &root_ctx, ino, "user.k", NULL, 0), 5);
	ck_assert_int_eq(passthrough_ops.getxattr(be, &root_ctx, ino, "user.k", buf, 2), -ERANGE);
	ck_assert_int_eq(passthrough_ops.getxattr(be, &root_ctx, ino, "user.k", buf, sizeof(buf)),
			 5);
	ck_assert_int_eq(memcmp(buf, "value", 5), 0);
	n = passthrough_ops.listxattr(be, &root_ctx, ino, NULL, 0);
	ck_assert_int_ge(n, 7);
	ck_assert_int_eq(passthrough_ops.listxattr(be, &root_ctx, ino, buf, 1), -ERANGE);
	n = passthrough_ops.listxattr(be, &root_ctx, ino, buf, sizeof(buf));
	ck_assert_ptr_nonnull(memmem(buf, (size_t)n, "user.k", 7));
	ck_assert_int_eq(passthrough_ops.removexattr(be, &root_ctx, ino, "user.k"), 0);
	ck_assert_int_eq(passthrough_ops.getxattr(be, &root_ctx, ino, "user.k", NULL, 0), -ENODATA);
	/* On a symlink the call reaches the link itself (user.* refused there), not its target. */
	ck_assert_int_eq(symlink("f", host("l")), 0);
	uint64_t l = lookup_ok(BACKEND_ROOT_INO, "l", NULL);
	ck_assert_int_eq(passthrough_ops.setxattr(be, &root_ctx, l, "user.k", "v", 1, 0), -EPERM);
	ck_assert_int_eq(getxattr(host("f"), "user.k", NULL, 0), -1);
}
END_TEST

START_TEST(fallocate_seek_hole_copy_range)
{
	struct vfs_entry e, e2;
	struct vfs_open o, o2;
	char buf[8] = "";
	struct stat st;

	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "sparse",
						     0644, O_RDWR | O_CREAT, &e, &o),
			 0);
	ck_assert_int_eq(passthrough_ops.write(be, &root_ctx, e.ino, o.fh, "head", 4, 0, O_RDWR),
			 4);
	ck_assert_int_eq(
	    passthrough_ops.write(be, &root_ctx, e.ino, o.fh, "tail", 4, 1 << 20, O_RDWR), 4);
	off_t hole = passthrough_ops.lseek(be, e.ino, o.fh, 0, SEEK_HOLE);
	ck_assert_int_gt(hole, 0);
	ck_assert_int_lt(hole, 1 << 20);
	ck_assert_int_eq(passthrough_ops.lseek(be, e.ino, o.fh, hole, SEEK_DATA) <= (1 << 20), 1);
	ck_assert_int_eq(passthrough_ops.lseek(be, e.ino, o.fh, (1 << 20) + 8, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(passthrough_ops.lseek(be, e.ino, o.fh, 0, SEEK_SET), -EINVAL);

	ck_assert_int_eq(passthrough_ops.fallocate(be, &root_ctx, e.ino, o.fh, 0, 0, 4 << 20), 0);
	ck_assert_int_eq(fstatat(AT_FDCWD, host("sparse"), &st, 0), 0);
	ck_assert_int_eq(st.st_size, 4 << 20);

	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "copy", 0644,
						     O_RDWR | O_CREAT, &e2, &o2),
			 0);
	ck_assert_int_eq(passthrough_ops.copy_file_range(be, &root_ctx, e.ino, o.fh, 1 << 20,
							 e2.ino, o2.fh, 0, 4, 0),
			 4);
	ck_assert_int_eq(passthrough_ops.read(be, e2.ino, o2.fh, buf, 4, 0), 4);
	ck_assert_str_eq(buf, "tail");
	ck_assert_int_eq(
	    passthrough_ops.copy_file_range(be, &root_ctx, e.ino, 99999, 0, e2.ino, o2.fh, 0, 4, 0),
	    -EBADF);
	passthrough_ops.release(be, e.ino, o.fh, 0);
	passthrough_ops.release(be, e2.ino, o2.fh, 0);
}
END_TEST

START_TEST(statfs_and_access)
{
	struct statvfs a, b;
	uint64_t ino;

	ck_assert_int_eq(passthrough_ops.statfs(be, BACKEND_ROOT_INO, &a), 0);
	ck_assert_int_eq(statvfs(src, &b), 0);
	ck_assert_uint_eq(a.f_blocks, b.f_blocks);
	ck_assert_uint_eq(a.f_bsize, b.f_bsize);
	ck_assert_uint_eq(a.f_files, b.f_files);

	testlib_write_file(host("f"), "x", 1);
	ck_assert_int_eq(chmod(host("f"), 0600), 0);
	ino = lookup_ok(BACKEND_ROOT_INO, "f", NULL);
	ck_assert_int_eq(passthrough_ops.access(be, &root_ctx, ino, R_OK | W_OK), 0);
	ck_assert_int_eq(passthrough_ops.access(be, &root_ctx, ino, X_OK), -EACCES);
	if (geteuid() == 0) {
		struct op_ctx user = { .uid = 1000, .gid = 1000 };

		ck_assert_int_eq(chmod(src, 0755), 0);
		ck_assert_int_eq(passthrough_ops.access(be, &user, ino, R_OK), -EACCES);
		ck_assert_int_eq(passthrough_ops.access(be, &user, ino, F_OK), 0);
		/* the fsuid switch did not stick to this thread */
		ck_assert_int_eq(passthrough_ops.access(be, &root_ctx, ino, R_OK), 0);
	}
}
END_TEST

/* ---- readdir ---- */

struct sink {
	int cap; /* entries accepted before answering "full" */
	int n;
	char names[256][32];
	uint64_t ino[256];
	uint64_t off[256];
	bool has_entry[256];
};

static int sink_add(struct vfs_dirbuf *db, const struct vfs_dirent *d)
{
	struct sink *s = db->data;

	if (s->n >= s->cap)
		return 1;
	ck_assert_uint_ne(d->off, 0);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", d->name);
	s->ino[s->n] = d->ino;
	s->off[s->n] = d->off;
	s->has_entry[s->n] = d->entry != NULL;
	if (d->entry)
		ck_assert_uint_eq(d->entry->ino, d->ino);
	s->n++;
	return 0;
}

/* List the root k entries per call; returns the number of calls. */
static int list_all(bool plus, int k, struct sink *all, uint64_t fh)
{
	uint64_t off = 0;
	int calls = 0;

	all->n = 0;
	for (;;) {
		struct sink s = { .cap = k };
		struct vfs_dirbuf db = { .plus = plus, .add = sink_add, .data = &s };

		ck_assert_int_eq(
		    passthrough_ops.readdir(be, &root_ctx, BACKEND_ROOT_INO, fh, off, &db), 0);
		calls++;
		if (s.n == 0)
			return calls;
		for (int i = 0; i < s.n; i++) {
			ck_assert_int_lt(all->n, 256);
			memcpy(all->names[all->n], s.names[i], sizeof(s.names[0]));
			all->ino[all->n] = s.ino[i];
			all->has_entry[all->n] = s.has_entry[i];
			all->n++;
		}
		off = s.off[s.n - 1];
	}
}

static int find_name(const struct sink *s, const char *name)
{
	int found = -1;

	for (int i = 0; i < s->n; i++) {
		if (strcmp(s->names[i], name) == 0) {
			ck_assert_msg(found < 0, "%s listed twice", name);
			found = i;
		}
	}
	return found;
}

START_TEST(readdir_offsets_resume_without_repeat_or_skip)
{
	static struct sink all;
	struct vfs_open o;
	char name[32];

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		testlib_write_file(host(name), "", 0);
	}
	ck_assert_int_eq(passthrough_ops.opendir(be, &root_ctx, BACKEND_ROOT_INO, O_RDONLY, &o), 0);
	ck_assert_int_gt(list_all(false, 7, &all, o.fh), 14);
	ck_assert_int_eq(all.n, 102);
	ck_assert_int_ge(find_name(&all, "."), 0);
	ck_assert_int_eq(all.ino[find_name(&all, ".")], BACKEND_ROOT_INO);
	ck_assert_int_ge(find_name(&all, ".."), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		ck_assert_int_ge(find_name(&all, name), 0);
	}
	/* Free derived numbers need no hint: a plain READDIR keeps nothing. */
	ck_assert_uint_eq(stats().hints, 0);
	ck_assert_uint_eq(stats().inodes, 1);
	/* d_ino agrees with what lookup then hands out. */
	for (int i = 0; i < 100; i += 7) {
		snprintf(name, sizeof(name), "e%d", i);
		ck_assert_uint_eq(all.ino[find_name(&all, name)],
				  lookup_ok(BACKEND_ROOT_INO, name, NULL));
	}
	ck_assert_int_eq(stats().inodes, 1 + 15);
	passthrough_ops.releasedir(be, BACKEND_ROOT_INO, o.fh);
}
END_TEST

/*
 * fh 0 = "no open handle" (the kernel's no_opendir): every call opens the
 * directory for itself, so a listing in chunks runs across separate opens and
 * must still neither repeat nor skip, and hold no fd once a call returns.
 */
static void check_fh0_listing(int nfiles)
{
	static struct sink all;
	char name[32];
	size_t fds;
	int counted = 0;

	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "z%d", i);
		testlib_write_file(host(name), "", 0);
	}
	warm_root();
	fds = count_fds();
	ck_assert_int_gt(list_all(false, 7, &all, 0), nfiles / 7);
	ck_assert_uint_eq(count_fds(), fds); /* each call closed its own fd */
	ck_assert_int_eq(all.n, nfiles + 2);
	ck_assert_uint_eq(all.ino[find_name(&all, ".")], BACKEND_ROOT_INO);
	ck_assert_int_ge(find_name(&all, ".."), 0);
	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "z%d", i);
		ck_assert_int_ge(find_name(&all, name), 0); /* once: find_name asserts */
	}
	for (int i = 0; i < nfiles; i += 9) {
		snprintf(name, sizeof(name), "z%d", i);
		ck_assert_uint_eq(all.ino[find_name(&all, name)],
				  lookup_ok(BACKEND_ROOT_INO, name, NULL));
	}
	/* plus mode: one lookup per entry placed, none for the one that did not fit */
	list_all(true, 3, &all, 0);
	ck_assert_int_eq(all.n, nfiles + 2);
	for (int i = 0; i < all.n; i++)
		counted += all.has_entry[i];
	ck_assert_int_eq(counted, nfiles);
	ck_assert_uint_eq(stats().inodes, 1 + (size_t)nfiles);
	for (int i = 0; i < all.n; i++)
		if (all.has_entry[i])
			passthrough_ops.forget(be, all.ino[i], 1);
	for (int i = 0; i < nfiles; i += 9) { /* the lookups above, and this one */
		snprintf(name, sizeof(name), "z%d", i);
		passthrough_ops.forget(be, lookup_ok(BACKEND_ROOT_INO, name, NULL), 2);
	}
	ck_assert_uint_eq(stats().inodes, 1);
	ck_assert_uint_eq(count_fds(), fds); /* forgotten inodes hold no fd either */
}

START_TEST(readdir_without_handle_lists_in_chunks)
{
	check_fh0_listing(100);
}
END_TEST

START_TEST(readdir_without_handle_in_pinned_mode)
{
	pt_debug_force_pinned(true);
	start(8);
	pt_debug_force_pinned(false);
	check_fh0_listing(40);
}
END_TEST

START_TEST(readdir_and_fsyncdir_without_handle_of_removed_dir)
{
	struct vfs_dirbuf db;
	struct sink s = { .cap = 100 };
	uint64_t d;
	size_t fds;
	int err;

	ck_assert_int_eq(mkdir(host("gone"), 0755), 0);
	testlib_write_file(host("f"), "", 0);
	d = lookup_ok(BACKEND_ROOT_INO, "gone", NULL);
	fds = count_fds();
	ck_assert_int_eq(passthrough_ops.fsyncdir(be, d, 0, false), 0);
	ck_assert_int_eq(passthrough_ops.fsyncdir(be, d, 0, true), 0);
	db = (struct vfs_dirbuf){ .plus = false, .add = sink_add, .data = &s };
	ck_assert_int_eq(passthrough_ops.readdir(be, &root_ctx, d, 0, 0, &db), 0);
	ck_assert_int_eq(s.n, 2); /* "." and ".." */
	ck_assert_int_eq(rmdir(host("gone")), 0);
	s.n = 0;
	err = passthrough_ops.readdir(be, &root_ctx, d, 0, 0, &db);
	ck_assert_msg(err == -ENOENT || err == -ESTALE, "readdir of removed dir: %d", err);
	ck_assert_int_eq(s.n, 0);
	ck_assert_uint_eq(count_fds(), fds);
	/* not a directory / unknown: clean errors too */
	ck_assert_int_eq(passthrough_ops.readdir(be, &root_ctx,
						 lookup_ok(BACKEND_ROOT_INO, "f", NULL), 0, 0, &db),
			 -ENOTDIR);
	ck_assert_int_eq(passthrough_ops.readdir(be, &root_ctx, 999999, 0, 0, &db), -ESTALE);
	ck_assert_int_eq(passthrough_ops.fsyncdir(be, 999999, 0, false), -ESTALE);
}
END_TEST

/* fh 0 means "no handle", so no handle is ever 0: not even with stdin closed. */
START_TEST(fd_0_is_never_a_handle)
{
	struct vfs_dirbuf db;
	struct sink s = { .cap = 100 };
	struct vfs_open o, f;
	int saved = dup(0);
	uint64_t ino;

	testlib_write_file(host("f"), "x", 1);
	ino = lookup_ok(BACKEND_ROOT_INO, "f", NULL);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(close(0), 0);
	ck_assert_int_eq(passthrough_ops.opendir(be, &root_ctx, BACKEND_ROOT_INO, O_RDONLY, &o), 0);
	ck_assert_uint_ne(o.fh, 0);
	ck_assert_int_eq(passthrough_ops.open(be, &root_ctx, ino, O_RDONLY, &f), 0);
	ck_assert_uint_ne(f.fh, 0);
	db = (struct vfs_dirbuf){ .plus = false, .add = sink_add, .data = &s };
	ck_assert_int_eq(passthrough_ops.readdir(be, &root_ctx, BACKEND_ROOT_INO, o.fh, 0, &db), 0);
	ck_assert_int_eq(s.n, 3);
	passthrough_ops.release(be, ino, f.fh, O_RDONLY);
	passthrough_ops.releasedir(be, BACKEND_ROOT_INO, o.fh);
	/* and fh 0 never reaches fd 0 in the ops that need a real handle */
	ck_assert_int_eq(dup2(saved, 0), 0);
	ck_assert_int_eq(passthrough_ops.fsync(be, ino, 0, false), -EBADF);
	close(saved);
}
END_TEST

START_TEST(readdirplus_counts_only_placed_entries)
{
	struct vfs_dirbuf db;
	struct vfs_open o;
	struct sink s = { .cap = 5 };
	char name[32];
	int counted = 0;

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		testlib_write_file(host(name), "", 0);
	}
	ck_assert_int_eq(passthrough_ops.opendir(be, &root_ctx, BACKEND_ROOT_INO, O_RDONLY, &o), 0);
	db = (struct vfs_dirbuf){ .plus = true, .add = sink_add, .data = &s };
	ck_assert_int_eq(passthrough_ops.readdir(be, &root_ctx, BACKEND_ROOT_INO, o.fh, 0, &db), 0);
	ck_assert_int_eq(s.n, 5);
	for (int i = 0; i < s.n; i++) {
		bool dot = strcmp(s.names[i], ".") == 0 || strcmp(s.names[i], "..") == 0;

		ck_assert_int_eq(s.has_entry[i], !dot);
		counted += !dot;
	}
	/* root + one inode per placed entry; the entry that did not fit holds nothing */
	ck_assert_uint_eq(stats().inodes, 1 + (size_t)counted);
	for (int i = 0; i < s.n; i++)
		if (s.has_entry[i])
			passthrough_ops.forget(be, s.ino[i], 1);
	ck_assert_uint_eq(stats().inodes, 1);

	/* the full listing in plus mode: each name once, ino as lookup gives */
	static struct sink all;
	list_all(true, 3, &all, o.fh);
	ck_assert_int_eq(all.n, 22);
	ck_assert_uint_eq(stats().inodes, 21);
	int k = find_name(&all, "p7");
	ck_assert_uint_eq(all.ino[k], lookup_ok(BACKEND_ROOT_INO, "p7", NULL));
	passthrough_ops.releasedir(be, BACKEND_ROOT_INO, o.fh);
	ck_assert_int_eq(passthrough_ops.readdir(be, &root_ctx, BACKEND_ROOT_INO, o.fh, 0, &db),
			 -EBADF);
}
END_TEST

/* ---- never escape ---- */

START_TEST(dotdot_of_root_stays_at_root)
{
	struct vfs_entry e;
	uint64_t d, dd;

	ck_assert_uint_eq(lookup_ok(BACKEND_ROOT_INO, "..", &e), BACKEND_ROOT_INO);
	ck_assert_uint_eq(lookup_ok(BACKEND_ROOT_INO, ".", &e), BACKEND_ROOT_INO);
	ck_assert_int_eq(mkdir(host("d"), 0755), 0);
	ck_assert_int_eq(mkdir(host("d/dd"), 0755), 0);
	d = lookup_ok(BACKEND_ROOT_INO, "d", NULL);
	dd = lookup_ok(d, "dd", NULL);
	ck_assert_uint_eq(lookup_ok(dd, "..", NULL), d);
	ck_assert_uint_eq(lookup_ok(d, "..", NULL), BACKEND_ROOT_INO);
	ck_assert_uint_eq(lookup_ok(d, ".", NULL), d);
}
END_TEST

START_TEST(symlinks_are_never_traversed)
{
	struct vfs_entry e;
	uint64_t l, d;
	int err;

	ck_assert_int_eq(symlink("/", host("root")), 0);
	lookup_ok(BACKEND_ROOT_INO, "root", &e);
	ck_assert(S_ISLNK(e.attr.st_mode));
	l = e.ino;
	err = passthrough_ops.lookup(be, &root_ctx, l, "etc", &e);
	ck_assert_msg(err == -ENOTDIR || err == -ELOOP, "lookup through symlink: %d", err);
	ck_assert_int_eq(passthrough_ops.lookup(be, &root_ctx, l, "..", &e), -ENOTDIR);
	ck_assert_int_eq(passthrough_ops.lookup(be, &root_ctx, BACKEND_ROOT_INO, "a/b", &e),
			 -EINVAL);
	ck_assert_int_eq(passthrough_ops.mkdir(be, &root_ctx, BACKEND_ROOT_INO, "a/b", 0755, &e),
			 -EINVAL);
	ck_assert_int_eq(
	    passthrough_ops.rename(be, &root_ctx, BACKEND_ROOT_INO, "..", BACKEND_ROOT_INO, "x", 0),
	    -EINVAL);
	ck_assert_int_eq(passthrough_ops.unlink(be, &root_ctx, BACKEND_ROOT_INO, ".."), -EINVAL);
	ck_assert_int_eq(
	    passthrough_ops.link(be, &root_ctx, BACKEND_ROOT_INO, BACKEND_ROOT_INO, "..", &e),
	    -EINVAL);

	/* A directory swapped for a symlink between requests is not followed. */
	ck_assert_int_eq(mkdir(host("d"), 0755), 0);
	testlib_write_file(host("d/inside"), "", 0);
	d = lookup_ok(BACKEND_ROOT_INO, "d", NULL);
	ck_assert_int_eq(rename(host("d"), host("moved")), 0);
	ck_assert_int_eq(symlink("/etc", host("d")), 0);
	lookup_ok(BACKEND_ROOT_INO, "d", &e);
	ck_assert(S_ISLNK(e.attr.st_mode));
	ck_assert_uint_ne(e.ino, d);
	err = passthrough_ops.lookup(be, &root_ctx, e.ino, "passwd", &e);
	ck_assert_msg(err == -ENOTDIR || err == -ELOOP, "lookup through swapped dir: %d", err);
	/* the inode we had still names the moved directory, inside the source */
	lookup_ok(d, "inside", NULL);
	ck_assert_int_eq(passthrough_ops.lookup(be, &root_ctx, d, "passwd", &e), -ENOENT);
	/* and a create cannot go through the planted link */
	struct vfs_open o;
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "d", 0644,
						     O_WRONLY | O_CREAT, &e, &o),
			 -ELOOP);
}
END_TEST

START_TEST(dotdot_of_dir_moved_out_of_source_is_refused)
{
	char outside[512];
	struct vfs_entry e;
	uint64_t d;

	snprintf(outside, sizeof(outside), "%s.out", src);
	ck_assert_int_eq(mkdir(host("d"), 0755), 0);
	ck_assert_int_eq(mkdir(host("d/sub"), 0755), 0);
	d = lookup_ok(BACKEND_ROOT_INO, "d", NULL);
	uint64_t sub = lookup_ok(d, "sub", NULL);
	ck_assert_int_eq(rename(host("d"), outside), 0);
	ck_assert_int_eq(passthrough_ops.lookup(be, &root_ctx, sub, "..", &e), -EACCES);
	rename(outside, host("d"));
}
END_TEST

/* ---- ownership ---- */

START_TEST(creates_as_caller_when_root)
{
	struct op_ctx user = { .uid = 1000, .gid = 1000 };
	struct vfs_entry e;
	struct vfs_open o;
	struct stat st;

	if (geteuid() != 0) {
		fprintf(stderr, "creates_as_caller_when_root: not root; skipped\n");
		return;
	}
	ck_assert_int_eq(chmod(src, 0777), 0);
	ck_assert_int_eq(passthrough_ops.create_file(be, &user, BACKEND_ROOT_INO, "f", 0644,
						     O_WRONLY | O_CREAT, &e, &o),
			 0);
	passthrough_ops.release(be, e.ino, o.fh, 0);
	ck_assert_int_eq(passthrough_ops.mkdir(be, &user, BACKEND_ROOT_INO, "d", 0755, &e), 0);
	ck_assert_int_eq(
	    passthrough_ops.mknod(be, &user, BACKEND_ROOT_INO, "p", S_IFIFO | 0644, 0, &e), 0);
	ck_assert_int_eq(passthrough_ops.symlink(be, &user, BACKEND_ROOT_INO, "s", "f", &e), 0);
	const char *names[] = { "f", "d", "p", "s" };
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(lstat(host(names[i]), &st), 0);
		ck_assert_msg(st.st_uid == 1000 && st.st_gid == 1000, "%s owned %d:%d", names[i],
			      st.st_uid, st.st_gid);
	}
	/* The supplementary group named by the kernel is honoured in a setgid-free dir. */
	struct op_ctx supp = { .uid = 1000, .gid = 1000, .has_supp_gid = true, .supp_gid = 2000 };
	ck_assert_int_eq(chown(host("d"), 0, 2000), 0);
	ck_assert_int_eq(chmod(host("d"), 0770), 0);
	uint64_t d = lookup_ok(BACKEND_ROOT_INO, "d", NULL);
	ck_assert_int_eq(passthrough_ops.mkdir(be, &user, d, "denied", 0755, &e), -EACCES);
	ck_assert_int_eq(passthrough_ops.mkdir(be, &supp, d, "allowed", 0755, &e), 0);
	/* The thread is root again: root's create is owned by root, and handles open. */
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "r", 0644,
						     O_WRONLY | O_CREAT, &e, &o),
			 0);
	passthrough_ops.release(be, e.ino, o.fh, 0);
	ck_assert_int_eq(lstat(host("r"), &st), 0);
	ck_assert_int_eq(st.st_uid, 0);
	ck_assert_int_eq(st.st_gid, 0);
	pt_debug_evict_all(be);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, e.ino, false, 0, &st), 0);
	struct op_ctx unmapped = { .uid = 65534, .gid = 65534, .unmapped = true };
	ck_assert_int_eq(passthrough_ops.mkdir(be, &unmapped, BACKEND_ROOT_INO, "u", 0755, &e),
			 -EOVERFLOW);
}
END_TEST

/*
 * Credential switching when the daemon has many supplementary groups. Each
 * test runs in a thread of its own: the raw setgroups/capset calls change
 * that thread's credentials only, and the backend is created there, so it
 * records that thread's groups as the daemon's.
 */
#define MANY_GROUPS 40 /* more than the 32 an old fixed buffer held */

struct cred_case {
	bool drop_setgid; /* switching must then fail: nothing is created */
	bool fail_restore;
	char err[256]; /* set by the thread on a failed check */
};

static int thread_groups(gid_t *g, int max)
{
	return (int)syscall(SYS_getgroups, max, g);
}

static int drop_cap_setgid(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[0].effective &= ~(1u << CAP_SETGID);
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

#define CHECK(c, cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf((c)->err, sizeof((c)->err), __VA_ARGS__);                         \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

static void *cred_thread(void *arg)
{
	struct cred_case *c = arg;
	gid_t daemon[MANY_GROUPS], now[MANY_GROUPS + 8];
	struct op_ctx user = { .uid = 1000, .gid = 1000 };
	struct op_ctx supp = { .uid = 1000, .gid = 1000, .has_supp_gid = true, .supp_gid = 2000 };
	struct vfs_entry e;
	struct stat st;
	uint64_t d;
	int n, r;

	/* The daemon's groups include 2000, the group that owns d below. */
	for (int i = 0; i < MANY_GROUPS; i++)
		daemon[i] = (gid_t)(1990 + i);
	CHECK(c, syscall(SYS_setgroups, MANY_GROUPS, daemon) == 0, "setgroups: %d", errno);
	start(0);
	CHECK(c,
	      mkdir(host("d"), 0) == 0 && chown(host("d"), 0, 2000) == 0 &&
		  chmod(host("d"), 0770) == 0,
	      "mkdir d");
	d = lookup_ok(BACKEND_ROOT_INO, "d", NULL);
	if (c->drop_setgid) {
		CHECK(c, drop_cap_setgid() == 0, "capset");
		r = passthrough_ops.mkdir(be, &supp, d, "x", 0755, &e);
		CHECK(c, r == -EPERM, "mkdir without CAP_SETGID: %d, not -EPERM", r);
		CHECK(c, lstat(host("d/x"), &st) < 0 && errno == ENOENT, "d/x was created");
		CHECK(c, !backend_thread_spoiled(), "a refused switch spoiled the thread");
		goto out;
	}
	if (c->fail_restore) {
		pt_debug_fail_cred_restores(1);
		r = passthrough_ops.mkdir(be, &supp, d, "x", 0755, &e);
		CHECK(c, r == 0, "mkdir: %d", r);
		CHECK(c, backend_thread_spoiled(), "a failed restore left the thread unmarked");
		n = thread_groups(now, MANY_GROUPS + 8);
		CHECK(c, n == 1 && now[0] == 2000, "the thread's groups: %d", n);
		goto out;
	}
	/* The caller's group reaches d; the daemon's 2000 is not lent to a caller without it. */
	r = passthrough_ops.mkdir(be, &user, d, "denied", 0755, &e);
	CHECK(c, r == -EACCES, "mkdir without the group: %d, not -EACCES", r);
	r = passthrough_ops.mkdir(be, &supp, d, "allowed", 0755, &e);
	CHECK(c, r == 0, "mkdir with the supplementary group: %d", r);
	CHECK(c, lstat(host("d/allowed"), &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000,
	      "d/allowed owned %d:%d", st.st_uid, st.st_gid);
	/* A group the daemon is not in works too: the switch is made, whatever the count. */
	CHECK(c,
	      mkdir(host("e"), 0) == 0 && chown(host("e"), 0, 3000) == 0 &&
		  chmod(host("e"), 0770) == 0,
	      "mkdir e");
	supp.supp_gid = 3000;
	r = passthrough_ops.mkdir(be, &supp, lookup_ok(BACKEND_ROOT_INO, "e", NULL), "x", 0755, &e);
	CHECK(c, r == 0, "mkdir with supplementary group 3000: %d", r);
	/* Back to all of the daemon's groups after each. */
	n = thread_groups(now, MANY_GROUPS + 8);
	CHECK(c, n == MANY_GROUPS && !memcmp(now, daemon, sizeof(daemon)), "groups now: %d", n);
	CHECK(c, !backend_thread_spoiled(), "spoiled although every restore worked");
out:
	return NULL;
}

static void run_cred_case(struct cred_case *c)
{
	pthread_t t;

	if (geteuid() != 0) {
		fprintf(stderr, "credential tests: not root; skipped\n");
		return;
	}
	ck_assert_int_eq(pthread_create(&t, NULL, cred_thread, c), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(c->err[0] == 0, "%s", c->err);
	ck_assert(!backend_thread_spoiled()); /* only the thread that failed is marked */
}

START_TEST(creates_with_caller_groups_when_daemon_has_many)
{
	struct cred_case c = { 0 };

	run_cred_case(&c);
}
END_TEST

START_TEST(switch_that_cannot_be_made_creates_nothing)
{
	struct cred_case c = { .drop_setgid = true };

	run_cred_case(&c);
}
END_TEST

START_TEST(failed_restore_spoils_the_thread)
{
	struct cred_case c = { .fail_restore = true };

	run_cred_case(&c);
}
END_TEST

/* ---- per-mount errors ---- */

START_TEST(source_removed_gives_host_errors)
{
	struct vfs_entry e;
	struct stat st;
	uint64_t d;

	ck_assert_int_eq(mkdir(host("d"), 0755), 0);
	d = lookup_ok(BACKEND_ROOT_INO, "d", NULL);
	pt_debug_evict_all(be);
	testlib_rmtree(src);
	/* Nothing pins the root (DESIGN §10): once its fds are evicted, the
	 * removed directory is reached neither by handle nor by path. */
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, d, false, 0, &st), -ESTALE);
	ck_assert_int_eq(passthrough_ops.lookup(be, &root_ctx, BACKEND_ROOT_INO, "x", &e), -ESTALE);
	ck_assert_int_eq(passthrough_ops.create_file(be, &root_ctx, BACKEND_ROOT_INO, "x", 0644,
						     O_WRONLY | O_CREAT, &e,
						     &(struct vfs_open){ 0 }),
			 -ESTALE);
	ck_assert_int_eq(passthrough_ops.getattr(be, &root_ctx, BACKEND_ROOT_INO, false, 0, &st),
			 -ESTALE);
	mkdir(src, 0700); /* for teardown */
}
END_TEST

START_TEST(create_reports_bad_source)
{
	static char missing[] = "/nonexistent/vfsmux";
	struct mount_config c = { .type = type_name, .source = missing };
	struct backend *b = NULL;
	char err[256] = "";

	ck_assert_int_eq(passthrough_ops.create(&c, &b, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(b);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/vfsmux"));
	testlib_write_file(host("file"), "", 0);
	c.source = host("file");
	ck_assert_int_eq(passthrough_ops.create(&c, &b, err, sizeof(err)), -ENOTDIR);
	ck_assert_ptr_eq(backend_find("passthrough"), &passthrough_ops);
}
END_TEST

static void add_tests(TCase *tc)
{
	tcase_add_test(tc, lookup_gives_own_ino_and_attrs);
	tcase_add_test(tc, hard_links_share_one_ino);
	tcase_add_test(tc, forget_to_zero_frees_and_overforget_is_clamped);
	tcase_add_test(tc, host_inode_reuse_gets_fresh_ino);
	tcase_add_test(tc, forgotten_inode_holds_no_fd_and_reuse_mirrors_host);
	tcase_add_test(tc, fd_use_bounded_by_cache_with_many_inodes);
	tcase_add_test(tc, evicted_inode_reopens_by_handle);
	tcase_add_test(tc, mounts_share_one_fd_cache);
	tcase_add_test(tc, emfile_evicts_cached_fds_and_retries);
	tcase_add_test(tc, without_handles_inodes_are_reached_by_name);
	tcase_add_test(tc, pinned_mode_create_pins_the_file);
	tcase_add_test(tc, forget_storm_from_threads_keeps_counts);
	tcase_add_test(tc, source_without_handles_is_reached_by_names);
	tcase_add_test(tc, create_write_read_trunc_excl);
	tcase_add_test(tc, open_refuses_symlinks_and_dirs_for_writing);
	tcase_add_test(tc, rename_flags);
	tcase_add_test(tc, link_symlink_readlink);
	tcase_add_test(tc, mknod_fifo_socket_and_devices);
	tcase_add_test(tc, mkdir_rmdir_unlink);
	tcase_add_test(tc, setattr_mode_owner_size_times);
	tcase_add_test(tc, xattr_probe_erange_list_remove);
	tcase_add_test(tc, fallocate_seek_hole_copy_range);
	tcase_add_test(tc, statfs_and_access);
	tcase_add_test(tc, readdir_offsets_resume_without_repeat_or_skip);
	tcase_add_test(tc, readdirplus_counts_only_placed_entries);
	tcase_add_test(tc, readdir_without_handle_lists_in_chunks);
	tcase_add_test(tc, readdir_without_handle_in_pinned_mode);
	tcase_add_test(tc, readdir_and_fsyncdir_without_handle_of_removed_dir);
	tcase_add_test(tc, fd_0_is_never_a_handle);
	tcase_add_test(tc, dotdot_of_root_stays_at_root);
	tcase_add_test(tc, symlinks_are_never_traversed);
	tcase_add_test(tc, dotdot_of_dir_moved_out_of_source_is_refused);
	tcase_add_test(tc, creates_as_caller_when_root);
	tcase_add_test(tc, creates_with_caller_groups_when_daemon_has_many);
	tcase_add_test(tc, switch_that_cannot_be_made_creates_nothing);
	tcase_add_test(tc, failed_restore_spoils_the_thread);
	tcase_add_test(tc, source_removed_gives_host_errors);
	tcase_add_test(tc, create_reports_bad_source);
	tcase_add_test(tc, keep_cache_only_when_unchanged_since_last_open);
}

static Suite *passthrough_suite(void)
{
	Suite *s = suite_create("passthrough");
	TCase *ext4 = tcase_create("ext4");
	TCase *tmpfs = tcase_create("tmpfs");

	tcase_add_checked_fixture(ext4, setup_ext4, teardown);
	add_tests(ext4);
	suite_add_tcase(s, ext4);
	tcase_add_checked_fixture(tmpfs, setup_tmpfs, teardown);
	add_tests(tmpfs);
	suite_add_tcase(s, tmpfs);
	return s;
}

int main(void)
{
	return testlib_run(passthrough_suite());
}
