/* tests/unit/test_pseudofs.c - the pseudo directory tree made from mount paths. */
#include "testlib.h"

#include "config/config.h"
#include "pseudofs/pseudofs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct pseudofs *ps;

/* /a/b/c (1), /a/x (2), /z (3), /a/b/d (4) */
static void setup(void)
{
	struct config_pseudofs cfg = { .mode = 0750, .uid = 1000, .gid = 100 };

	ck_assert_int_eq(pseudofs_create(&cfg, &ps), 0);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/a/b/c", 1, NULL), 0);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/a/x", 2, NULL), 0);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/z", 3, NULL), 0);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/a/b/d", 4, NULL), 0);
}

static void teardown(void)
{
	pseudofs_destroy(ps);
	ps = NULL;
}

/* Pseudo directory ino of name in dir (ck_abort when missing or a mount). */
static uint64_t dir_ino(uint64_t dir, const char *name)
{
	struct pseudofs_entry e;

	ck_assert_int_eq(pseudofs_lookup(ps, dir, name, &e), 0);
	ck_assert_uint_eq(e.mount, 0);
	return e.ino;
}

START_TEST(paths_make_directories_and_marks)
{
	struct pseudofs_entry e;
	uint64_t a, b;

	a = dir_ino(PSEUDOFS_ROOT_INO, "a");
	b = dir_ino(a, "b");
	ck_assert_uint_gt(a, PSEUDOFS_ROOT_INO);
	ck_assert_uint_ne(a, b);
	ck_assert_int_eq(pseudofs_lookup(ps, b, "c", &e), 0);
	ck_assert_uint_eq(e.mount, 1);
	ck_assert_int_eq(pseudofs_lookup(ps, b, "d", &e), 0);
	ck_assert_uint_eq(e.mount, 4);
	ck_assert_int_eq(pseudofs_lookup(ps, a, "x", &e), 0);
	ck_assert_uint_eq(e.mount, 2);
	ck_assert_int_eq(pseudofs_lookup(ps, PSEUDOFS_ROOT_INO, "z", &e), 0);
	ck_assert_uint_eq(e.mount, 3);
	ck_assert_int_eq(pseudofs_lookup(ps, PSEUDOFS_ROOT_INO, "nope", &e), -ENOENT);
	ck_assert_int_eq(pseudofs_lookup(ps, a, "c", &e), -ENOENT);
}
END_TEST

START_TEST(add_mount_reports_parent_directory)
{
	uint64_t parent = 0;

	ck_assert_int_eq(pseudofs_add_mount(ps, "/a/b/e", 5, &parent), 0);
	ck_assert_uint_eq(parent, dir_ino(dir_ino(PSEUDOFS_ROOT_INO, "a"), "b"));
	ck_assert_int_eq(pseudofs_add_mount(ps, "/top", 6, &parent), 0);
	ck_assert_uint_eq(parent, PSEUDOFS_ROOT_INO);
}
END_TEST

START_TEST(bad_and_conflicting_paths_are_refused)
{
	char longname[300];

	ck_assert_int_eq(pseudofs_add_mount(ps, "/", 9, NULL), -EINVAL);
	ck_assert_int_eq(pseudofs_add_mount(ps, "rel/x", 9, NULL), -EINVAL);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/q/../r", 9, NULL), -EINVAL);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/q/./r", 9, NULL), -EINVAL);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/new", 0, NULL), -EINVAL);
	/* the same mount path twice */
	ck_assert_int_eq(pseudofs_add_mount(ps, "/a/b/c", 9, NULL), -EEXIST);
	/* a mount inside another mount's path (nested mounts come later) */
	ck_assert_int_eq(pseudofs_add_mount(ps, "/z/inner", 9, NULL), -EINVAL);
	/* a mount at a directory that holds other mounts */
	ck_assert_int_eq(pseudofs_add_mount(ps, "/a/b", 9, NULL), -EEXIST);
	memset(longname, 'n', sizeof(longname));
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(pseudofs_add_mount(ps, longname, 9, NULL), -ENAMETOOLONG);
}
END_TEST

