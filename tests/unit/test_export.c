/*
 * tests/unit/test_export.c - what FUSE_EXPORT_SUPPORT brings, through the
 * dispatcher with raw request bytes (issue 15 items 13 and 8): LOOKUP of "."
 * and ".." on every kind of node (the kernel's fuse_get_parent and handle
 * decoding), each reply counted as a lookup, generations of reused numbers,
 * and a passthrough source removed while mounted.
 *
 * The vfs is real: a pseudofs with a memfs at /a/b (index 1) and a passthrough
 * of a fresh directory under /tmp at /p (index 2).
 */
#include "config/config.h"
#include "server/fuse_kernel.h"
#include "server/log.h"
#include "server/session.h"
#include "testlib.h"
#include "vfs/vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REPLIES 8
#define MEMFS	    1
#define PT	    2

struct captured {
	struct fuse_out_header hdr;
	uint8_t data[8192];
	size_t datalen;
};

static struct captured cap[MAX_REPLIES];
static size_t ncap;
static struct vfsmux_config cfg;
static struct mount_config mounts[2];
static struct vfs *vfs;
static struct session *se;
static uint64_t next_unique = 1;
static char *src;
static int gone_logs;

static int capture(void *data, const struct iovec *iov, int iovcnt)
{
	uint8_t all[sizeof(struct fuse_out_header) + sizeof(cap[0].data)];
	size_t len = 0;

	(void)data;
	if (ncap == MAX_REPLIES)
		ncap = 0; /* only the last replies matter here */
	for (int i = 0; i < iovcnt; i++) {
		ck_assert_uint_le(len + iov[i].iov_len, sizeof(all));
		memcpy(all + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	memcpy(&cap[ncap].hdr, all, sizeof(cap[ncap].hdr));
	ck_assert_uint_eq(cap[ncap].hdr.len, len);
	cap[ncap].datalen = len - sizeof(struct fuse_out_header);
	memcpy(cap[ncap].data, all + sizeof(struct fuse_out_header), cap[ncap].datalen);
	ncap++;
	return 0;
}

static const struct captured *send_req(uint32_t opcode, uint64_t nodeid, const void *arg,
				       size_t arglen)
{
	uint8_t buf[4096];
	struct fuse_in_header h = { 0 };
	size_t before = ncap;

	ck_assert_uint_le(sizeof(h) + arglen, sizeof(buf));
	h.len = (uint32_t)(sizeof(h) + arglen);
	h.opcode = opcode;
	h.unique = next_unique++;
	h.nodeid = nodeid;
	h.pid = 1;
	memcpy(buf, &h, sizeof(h));
	if (arglen)
		memcpy(buf + sizeof(h), arg, arglen);
	session_process(se, buf, h.len);
	ck_assert_uint_ne(ncap, before); /* exactly one reply, and it came */
	return &cap[ncap - 1];
}

static const struct captured *init_offering(uint32_t flags)
{
	struct fuse_init_in in = { .major = 7, .minor = 41, .max_readahead = 131072 };
	const struct captured *r;

	in.flags = flags | FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_INIT_EXT;
	r = send_req(FUSE_INIT, 0, &in, sizeof(in));
	ck_assert_int_eq(r->hdr.error, 0);
	return r;
}

static void log_sink(enum vlog_level lvl, const char *msg, void *data)
{
	(void)lvl;
	(void)data;
	if (strstr(msg, "was removed while mounted"))
		gone_logs++;
}

static void setup(void)
{
	struct session_opts so = {
		.threads = 1, .max_threads = 1, .max_write = 131072, .ready_fd = -1
	};
	char err[256];

	src = testlib_tmpdir();
	memset(&cfg, 0, sizeof(cfg));
	memset(mounts, 0, sizeof(mounts));
	cfg.file = (char *)"test.yaml";
	cfg.timeouts = (struct config_timeouts){ 1.0, 1.0, 0.0 };
	cfg.pseudofs = (struct config_pseudofs){ 0755, 0, 0 };
	mounts[0].path = (char *)"/a/b";
	mounts[0].type = (char *)"memfs";
	mounts[1].path = (char *)"/p";
	mounts[1].type = (char *)"passthrough";
	mounts[1].source = src;
	for (int i = 0; i < 2; i++) {
		mounts[i].timeouts = cfg.timeouts;
		mounts[i].root_mode = 0755;
	}
	cfg.mounts = mounts;
	cfg.nmounts = 2;
	ncap = 0;
	gone_logs = 0;
	vlog_set_sink(log_sink, NULL);
	ck_assert_int_eq(vfs_create(&cfg, &vfs, err, sizeof(err)), 0);
	ck_assert_int_eq(session_create(vfs, -1, &so, &se), 0);
	session_set_writer(se, capture, NULL);
	init_offering(FUSE_EXPORT_SUPPORT);
}

static void teardown(void)
{
	session_destroy(se);
	vfs_destroy(vfs);
	vlog_set_sink(NULL, NULL);
	testlib_rmtree(src);
	free(src);
}

/* Kernel references outstanding on a mount (index 0: the pseudofs). */
static uint64_t lookups(uint16_t index)
{
	struct vfs_mount_stats st;

	ck_assert_int_eq(vfs_mount_stats(vfs, index, &st), 0);
	return st.lookups;
}

static int lookup(uint64_t parent, const char *name, struct fuse_entry_out *eo)
{
	const struct captured *r = send_req(FUSE_LOOKUP, parent, name, strlen(name) + 1);

	if (r->hdr.error)
		return r->hdr.error;
	ck_assert_uint_eq(r->datalen, sizeof(*eo));
	memcpy(eo, r->data, sizeof(*eo));
	ck_assert_uint_eq(eo->attr.ino, eo->nodeid); /* st_ino = nodeid, always */
	return 0;
}

static struct fuse_entry_out lookup_ok(uint64_t parent, const char *name)
{
	struct fuse_entry_out eo;

	ck_assert_int_eq(lookup(parent, name, &eo), 0);
	return eo;
}

/* LOOKUP(parent, name) answers want and adds exactly one reference on index. */
static struct fuse_entry_out lookup_counted(uint64_t parent, const char *name, uint64_t want,
					    uint16_t index)
{
	uint64_t before = lookups(index);
	struct fuse_entry_out eo = lookup_ok(parent, name);

	ck_assert_uint_eq(eo.nodeid, want);
	ck_assert_uint_eq(lookups(index), before + 1);
	return eo;
}

static void forget(uint64_t nodeid, uint64_t n)
{
	uint8_t buf[sizeof(struct fuse_in_header) + sizeof(struct fuse_forget_in)];
	struct fuse_in_header h = { .len = sizeof(buf), .opcode = FUSE_FORGET, .nodeid = nodeid };
	struct fuse_forget_in in = { .nlookup = n };
	size_t before = ncap;

	h.unique = next_unique++;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &in, sizeof(in));
	session_process(se, buf, sizeof(buf));
	ck_assert_uint_eq(ncap, before); /* FORGET gets no reply */
}

static struct fuse_entry_out mknod_in(uint64_t parent, const char *name, uint32_t mode)
{
	uint8_t arg[128];
	struct fuse_mknod_in in = { .mode = mode };
	struct fuse_mkdir_in din = { .mode = mode };
	size_t fixed = S_ISDIR(mode) ? sizeof(din) : sizeof(in);
	struct fuse_entry_out eo;
	const struct captured *r;

	memcpy(arg, S_ISDIR(mode) ? (const void *)&din : (const void *)&in, fixed);
	memcpy(arg + fixed, name, strlen(name) + 1);
	r = send_req(S_ISDIR(mode) ? FUSE_MKDIR : FUSE_MKNOD, parent, arg,
		     fixed + strlen(name) + 1);
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&eo, r->data, sizeof(eo));
	return eo;
}

