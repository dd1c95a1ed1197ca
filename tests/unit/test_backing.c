/*
 * tests/unit/test_backing.c - the per-node backing-id table of kernel
 * passthrough (server/backing.c), with the ioctls replaced by a fake that
 * records which ids are open.
 */
#include "server/backing.h"
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct fake {
	int next_id;
	int fail; /* open fails with this errno when set */
	int opens, closes;
	int open_ids[64]; /* 1 while registered */
	int last_fd;
};

static int fake_open(void *data, int fd)
{
	struct fake *f = data;

	f->last_fd = fd;
	if (f->fail)
		return -f->fail;
	f->opens++;
	f->open_ids[++f->next_id] = 1;
	return f->next_id;
}

static int fake_close(void *data, int id)
{
	struct fake *f = data;

	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(f->open_ids[id], 1); /* never closed twice, never unknown */
	f->open_ids[id] = 0;
	f->closes++;
	return 0;
}

static struct backing_table *table(struct fake *f)
{
	const struct backing_ops ops = { fake_open, fake_close, f };
	struct backing_table *t;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(backing_table_new(&ops, &t), 0);
	return t;
}

/* Opens of one node share one id; the id closes with the last release, not before. */
START_TEST(opens_of_one_node_share_an_id_until_the_last_release)
{
	struct fake f;
	struct backing_table *t = table(&f);
	int a = backing_acquire(t, 0x10005, 107, 7);
	int b = backing_acquire(t, 0x10005, 109, 9);

	ck_assert_int_gt(a, 0);
	ck_assert_int_eq(b, a);
	ck_assert_int_eq(f.opens, 1);
	ck_assert_int_eq(f.last_fd, 7); /* the first open's fd was registered */
	backing_release(t, 0x10005, 107);
	ck_assert_int_eq(f.closes, 0);
	ck_assert_uint_eq(backing_count(t), 1);
	backing_release(t, 0x10005, 109);
	ck_assert_int_eq(f.closes, 1);
	ck_assert_uint_eq(backing_count(t), 0);
	/* A new open after that registers afresh. */
	ck_assert_int_gt(backing_acquire(t, 0x10005, 107, 7), a);
	backing_release(t, 0x10005, 107);
	backing_table_free(t);
	ck_assert_int_eq(f.opens, f.closes);
}
END_TEST

/*
 * Opens of one node that never acquired (direct I/O, no backing fd: the
 * dispatcher does not call backing_acquire for them) give nothing back at
 * their RELEASE: the id stays with the passthrough opens still using it, and
 * a later open shares it instead of registering a second backing file.
 */
START_TEST(a_release_of_an_open_that_acquired_nothing_keeps_the_id)
{
	struct fake f;
	struct backing_table *t = table(&f);
	int a = backing_acquire(t, 0x20001, 11, 11);

	ck_assert_int_gt(a, 0);
	backing_release(t, 0x20001, 12); /* the direct-I/O open fh 12 of the same node */
	ck_assert_int_eq(f.closes, 0);
	ck_assert_uint_eq(backing_count(t), 1);
	ck_assert_int_eq(backing_acquire(t, 0x20001, 13, 13), a);
	ck_assert_int_eq(f.opens, 1);
	backing_release(t, 0x20001, 11);
	ck_assert_int_eq(f.closes, 0);
	backing_release(t, 0x20001, 11); /* twice the same fh: the second holds nothing */
	ck_assert_int_eq(f.closes, 0);
	backing_release(t, 0x20001, 13);
	ck_assert_int_eq(f.closes, 1);
	ck_assert_uint_eq(backing_count(t), 0);
	backing_table_free(t);
}
END_TEST

/*
 * The kernel refuses a passthrough open while a cached open of the inode lives
 * (ETXTBSY): once registration failed, the node stays plain until all its
 * opens are gone, even if registration would work again.
 */
START_TEST(a_failed_registration_keeps_the_node_plain_until_released)
{
	struct fake f;
	struct backing_table *t = table(&f);

	f.fail = ELOOP;
	ck_assert_int_eq(backing_acquire(t, 42, 1, 5), 0);
	f.fail = 0;
	ck_assert_int_eq(backing_acquire(t, 42, 2, 6), 0);
	ck_assert_int_eq(f.opens, 0);
	/* Other nodes are not affected. */
	ck_assert_int_gt(backing_acquire(t, 43, 1, 8), 0);
	backing_release(t, 42, 1);
	ck_assert_int_eq(backing_acquire(t, 42, 3, 6), 0); /* one plain open still lives */
	backing_release(t, 42, 2);
	backing_release(t, 42, 3);
	ck_assert_int_gt(backing_acquire(t, 42, 4, 6), 0); /* all gone: passthrough again */
	backing_release(t, 42, 4);
	backing_release(t, 43, 1);
	ck_assert_uint_eq(backing_count(t), 0);
	ck_assert_int_eq(f.closes, f.opens);
	backing_table_free(t);
}
END_TEST

