/*
 * tests/unit/test_mountinfo.c - server/mountinfo.c on lines written as the
 * kernel writes them, odd names included (space, tab, newline, backslash
 * arrive as \040, \011, \012, \134).
 */
#include "server/mountinfo.h"
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static struct mountinfo mi;

START_TEST(plain_line_is_decoded)
{
	ck_assert_int_eq(mountinfo_parse("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 "
					 "/dev/root rw,errors=continue\n",
					 &mi),
			 0);
	ck_assert_uint_eq(mi.id, 36);
	ck_assert_uint_eq(mi.parent, 35);
	ck_assert_uint_eq(mi.dev, makedev(98, 0));
	ck_assert_str_eq(mi.point, "/mnt2");
	ck_assert_str_eq(mi.fstype, "ext3");
	ck_assert_str_eq(mi.source, "/dev/root");
	ck_assert_str_eq(mi.super_opts, "rw,errors=continue");
	ck_assert(!mountinfo_is_fuse(&mi));
}
END_TEST

START_TEST(no_optional_fields_and_several_of_them)
{
	ck_assert_int_eq(mountinfo_parse("49 27 0:44 / /m rw,nosuid - fuse.vfsmux vfsmux "
					 "rw,user_id=0,group_id=0",
					 &mi),
			 0);
	ck_assert_str_eq(mi.fstype, "fuse.vfsmux");
	ck_assert(mountinfo_is_fuse(&mi));
	ck_assert_int_eq(mountinfo_parse("50 49 0:45 / /m rw shared:7 master:2 propagate_from:1 "
					 "unbindable - fuse src rw",
					 &mi),
			 0);
	ck_assert_str_eq(mi.fstype, "fuse");
	ck_assert_str_eq(mi.source, "src");
	ck_assert(mountinfo_is_fuse(&mi));
	ck_assert_int_eq(mountinfo_parse("51 49 8:1 / /b rw - fuseblk /dev/sda1 rw", &mi), 0);
	ck_assert(mountinfo_is_fuse(&mi));
	ck_assert_int_eq(mountinfo_parse("52 49 0:46 / /c rw - fusectl fusectl rw", &mi), 0);
	ck_assert(!mountinfo_is_fuse(&mi)); /* "fuse" as a prefix only before a '.' */
}
END_TEST

START_TEST(escaped_names_are_decoded)
{
	ck_assert_int_eq(mountinfo_parse("60 27 0:50 / /tmp/a\\040dir/with\\011tab\\012nl\\134bs "
					 "rw - fuse.vfsmux my\\040source\\134x rw,user_id=0",
					 &mi),
			 0);
	ck_assert_str_eq(mi.point, "/tmp/a dir/with\ttab\nnl\\bs");
	ck_assert_str_eq(mi.source, "my source\\x");
	ck_assert_str_eq(mi.fstype, "fuse.vfsmux");
}
END_TEST

START_TEST(incomplete_escape_is_kept_as_written)
{
	ck_assert_int_eq(mountinfo_parse("61 27 0:50 / /a\\04 rw - tmpfs x\\9zz\\ rw", &mi), 0);
	ck_assert_str_eq(mi.point, "/a\\04");
	ck_assert_str_eq(mi.source, "x\\9zz\\");
}
END_TEST

START_TEST(malformed_lines_are_einval)
{
	static const char *const bad[] = {
		"",
		"\n",
		"x 27 0:50 / /a rw - tmpfs x rw",
		"61 27 0-50 / /a rw - tmpfs x rw",
		"61 27 0:50 / /a rw tmpfs x rw",       /* no "-" */
		"61 27 0:50 / /a rw shared:1 - tmpfs", /* no source */
		"61 27 0:50 / /a",
		"61 27 99999999999:0 / /a rw - tmpfs x rw",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mountinfo_parse(bad[i], &mi) == -EINVAL, "accepted [%s]", bad[i]);
}
END_TEST

START_TEST(long_fields_are_truncated)
{
	char line[3000], src[2000];

	memset(src, 's', sizeof(src) - 1);
	src[sizeof(src) - 1] = '\0';
	snprintf(line, sizeof(line), "62 27 0:50 / /a rw - tmpfs %s rw", src);
	ck_assert_int_eq(mountinfo_parse(line, &mi), 0);
	ck_assert_uint_eq(strlen(mi.source), sizeof(mi.source) - 1);
	ck_assert_str_eq(mi.super_opts, "rw");
}
END_TEST