START_TEST(init_offers_export_support)
{
	struct fuse_init_out out;
	const struct captured *r;

	/* setup() already did INIT; a fresh session shows the reply. */
	session_destroy(se);
	ck_assert_int_eq(session_create(vfs, -1,
					&(struct session_opts){ .threads = 1,
								.max_threads = 1,
								.max_write = 131072,
								.ready_fd = -1 },
					&se),
			 0);
	session_set_writer(se, capture, NULL);
	r = init_offering(FUSE_EXPORT_SUPPORT);
	memcpy(&out, r->data, sizeof(out));
	ck_assert(out.flags & FUSE_EXPORT_SUPPORT);
}
END_TEST

START_TEST(dot_and_dotdot_in_the_pseudofs)
{
	struct fuse_entry_out a;

	lookup_counted(FUSE_ROOT_ID, ".", FUSE_ROOT_ID, 0);
	lookup_counted(FUSE_ROOT_ID, "..", FUSE_ROOT_ID, 0); /* the root is its own parent */
	a = lookup_ok(FUSE_ROOT_ID, "a");
	lookup_counted(a.nodeid, ".", a.nodeid, 0);
	lookup_counted(a.nodeid, "..", FUSE_ROOT_ID, 0);
	ck_assert_int_eq(lookup(vfs_nodeid(0, 999), ".", &a), -ESTALE);
}
END_TEST