START_TEST(dot_and_dotdot)
{
	struct pseudofs_entry e;
	uint64_t a = dir_ino(PSEUDOFS_ROOT_INO, "a");
	uint64_t b = dir_ino(a, "b");

	ck_assert_uint_eq(dir_ino(b, "."), b);
	ck_assert_uint_eq(dir_ino(b, ".."), a);
	ck_assert_uint_eq(dir_ino(a, ".."), PSEUDOFS_ROOT_INO);
	ck_assert_uint_eq(dir_ino(PSEUDOFS_ROOT_INO, ".."), PSEUDOFS_ROOT_INO);
	ck_assert_int_eq(pseudofs_lookup(ps, 999, "a", &e), -ESTALE);
	ck_assert_int_eq(pseudofs_lookup(ps, 0, "a", &e), -ESTALE);
}
END_TEST

START_TEST(getattr_reports_config_and_subdirs)
{
	struct stat st;
	uint64_t a = dir_ino(PSEUDOFS_ROOT_INO, "a");
	struct pseudofs_entry e;

	ck_assert_int_eq(pseudofs_getattr(ps, a, &st), 0);
	ck_assert_uint_eq(st.st_ino, a);
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0750);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 100);
	ck_assert_uint_eq(st.st_nlink, 2 + 2); /* b and x */
	ck_assert_int_ne(st.st_mtim.tv_sec, 0);
	ck_assert_int_eq(pseudofs_getattr(ps, PSEUDOFS_ROOT_INO, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2 + 2); /* a and z */
	/* a mount mark's own ino is never handed out: stale */
	ck_assert_int_eq(pseudofs_lookup(ps, PSEUDOFS_ROOT_INO, "z", &e), 0);
	ck_assert_int_eq(pseudofs_getattr(ps, e.ino, &st), -ESTALE);
	ck_assert_int_eq(pseudofs_getattr(ps, 0, &st), -ESTALE);
	ck_assert_int_eq(pseudofs_getattr(ps, 12345, &st), -ESTALE);
}
END_TEST

struct listing {
	char names[16][32];
	uint64_t offs[16];
	uint16_t mounts[16];
	size_t n;
	size_t room; /* answer "full" after this many */
};

static int collect(void *data, const struct pseudofs_dirent *d)
{
	struct listing *l = data;

	if (l->n == l->room)
		return 1;
	ck_assert_uint_lt(l->n, 16);
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", d->name);
	l->offs[l->n] = d->off;
	l->mounts[l->n] = d->mount;
	l->n++;
	return 0;
}

START_TEST(readdir_lists_sorted_with_dots_first)
{
	struct listing l = { .room = 16 };

	/* add out of order: listing must still be sorted */
	ck_assert_int_eq(pseudofs_add_mount(ps, "/a/b/a0", 5, NULL), 0);
	ck_assert_int_eq(
	    pseudofs_readdir(ps, dir_ino(dir_ino(PSEUDOFS_ROOT_INO, "a"), "b"), 0, collect, &l), 0);
	ck_assert_uint_eq(l.n, 5);
	ck_assert_str_eq(l.names[0], ".");
	ck_assert_str_eq(l.names[1], "..");
	ck_assert_str_eq(l.names[2], "a0");
	ck_assert_str_eq(l.names[3], "c");
	ck_assert_str_eq(l.names[4], "d");
	ck_assert_uint_eq(l.mounts[2], 5);
	ck_assert_uint_eq(l.mounts[3], 1);
	ck_assert_uint_eq(l.mounts[4], 4);
	for (size_t i = 0; i < l.n; i++)
		ck_assert_uint_eq(l.offs[i], i + 1);
}
END_TEST