/*
 * EPERM (no CAP_SYS_ADMIN) will never change: later opens do not ask again,
 * and passthrough opens made before keep their id until released.
 */
START_TEST(eperm_stops_all_further_registrations)
{
	struct fake f;
	struct backing_table *t = table(&f);
	int id = backing_acquire(t, 1, 1, 3);

	ck_assert_int_gt(id, 0);
	f.fail = EPERM;
	ck_assert_int_eq(backing_acquire(t, 2, 1, 4), 0);
	f.fail = 0;
	ck_assert_int_eq(backing_acquire(t, 3, 1, 5), 0);
	/* A node with a live id keeps using it: mixing modes would give ETXTBSY. */
	ck_assert_int_eq(backing_acquire(t, 1, 2, 6), id);
	ck_assert_int_eq(f.opens, 1);
	backing_release(t, 3, 1); /* untracked: ignored */
	backing_release(t, 2, 1);
	backing_release(t, 1, 1);
	ck_assert_int_eq(f.closes, 0);
	backing_release(t, 1, 2);
	ck_assert_int_eq(f.closes, 1);
	ck_assert_int_eq(backing_acquire(t, 1, 3, 6), 0); /* and no new id after that */
	ck_assert_uint_eq(backing_count(t), 0);
	backing_table_free(t);
}
END_TEST

/* A release for a node the table never saw (memfs, no backing fd) changes nothing. */
START_TEST(release_of_an_unknown_node_is_ignored)
{
	struct fake f;
	struct backing_table *t = table(&f);

	ck_assert_int_gt(backing_acquire(t, 1, 1, 3), 0);
	backing_release(t, 2, 1);
	ck_assert_uint_eq(backing_count(t), 1);
	ck_assert_int_eq(f.closes, 0);
	backing_table_free(t); /* closes what is still registered */
	ck_assert_int_eq(f.closes, 1);
}
END_TEST

/* Many nodes: the table grows and still finds each one. */
START_TEST(many_nodes_grow_the_table)
{
	struct fake f;
	struct backing_table *t = table(&f);
	const uint64_t n = 5000;

	f.fail = EINVAL; /* plain entries: no ids needed, same bookkeeping */
	for (uint64_t i = 1; i <= n; i++)
		ck_assert_int_eq(backing_acquire(t, i << 16, i, 3), 0);
	ck_assert_uint_eq(backing_count(t), n);
	for (uint64_t i = 1; i <= n; i++)
		backing_release(t, i << 16, i);
	ck_assert_uint_eq(backing_count(t), 0);
	backing_table_free(t);
}
END_TEST

/*
 * The real ioctls on something that is not /dev/fuse fail cleanly, each with
 * the errno the kernel gave: EBADF for no fd, ENOTTY for a device without them.
 * On a /dev/fuse fd not (yet) tied to a mount, the kernel knows both requests
 * and refuses them with EPERM; a wrong request number or argument size would
 * give ENOTTY there too.
 */
START_TEST(ioctls_on_a_non_fuse_fd_fail_with_an_errno)
{
	int fd = -1;

	ck_assert_int_eq(backing_ioctl_open(&fd, 0), -EBADF);
	ck_assert_int_eq(backing_ioctl_close(&fd, 1), -EBADF);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(backing_ioctl_open(&fd, 0), -ENOTTY);
	ck_assert_int_eq(backing_ioctl_close(&fd, 1), -ENOTTY);
	close(fd);
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "no /dev/fuse (%s): its ioctls not checked\n", strerror(errno));
		return;
	}
	ck_assert_int_eq(backing_ioctl_open(&fd, 0), -EPERM);
	ck_assert_int_eq(backing_ioctl_close(&fd, 1), -EPERM);
	close(fd);
}
END_TEST

static Suite *backing_suite(void)
{
	Suite *s = suite_create("backing");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, opens_of_one_node_share_an_id_until_the_last_release);
	tcase_add_test(tc, a_release_of_an_open_that_acquired_nothing_keeps_the_id);
	tcase_add_test(tc, a_failed_registration_keeps_the_node_plain_until_released);
	tcase_add_test(tc, eperm_stops_all_further_registrations);
	tcase_add_test(tc, release_of_an_unknown_node_is_ignored);
	tcase_add_test(tc, many_nodes_grow_the_table);
	tcase_add_test(tc, ioctls_on_a_non_fuse_fd_fail_with_an_errno);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(backing_suite());
}