/* For a backend at index whose root's parent is pseudo directory up. */
static void check_backend(uint16_t index, uint64_t up)
{
	uint64_t root = vfs_nodeid(index, BACKEND_ROOT_INO);
	struct fuse_entry_out d, f, e;

	/* The mount root: "." itself, ".." the pseudo directory above it. */
	lookup_counted(root, ".", root, index);
	lookup_counted(root, "..", up, 0);
	d = mknod_in(root, "d", S_IFDIR | 0755);
	f = mknod_in(d.nodeid, "f", S_IFREG | 0644);
	ck_assert_uint_eq(vfs_nodeid_index(f.nodeid), index);
	/* A directory and a file: "." of any type is itself (handle decoding). */
	e = lookup_counted(d.nodeid, ".", d.nodeid, index);
	ck_assert(S_ISDIR(e.attr.mode));
	ck_assert_uint_eq(e.generation, d.generation);
	e = lookup_counted(f.nodeid, ".", f.nodeid, index);
	ck_assert(S_ISREG(e.attr.mode));
	ck_assert_uint_eq(e.generation, f.generation);
	lookup_counted(d.nodeid, "..", root, index);
	/* ".." of a file is no directory's business. */
	ck_assert_int_eq(lookup(f.nodeid, "..", &e), -ENOTDIR);
	/* A number the backend never gave. */
	ck_assert_int_eq(lookup(vfs_nodeid(index, 0x777777), ".", &e), -ESTALE);
}

START_TEST(dot_and_dotdot_in_memfs)
{
	struct fuse_entry_out a = lookup_ok(FUSE_ROOT_ID, "a");

	check_backend(MEMFS, a.nodeid);
}
END_TEST

START_TEST(dot_and_dotdot_in_passthrough)
{
	check_backend(PT, FUSE_ROOT_ID);
}
END_TEST

/* The kernel forgot a file; decoding its handle asks "." and gets it back, same generation. */
START_TEST(dot_of_a_forgotten_file_finds_it_again)
{
	static const uint16_t idx[] = { MEMFS, PT };

	for (size_t k = 0; k < 2; k++) {
		uint64_t root = vfs_nodeid(idx[k], BACKEND_ROOT_INO);
		struct fuse_entry_out f = mknod_in(root, "kept", S_IFREG | 0644), e;

		forget(f.nodeid, 1);
		e = lookup_counted(f.nodeid, ".", f.nodeid, idx[k]);
		ck_assert_uint_eq(e.generation, f.generation);
		ck_assert(S_ISREG(e.attr.mode));
	}
}
END_TEST