START_TEST(find_by_id_in_a_file)
{
	char *dir = testlib_tmpdir(), path[600];
	static const char text[] = "20 1 0:1 / / rw - ext4 /dev/vda rw\n"
				   "garbage line\n"
				   "49 20 0:44 / /m\\040x rw - fuse.vfsmux vfsmux rw,user_id=1000\n"
				   "50 49 0:45 / /m\\040x rw - tmpfs none rw\n";

	snprintf(path, sizeof(path), "%s/mountinfo", dir);
	testlib_write_file(path, text, sizeof(text) - 1);
	ck_assert_int_eq(mountinfo_find(path, 49, &mi), 0);
	ck_assert_str_eq(mi.point, "/m x");
	ck_assert_str_eq(mi.fstype, "fuse.vfsmux");
	ck_assert_int_eq(mountinfo_find(path, 50, &mi), 0);
	ck_assert_str_eq(mi.fstype, "tmpfs");
	ck_assert_int_eq(mountinfo_find(path, 51, &mi), -ENOENT);
	unlink(path);
	ck_assert_int_eq(mountinfo_find(path, 49, &mi), -ENOENT); /* no such file */
	testlib_rmtree(dir);
	free(dir);
}
END_TEST

/* Our own table: the mount "/proc" is on is found by the id statx gives. */
START_TEST(find_a_live_mount_by_its_statx_id)
{
	struct statx sx;

	ck_assert_int_eq(statx(AT_FDCWD, "/proc", 0, STATX_MNT_ID, &sx), 0);
	ck_assert(sx.stx_mask & STATX_MNT_ID);
	ck_assert_int_eq(mountinfo_find(NULL, sx.stx_mnt_id, &mi), 0);
	ck_assert_str_eq(mi.point, "/proc");
	ck_assert_str_eq(mi.fstype, "proc");
	ck_assert_uint_eq(mi.dev, makedev(sx.stx_dev_major, sx.stx_dev_minor));
	ck_assert_int_eq(mountinfo_find(NULL, UINT64_MAX, &mi), -ENOENT);
}
END_TEST

START_TEST(numeric_options)
{
	unsigned int v = 7;

	ck_assert_int_eq(mountinfo_opt_uint("rw,user_id=1000,group_id=100", "user_id", &v), 0);
	ck_assert_uint_eq(v, 1000);
	ck_assert_int_eq(mountinfo_opt_uint("rw,user_id=1000,group_id=100", "group_id", &v), 0);
	ck_assert_uint_eq(v, 100);
	ck_assert_int_eq(mountinfo_opt_uint("rw,xuser_id=5,user_id=6", "user_id", &v), 0);
	ck_assert_uint_eq(v, 6);
	ck_assert_int_eq(mountinfo_opt_uint("rw,group_id=1", "user_id", &v), -ENOENT);
	ck_assert_int_eq(mountinfo_opt_uint("rw,user_id", "user_id", &v), -ENOENT);
	ck_assert_int_eq(mountinfo_opt_uint("user_id=x1", "user_id", &v), -EINVAL);
	ck_assert_int_eq(mountinfo_opt_uint("user_id=99999999999", "user_id", &v), -EINVAL);
	ck_assert_int_eq(mountinfo_opt_uint("", "user_id", &v), -ENOENT);
}
END_TEST

static Suite *mountinfo_suite(void)
{
	Suite *s = suite_create("mountinfo");
	TCase *tc = tcase_create("mountinfo");

	tcase_add_test(tc, plain_line_is_decoded);
	tcase_add_test(tc, no_optional_fields_and_several_of_them);
	tcase_add_test(tc, escaped_names_are_decoded);
	tcase_add_test(tc, incomplete_escape_is_kept_as_written);
	tcase_add_test(tc, malformed_lines_are_einval);
	tcase_add_test(tc, long_fields_are_truncated);
	tcase_add_test(tc, find_by_id_in_a_file);
	tcase_add_test(tc, find_a_live_mount_by_its_statx_id);
	tcase_add_test(tc, numeric_options);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(mountinfo_suite());
}