START_TEST(readdir_resumes_without_repeat_or_skip)
{
	const char *want[] = { ".", "..", "a", "m1", "m2", "m3", "z" };
	char got[8][32];
	size_t ngot = 0;
	uint64_t off = 0;

	ck_assert_int_eq(pseudofs_add_mount(ps, "/m3", 7, NULL), 0);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/m1", 5, NULL), 0);
	ck_assert_int_eq(pseudofs_add_mount(ps, "/m2", 6, NULL), 0);
	/* two entries per call, resuming from the last placed cookie */
	for (int rounds = 0; rounds < 10; rounds++) {
		struct listing l = { .room = 2 };

		ck_assert_int_eq(pseudofs_readdir(ps, PSEUDOFS_ROOT_INO, off, collect, &l), 0);
		if (l.n == 0)
			break;
		for (size_t i = 0; i < l.n; i++) {
			ck_assert_uint_lt(ngot, 8);
			snprintf(got[ngot++], sizeof(got[0]), "%s", l.names[i]);
		}
		off = l.offs[l.n - 1];
	}
	ck_assert_uint_eq(ngot, 7);
	for (size_t i = 0; i < 7; i++)
		ck_assert_str_eq(got[i], want[i]);
}
END_TEST

START_TEST(readdir_past_end_and_of_non_directory)
{
	struct listing l = { .room = 16 };
	struct pseudofs_entry e;

	ck_assert_int_eq(pseudofs_readdir(ps, PSEUDOFS_ROOT_INO, 100, collect, &l), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(pseudofs_lookup(ps, PSEUDOFS_ROOT_INO, "z", &e), 0);
	ck_assert_int_eq(pseudofs_readdir(ps, e.ino, 0, collect, &l), -ESTALE);
	ck_assert_int_eq(pseudofs_readdir(ps, 0, 0, collect, &l), -ESTALE);
}
END_TEST

static int fail_fill(void *data, const struct pseudofs_dirent *d)
{
	(void)data;
	(void)d;
	return -EIO;
}

START_TEST(readdir_passes_fill_error)
{
	ck_assert_int_eq(pseudofs_readdir(ps, PSEUDOFS_ROOT_INO, 0, fail_fill, NULL), -EIO);
}
END_TEST

START_TEST(lookup_counts_and_forget_clamps)
{
	struct pseudofs_entry e;
	uint64_t a = dir_ino(PSEUDOFS_ROOT_INO, "a"); /* 1 */

	dir_ino(PSEUDOFS_ROOT_INO, "a"); /* 2 */
	ck_assert_uint_eq(pseudofs_lookups(ps, a), 2);
	ck_assert_int_eq(pseudofs_ref(ps, a), 0); /* 3 */
	ck_assert_uint_eq(pseudofs_lookups(ps, a), 3);
	/* a mount mark is not counted */
	ck_assert_int_eq(pseudofs_lookup(ps, PSEUDOFS_ROOT_INO, "z", &e), 0);
	ck_assert_uint_eq(pseudofs_lookups(ps, e.ino), 0);
	ck_assert_int_eq(pseudofs_ref(ps, e.ino), -ESTALE);
	pseudofs_forget(ps, a, 2);
	ck_assert_uint_eq(pseudofs_lookups(ps, a), 1);
	pseudofs_forget(ps, a, 1000); /* more than held: clamped, no crash */
	ck_assert_uint_eq(pseudofs_lookups(ps, a), 0);
	pseudofs_forget(ps, 4242, 1); /* unknown: ignored */
	pseudofs_forget(ps, 0, 1);
	ck_assert_uint_eq(pseudofs_lookups(ps, 0), 0);
	dir_ino(a, "..");
	ck_assert_uint_eq(pseudofs_lookups(ps, PSEUDOFS_ROOT_INO), 1);
	ck_assert_uint_eq(pseudofs_lookups(ps, 0), 1);
}
END_TEST

START_TEST(access_by_mode_bits)
{
	uint64_t a = dir_ino(PSEUDOFS_ROOT_INO, "a");

	/* mode 0750, owner 1000:100 */
	ck_assert_int_eq(pseudofs_access(ps, a, 1000, 1, R_OK | W_OK | X_OK), 0);
	ck_assert_int_eq(pseudofs_access(ps, a, 2000, 100, R_OK | X_OK), 0);
	ck_assert_int_eq(pseudofs_access(ps, a, 2000, 100, W_OK), -EACCES);
	ck_assert_int_eq(pseudofs_access(ps, a, 2000, 200, R_OK), -EACCES);
	ck_assert_int_eq(pseudofs_access(ps, a, 2000, 200, F_OK), 0);
	ck_assert_int_eq(pseudofs_access(ps, a, 0, 0, R_OK | W_OK | X_OK), 0);
	ck_assert_int_eq(pseudofs_access(ps, 777, 0, 0, R_OK), -ESTALE);
}
END_TEST

START_TEST(root_needs_some_x_bit)
{
	struct config_pseudofs cfg = { .mode = 0644, .uid = 0, .gid = 0 };
	struct pseudofs *p2;

	ck_assert_int_eq(pseudofs_create(&cfg, &p2), 0);
	ck_assert_int_eq(pseudofs_access(p2, PSEUDOFS_ROOT_INO, 0, 0, R_OK | W_OK), 0);
	ck_assert_int_eq(pseudofs_access(p2, PSEUDOFS_ROOT_INO, 0, 0, X_OK), -EACCES);
	ck_assert_int_eq(pseudofs_access(p2, PSEUDOFS_ROOT_INO, 5, 5, R_OK), 0);
	ck_assert_int_eq(pseudofs_access(p2, PSEUDOFS_ROOT_INO, 5, 5, W_OK), -EACCES);
	pseudofs_destroy(p2);
}
END_TEST

START_TEST(statfs_is_empty_with_namemax)
{
	struct statvfs sv;

	memset(&sv, 0xff, sizeof(sv));
	pseudofs_statfs(ps, &sv);
	ck_assert_uint_eq(sv.f_namemax, 255);
	ck_assert_uint_eq(sv.f_bsize, 4096);
	ck_assert_uint_eq(sv.f_blocks, 0);
	ck_assert_uint_eq(sv.f_files, 0);
}
END_TEST

START_TEST(many_mounts_build_a_consistent_tree)
{
	char path[64];
	struct pseudofs_entry e;

	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "/deep/d%03d/m", i);
		ck_assert_int_eq(pseudofs_add_mount(ps, path, (uint16_t)(10 + i), NULL), 0);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "d%03d", i);
		ck_assert_int_eq(
		    pseudofs_lookup(ps, dir_ino(dir_ino(PSEUDOFS_ROOT_INO, "deep"), path), "m", &e),
		    0);
		ck_assert_uint_eq(e.mount, 10 + i);
	}
}
END_TEST

static Suite *pseudofs_suite(void)
{
	Suite *s = suite_create("pseudofs");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, paths_make_directories_and_marks);
	tcase_add_test(tc, add_mount_reports_parent_directory);
	tcase_add_test(tc, bad_and_conflicting_paths_are_refused);
	tcase_add_test(tc, dot_and_dotdot);
	tcase_add_test(tc, getattr_reports_config_and_subdirs);
	tcase_add_test(tc, readdir_lists_sorted_with_dots_first);
	tcase_add_test(tc, readdir_resumes_without_repeat_or_skip);
	tcase_add_test(tc, readdir_past_end_and_of_non_directory);
	tcase_add_test(tc, readdir_passes_fill_error);
	tcase_add_test(tc, lookup_counts_and_forget_clamps);
	tcase_add_test(tc, access_by_mode_bits);
	tcase_add_test(tc, root_needs_some_x_bit);
	tcase_add_test(tc, statfs_is_empty_with_namemax);
	tcase_add_test(tc, many_mounts_build_a_consistent_tree);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(pseudofs_suite());
}