/* A handle of a removed file is stale, even while the backend still knows it. */
START_TEST(dot_of_a_removed_file_is_estale)
{
	static const uint16_t idx[] = { MEMFS, PT };

	for (size_t k = 0; k < 2; k++) {
		uint64_t root = vfs_nodeid(idx[k], BACKEND_ROOT_INO);
		struct fuse_entry_out f = mknod_in(root, "gone", S_IFREG | 0644), e;
		const struct captured *r = send_req(FUSE_UNLINK, root, "gone", 5);
		uint64_t before;

		ck_assert_int_eq(r->hdr.error, 0);
		before = lookups(idx[k]);
		ck_assert_int_eq(lookup(f.nodeid, ".", &e), -ESTALE); /* still held: nlink 0 */
		ck_assert_uint_eq(lookups(idx[k]), before);	      /* nothing counted */
		forget(f.nodeid, 1);
		ck_assert_int_eq(lookup(f.nodeid, ".", &e), -ESTALE); /* forgotten too */
	}
}
END_TEST

START_TEST(removed_source_answers_estale_and_logs_once)
{
	uint64_t root = vfs_nodeid(PT, BACKEND_ROOT_INO);
	struct fuse_read_in rin = { .size = 4096 };
	struct fuse_getattr_in gin = { 0 };
	struct fuse_entry_out e;
	uint8_t arg[64];
	struct fuse_mkdir_in min = { .mode = 0755 };

	ck_assert_int_eq(lookup(root, "nothing", &e), -ENOENT); /* alive: a plain ENOENT */
	ck_assert_int_eq(rmdir(src), 0);
	ck_assert_int_eq(lookup(root, "nothing", &e), -ESTALE);
	ck_assert_int_eq(send_req(FUSE_GETATTR, root, &gin, sizeof(gin))->hdr.error, -ESTALE);
	ck_assert_int_eq(send_req(FUSE_READDIR, root, &rin, sizeof(rin))->hdr.error, -ESTALE);
	memcpy(arg, &min, sizeof(min));
	memcpy(arg + sizeof(min), "new", 4);
	ck_assert_int_eq(send_req(FUSE_MKDIR, root, arg, sizeof(min) + 4)->hdr.error, -ESTALE);
	/* The mount point in its pseudo directory answers the same. */
	ck_assert_int_eq(lookup(FUSE_ROOT_ID, "p", &e), -ESTALE);
	/* A new directory at the path is another one: still gone. */
	ck_assert_int_eq(mkdir(src, 0755), 0);
	ck_assert_int_eq(lookup(root, ".", &e), -ESTALE);
	ck_assert_int_eq(gone_logs, 1);
	/* The other mount is untouched. */
	lookup_ok(vfs_nodeid(MEMFS, BACKEND_ROOT_INO), ".");
}
END_TEST

/* The first sign may be an empty listing or a root with no links. */
START_TEST(removed_source_is_seen_from_a_listing_or_a_stat)
{
	uint64_t root = vfs_nodeid(PT, BACKEND_ROOT_INO);
	struct fuse_read_in rin = { .size = 4096 };
	struct fuse_getattr_in gin = { 0 };

	ck_assert_int_eq(rmdir(src), 0);
	ck_assert_int_eq(send_req(FUSE_READDIR, root, &rin, sizeof(rin))->hdr.error, -ESTALE);
	ck_assert_int_eq(gone_logs, 1);
	teardown();
	setup();
	ck_assert_int_eq(rmdir(src), 0);
	ck_assert_int_eq(send_req(FUSE_GETATTR, root, &gin, sizeof(gin))->hdr.error, -ESTALE);
	ck_assert_int_eq(gone_logs, 1);
}
END_TEST

static Suite *export_suite(void)
{
	Suite *s = suite_create("export");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_offers_export_support);
	tcase_add_test(tc, dot_and_dotdot_in_the_pseudofs);
	tcase_add_test(tc, dot_and_dotdot_in_memfs);
	tcase_add_test(tc, dot_and_dotdot_in_passthrough);
	tcase_add_test(tc, dot_of_a_forgotten_file_finds_it_again);
	tcase_add_test(tc, dot_of_a_removed_file_is_estale);
	tcase_add_test(tc, removed_source_answers_estale_and_logs_once);
	tcase_add_test(tc, removed_source_is_seen_from_a_listing_or_a_stat);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(export_suite());
}
