/*
 * tests/unit/test_dispatch.c - the dispatcher fed raw FUSE request bytes, no mount.
 *
 * A session with no fd records every reply through its writer; each test
 * builds requests byte by byte as the kernel would and checks the reply bytes.
 * The vfs behind it is real: a pseudofs with a memfs at /a/b and one at /c.
 */
#include "config/config.h"
#include "server/backing.h"
#include "server/fuse_kernel.h"
#include "server/session.h"
#include "testlib.h"
#include "vfs/backend.h"
#include "vfs/vfs.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLIES 16

struct captured {
	struct fuse_out_header hdr;
	uint8_t data[65536];
	size_t datalen;
};

static struct captured cap[MAX_REPLIES];
static size_t ncap;
static struct vfsmux_config cfg;
static struct mount_config mounts[2];
static struct vfs *vfs;
static struct session *se;
static uint64_t next_unique = 1;

static int capture(void *data, const struct iovec *iov, int iovcnt)
{
	uint8_t all[sizeof(struct fuse_out_header) + sizeof(cap[0].data)];
	size_t len = 0;

	(void)data;
	ck_assert_uint_lt(ncap, MAX_REPLIES);
	for (int i = 0; i < iovcnt; i++) {
		ck_assert_uint_le(len + iov[i].iov_len, sizeof(all));
		memcpy(all + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	ck_assert_uint_ge(len, sizeof(struct fuse_out_header));
	memcpy(&cap[ncap].hdr, all, sizeof(cap[ncap].hdr));
	/* What the kernel checks first: the header's len is exactly what was written. */
	ck_assert_uint_eq(cap[ncap].hdr.len, len);
	cap[ncap].datalen = len - sizeof(struct fuse_out_header);
	memcpy(cap[ncap].data, all + sizeof(struct fuse_out_header), cap[ncap].datalen);
	ncap++;
	return 0;
}

/* Build a request: header, then `arg` (arglen bytes). Returns its length. */
static size_t build(uint8_t *buf, size_t size, uint32_t opcode, uint64_t nodeid, const void *arg,
		    size_t arglen)
{
	struct fuse_in_header h = { 0 };

	ck_assert_uint_le(sizeof(h) + arglen, size);
	h.len = (uint32_t)(sizeof(h) + arglen);
	h.opcode = opcode;
	h.unique = next_unique++;
	h.nodeid = nodeid;
	h.uid = 0;
	h.gid = 0;
	h.pid = 1;
	memcpy(buf, &h, sizeof(h));
	if (arglen)
		memcpy(buf + sizeof(h), arg, arglen);
	return h.len;
}

static const struct captured *send_req(uint32_t opcode, uint64_t nodeid, const void *arg,
				       size_t arglen)
{
	uint8_t buf[8192];
	size_t before = ncap;
	size_t len = build(buf, sizeof(buf), opcode, nodeid, arg, arglen);

	session_process(se, buf, len);
	return ncap > before ? &cap[ncap - 1] : NULL;
}

/* INIT as a 7.41 kernel offering these flags (flags2: bits 32 and up). */
static const struct captured *init_offering(uint32_t flags, uint32_t flags2)
{
	struct fuse_init_in in = { 0 };
	const struct captured *r;

	in.major = 7;
	in.minor = 41;
	in.max_readahead = 131072;
	in.flags = flags;
	in.flags2 = flags2;
	r = send_req(FUSE_INIT, 0, &in, sizeof(in));
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->hdr.error, 0);
	return r;
}

#define USUAL_INIT_FLAGS                                                                           \
	(FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_INIT_EXT |                  \
	 FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS | FUSE_ASYNC_DIO)

/* INIT as a kernel offering `extra` on top of the usual flags. */
static const struct captured *do_init_with(uint32_t extra)
{
	return init_offering(USUAL_INIT_FLAGS | extra, (uint32_t)(FUSE_CREATE_SUPP_GROUP >> 32));
}

static void do_init(void)
{
	do_init_with(0);
}

static void setup(void)
{
	struct session_opts so = {
		.threads = 1, .max_threads = 1, .max_write = 131072, .ready_fd = -1
	};
	char err[256];

	memset(&cfg, 0, sizeof(cfg));
	memset(mounts, 0, sizeof(mounts));
	cfg.file = (char *)"test.yaml";
	cfg.timeouts = (struct config_timeouts){ 1.0, 1.0, 0.0 };
	cfg.pseudofs = (struct config_pseudofs){ 0755, 0, 0 };
	mounts[0].path = (char *)"/a/b";
	mounts[1].path = (char *)"/c";
	for (int i = 0; i < 2; i++) {
		mounts[i].type = (char *)"memfs";
		mounts[i].timeouts = cfg.timeouts;
		mounts[i].root_mode = 0755;
	}
	cfg.mounts = mounts;
	cfg.nmounts = 2;
	ncap = 0;
	ck_assert_int_eq(vfs_create(&cfg, &vfs, err, sizeof(err)), 0);
	ck_assert_int_eq(session_create(vfs, -1, &so, &se), 0);
	session_set_writer(se, capture, NULL);
}

static void teardown(void)
{
	session_destroy(se);
	vfs_destroy(vfs);
}

START_TEST(init_negotiates_only_offered_flags)
{
	struct fuse_init_out out;

	do_init();
	ck_assert_uint_eq(ncap, 1);
	ck_assert_uint_eq(cap[0].datalen, sizeof(out));
	memcpy(&out, cap[0].data, sizeof(out));
	ck_assert_uint_eq(out.major, 7);
	ck_assert_uint_eq(out.minor, VFSMUX_FUSE_MINOR);
	ck_assert(out.flags & FUSE_DO_READDIRPLUS);
	ck_assert(out.flags & FUSE_MAX_PAGES);
	/* Offered but not wanted: the kernel keeps locks itself (DESIGN §7). */
	ck_assert(!(out.flags & FUSE_POSIX_LOCKS));
	ck_assert(!(out.flags & FUSE_FLOCK_LOCKS));
	/* Offered but not wanted: async direct writes would leave stale pages. */
	ck_assert(!(out.flags & FUSE_ASYNC_DIO));
	/* Wanted but not offered. */
	ck_assert(!(out.flags & FUSE_ATOMIC_O_TRUNC));
	ck_assert(!(out.flags & FUSE_WRITEBACK_CACHE));
	ck_assert_uint_eq(out.flags2, (uint32_t)(FUSE_CREATE_SUPP_GROUP >> 32));
	ck_assert_uint_eq(out.max_write, 131072);
	ck_assert_uint_eq(out.max_pages, 32);
}
END_TEST

START_TEST(request_before_init_gets_eio)
{
	const struct captured *r =
	    send_req(FUSE_GETATTR, FUSE_ROOT_ID, &(struct fuse_getattr_in){ 0 },
		     sizeof(struct fuse_getattr_in));

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->hdr.error, -EIO);
}
END_TEST

START_TEST(second_init_is_refused)
{
	struct fuse_init_in in = { .major = 7, .minor = 38 };
	const struct captured *r;

	do_init();
	r = send_req(FUSE_INIT, 0, &in, sizeof(in));
	ck_assert_int_eq(r->hdr.error, -EIO);
}
END_TEST

START_TEST(newer_major_gets_version_only)
{
	struct fuse_init_in in = { .major = 8, .minor = 0 };
	const struct captured *r = send_req(FUSE_INIT, 0, &in, sizeof(in));

	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(r->datalen, FUSE_COMPAT_INIT_OUT_SIZE);
}
END_TEST

START_TEST(unknown_opcode_gets_enosys)
{
	const struct captured *r;

	do_init();
	r = send_req(9999, FUSE_ROOT_ID, NULL, 0);
	ck_assert_int_eq(r->hdr.error, -ENOSYS);
	r = send_req(FUSE_SETLKW, FUSE_ROOT_ID, NULL, 0);
	ck_assert_int_eq(r->hdr.error, -ENOSYS);
}
END_TEST

START_TEST(short_header_is_dropped)
{
	uint8_t buf[8] = { 0 };

	do_init();
	session_process(se, buf, sizeof(buf));
	ck_assert_uint_eq(ncap, 1); /* only INIT's reply */
}
END_TEST

START_TEST(len_mismatch_gets_einval)
{
	uint8_t buf[128];
	size_t len;
	struct fuse_in_header h;

	do_init();
	len = build(buf, sizeof(buf), FUSE_LOOKUP, FUSE_ROOT_ID, "a", 2);
	memcpy(&h, buf, sizeof(h));
	h.len += 10; /* claims more than was read */
	memcpy(buf, &h, sizeof(h));
	session_process(se, buf, len);
	ck_assert_int_eq(cap[ncap - 1].hdr.error, -EINVAL);
	ck_assert_uint_eq(cap[ncap - 1].hdr.unique, h.unique);
	ck_assert_uint_eq(cap[ncap - 1].datalen, 0);
}
END_TEST

START_TEST(short_fixed_args_get_einval)
{
	const struct captured *r;

	do_init();
	r = send_req(FUSE_GETATTR, FUSE_ROOT_ID, "x", 1);
	ck_assert_int_eq(r->hdr.error, -EINVAL);
	r = send_req(FUSE_READ, FUSE_ROOT_ID, NULL, 0);
	ck_assert_int_eq(r->hdr.error, -EINVAL);
}
END_TEST

START_TEST(lookup_with_unterminated_name_replies_einval)
{
	const struct captured *r;

	do_init();
	r = send_req(FUSE_LOOKUP, FUSE_ROOT_ID, "abc", 3);
	ck_assert_int_eq(r->hdr.error, -EINVAL);
	ck_assert_uint_eq(r->hdr.len, sizeof(struct fuse_out_header));
}
END_TEST

START_TEST(lookup_names_are_checked)
{
	char longname[300];
	const struct captured *r;

	do_init();
	r = send_req(FUSE_LOOKUP, FUSE_ROOT_ID, "", 1);
	ck_assert_int_eq(r->hdr.error, -EINVAL);
	r = send_req(FUSE_LOOKUP, FUSE_ROOT_ID, "a/b", 4);
	ck_assert_int_eq(r->hdr.error, -EINVAL);
	memset(longname, 'x', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	r = send_req(FUSE_LOOKUP, FUSE_ROOT_ID, longname, sizeof(longname));
	ck_assert_int_eq(r->hdr.error, -ENAMETOOLONG);
	r = send_req(FUSE_LOOKUP, FUSE_ROOT_ID, "nosuch", 7);
	ck_assert_int_eq(r->hdr.error, -ENOENT);
}
END_TEST

static struct fuse_entry_out lookup_ok(uint64_t parent, const char *name)
{
	struct fuse_entry_out eo;
	const struct captured *r = send_req(FUSE_LOOKUP, parent, name, strlen(name) + 1);

	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(r->datalen, sizeof(eo));
	memcpy(&eo, r->data, sizeof(eo));
	return eo;
}

START_TEST(lookup_and_getattr_agree_on_st_ino)
{
	struct fuse_entry_out a, b, c;
	struct fuse_attr_out ao;
	const struct captured *r;

	do_init();
	a = lookup_ok(FUSE_ROOT_ID, "a");
	ck_assert_uint_eq(vfs_nodeid_index(a.nodeid), 0); /* a pseudo directory */
	ck_assert_uint_eq(a.attr.ino, a.nodeid);
	ck_assert(S_ISDIR(a.attr.mode));
	b = lookup_ok(a.nodeid, "b");
	ck_assert_uint_eq(b.nodeid, vfs_nodeid(1, BACKEND_ROOT_INO)); /* memfs root, index 1 */
	ck_assert_uint_eq(b.attr.ino, b.nodeid);
	c = lookup_ok(FUSE_ROOT_ID, "c");
	ck_assert_uint_eq(c.nodeid, vfs_nodeid(2, BACKEND_ROOT_INO));
	r = send_req(FUSE_GETATTR, b.nodeid, &(struct fuse_getattr_in){ 0 },
		     sizeof(struct fuse_getattr_in));
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&ao, r->data, sizeof(ao));
	ck_assert_uint_eq(ao.attr.ino, b.nodeid);
	ck_assert_uint_eq(ao.attr_valid, 1);
}
END_TEST

START_TEST(getattr_of_unknown_nodeid_is_estale)
{
	const struct captured *r;

	do_init();
	r = send_req(FUSE_GETATTR, vfs_nodeid(77, 5), &(struct fuse_getattr_in){ 0 },
		     sizeof(struct fuse_getattr_in));
	ck_assert_int_eq(r->hdr.error, -ESTALE);
}
END_TEST

START_TEST(mkdir_in_pseudofs_is_erofs)
{
	uint8_t arg[64];
	struct fuse_mkdir_in in = { .mode = 0755, .umask = 022 };
	const struct captured *r;

	do_init();
	memcpy(arg, &in, sizeof(in));
	memcpy(arg + sizeof(in), "new", 4);
	r = send_req(FUSE_MKDIR, FUSE_ROOT_ID, arg, sizeof(in) + 4);
	ck_assert_int_eq(r->hdr.error, -EROFS);
}
END_TEST

/* Walk READDIRPLUS reply records; returns how many entries carry a nodeid. */
static int count_plus(const struct captured *r, uint64_t *c_nodeid)
{
	size_t pos = 0;
	int counted = 0;

	while (pos < r->datalen) {
		struct fuse_entry_out eo;
		struct fuse_dirent d;
		char name[256];

		ck_assert_uint_le(pos + FUSE_NAME_OFFSET_DIRENTPLUS, r->datalen);
		memcpy(&eo, r->data + pos, sizeof(eo));
		memcpy(&d, r->data + pos + sizeof(eo), FUSE_NAME_OFFSET);
		ck_assert_uint_lt(d.namelen, sizeof(name));
		memcpy(name, r->data + pos + FUSE_NAME_OFFSET_DIRENTPLUS, d.namelen);
		name[d.namelen] = '\0';
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			ck_assert_uint_eq(eo.nodeid, 0);
		} else {
			ck_assert_uint_eq(eo.nodeid, d.ino); /* d_ino == st_ino == nodeid */
			ck_assert_uint_eq(eo.attr.ino, d.ino);
			counted++;
			if (strcmp(name, "c") == 0)
				*c_nodeid = eo.nodeid;
		}
		pos += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + d.namelen);
	}
	ck_assert_uint_eq(pos, r->datalen);
	return counted;
}

START_TEST(readdirplus_lists_children_with_counted_entries)
{
	struct fuse_open_in oin = { .flags = O_RDONLY };
	struct fuse_open_out oo;
	struct fuse_read_in rin = { 0 };
	struct vfs_mount_stats st;
	const struct captured *r;
	uint64_t c_nodeid = 0;
	uint8_t fb[sizeof(struct fuse_forget_in)];

	do_init();
	r = send_req(FUSE_OPENDIR, FUSE_ROOT_ID, &oin, sizeof(oin));
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&oo, r->data, sizeof(oo));
	rin.fh = oo.fh;
	rin.size = 4096;
	r = send_req(FUSE_READDIRPLUS, FUSE_ROOT_ID, &rin, sizeof(rin));
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_int_eq(count_plus(r, &c_nodeid), 2); /* a, c */
	ck_assert_uint_eq(c_nodeid, vfs_nodeid(2, BACKEND_ROOT_INO));
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.lookups, 1);

	/* FORGET gets no reply and returns the reference. */
	memcpy(fb, &(struct fuse_forget_in){ .nlookup = 1 }, sizeof(fb));
	ck_assert_ptr_null(send_req(FUSE_FORGET, c_nodeid, fb, sizeof(fb)) == &cap[ncap - 1] &&
				   cap[ncap - 1].hdr.unique == next_unique - 1
			       ? &cap[ncap - 1]
			       : NULL);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.lookups, 0);

	/* Resuming from the last offset lists nothing more. */
	r = send_req(FUSE_READDIR, FUSE_ROOT_ID, &rin, sizeof(rin));
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_gt(r->datalen, 0);
	r = send_req(FUSE_RELEASEDIR, FUSE_ROOT_ID, &(struct fuse_release_in){ .fh = oo.fh },
		     sizeof(struct fuse_release_in));
	ck_assert_int_eq(r->hdr.error, 0);
}
END_TEST

/* ---- zero-message opendir (FUSE_NO_OPENDIR_SUPPORT) ---- */

#define MAX_LISTED 64

struct listing {
	int n;
	char name[MAX_LISTED][32];
	uint64_t ino[MAX_LISTED];
	uint64_t counted; /* plus: entries that carried a nodeid (lookups taken) */
};

/*
 * List dir with READDIR(PLUS) from offset 0 in replies of at most size bytes,
 * as the kernel does after opening it with fh, until an empty reply. Asserts
 * that every reply makes progress and that no name is listed twice.
 */
static int list_dir(uint64_t dir, uint64_t fh, bool plus, uint32_t size, struct listing *l)
{
	struct fuse_read_in rin = { .fh = fh, .size = size };
	size_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	int calls = 0;

	memset(l, 0, sizeof(*l));
	for (;;) {
		const struct captured *r;
		size_t pos = 0;

		ncap = 0;
		r = send_req(plus ? FUSE_READDIRPLUS : FUSE_READDIR, dir, &rin, sizeof(rin));
		ck_assert_int_eq(r->hdr.error, 0);
		ck_assert_uint_le(r->datalen, size);
		calls++;
		if (r->datalen == 0)
			return calls;
		while (pos < r->datalen) {
			struct fuse_entry_out eo = { 0 };
			struct fuse_dirent d;

			ck_assert_uint_le(pos + head, r->datalen);
			if (plus)
				memcpy(&eo, r->data + pos, sizeof(eo));
			memcpy(&d, r->data + pos + (head - FUSE_NAME_OFFSET), FUSE_NAME_OFFSET);
			ck_assert_uint_lt(d.namelen, sizeof(l->name[0]));
			ck_assert_int_lt(l->n, MAX_LISTED);
			memcpy(l->name[l->n], r->data + pos + head, d.namelen);
			l->name[l->n][d.namelen] = '\0';
			for (int i = 0; i < l->n; i++)
				ck_assert_msg(strcmp(l->name[i], l->name[l->n]) != 0,
					      "%s listed twice", l->name[i]);
			l->ino[l->n] = d.ino;
			if (plus && eo.nodeid) {
				ck_assert_uint_eq(eo.nodeid, d.ino);
				l->counted++;
			}
			ck_assert_uint_ne(d.off, 0);
			rin.offset = d.off;
			l->n++;
			pos += FUSE_DIRENT_ALIGN(head + d.namelen);
		}
		ck_assert_uint_eq(pos, r->datalen);
	}
}

static int listed(const struct listing *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->name[i], name) == 0)
			return i;
	return -1;
}

static void mkdir_in(uint64_t parent, const char *name)
{
	uint8_t arg[64];
	struct fuse_mkdir_in in = { .mode = 0755, .umask = 022 };
	size_t n = strlen(name) + 1;
	const struct captured *r;

	memcpy(arg, &in, sizeof(in));
	memcpy(arg + sizeof(in), name, n);
	ncap = 0;
	r = send_req(FUSE_MKDIR, parent, arg, sizeof(in) + n);
	ck_assert_int_eq(r->hdr.error, 0);
}

START_TEST(no_opendir_answers_enosys_and_lists_with_fh_0)
{
	const uint64_t c = vfs_nodeid(2, BACKEND_ROOT_INO);
	struct fuse_open_in oin = { .flags = O_RDONLY };
	struct fuse_init_out out;
	struct vfs_mount_stats st;
	static struct listing l;
	const struct captured *r;
	char name[16];

	r = do_init_with(FUSE_NO_OPENDIR_SUPPORT);
	memcpy(&out, r->data, sizeof(out));
	ck_assert(!(out.flags & FUSE_NO_OPENDIR_SUPPORT)); /* kernel -> server only */
	ck_assert(out.flags & FUSE_DO_READDIRPLUS);

	/* Every OPENDIR, not just the first (the kernel may race several). */
	for (int i = 0; i < 2; i++) {
		r = send_req(FUSE_OPENDIR, FUSE_ROOT_ID, &oin, sizeof(oin));
		ck_assert_int_eq(r->hdr.error, -ENOSYS);
		ck_assert_uint_eq(r->datalen, 0);
	}
	r = send_req(FUSE_OPENDIR, c, &oin, sizeof(oin));
	ck_assert_int_eq(r->hdr.error, -ENOSYS);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.handles, 0);

	/* The pseudofs root with fh 0, one entry per reply. */
	ck_assert_int_eq(list_dir(FUSE_ROOT_ID, 0, false, 40, &l), 5);
	ck_assert_int_eq(l.n, 4);
	ck_assert_int_ge(listed(&l, "."), 0);
	ck_assert_int_ge(listed(&l, ".."), 0);
	ck_assert_int_ge(listed(&l, "a"), 0);
	ck_assert_uint_eq(l.ino[listed(&l, "c")], c);
	/* ... and in plus mode: the mount root "c" is counted on mount 2. */
	ck_assert_int_gt(list_dir(FUSE_ROOT_ID, 0, true, 400, &l), 2);
	ck_assert_int_eq(l.n, 4);
	ck_assert_uint_eq(l.counted, 2);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.lookups, 1);

	/* A memfs mount with 20 children, listed 2 entries per reply. */
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		mkdir_in(c, name);
	}
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.lookups, 1 + 20);
	ck_assert_int_gt(list_dir(c, 0, false, 80, &l), 10);
	ck_assert_int_eq(l.n, 22);
	ck_assert_uint_eq(l.ino[listed(&l, ".")], c);
	ck_assert_uint_eq(l.ino[listed(&l, "..")], FUSE_ROOT_ID); /* above a mount root */
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		ck_assert_int_ge(listed(&l, name), 0);
		ncap = 0;
		/* d_ino agrees with what LOOKUP hands out */
		ck_assert_uint_eq(l.ino[listed(&l, name)], lookup_ok(c, name).nodeid);
	}
	ck_assert_int_gt(list_dir(c, 0, true, 400, &l), 10);
	ck_assert_int_eq(l.n, 22);
	ck_assert_uint_eq(l.counted, 20);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.lookups, 1 + 20 + 20 + 20); /* mkdir, lookup, plus entries */

	/* FSYNCDIR with fh 0 works; a stray RELEASEDIR releases nothing. */
	ncap = 0;
	r = send_req(FUSE_FSYNCDIR, c, &(struct fuse_fsync_in){ .fh = 0 },
		     sizeof(struct fuse_fsync_in));
	ck_assert_int_eq(r->hdr.error, 0);
	r = send_req(FUSE_RELEASEDIR, c, &(struct fuse_release_in){ .fh = 0 },
		     sizeof(struct fuse_release_in));
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.handles, 0);
}
END_TEST

START_TEST(without_no_opendir_support_opendir_still_opens)
{
	const uint64_t c = vfs_nodeid(2, BACKEND_ROOT_INO);
	struct fuse_open_in oin = { .flags = O_RDONLY };
	struct fuse_open_out oo;
	struct vfs_mount_stats st;
	static struct listing l;
	const struct captured *r;

	do_init_with(0);
	lookup_ok(FUSE_ROOT_ID, "c");
	mkdir_in(c, "x");
	r = send_req(FUSE_OPENDIR, c, &oin, sizeof(oin));
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(r->datalen, sizeof(oo));
	memcpy(&oo, r->data, sizeof(oo));
	ck_assert_uint_ne(oo.fh, 0); /* memfs: the ino */
	ck_assert(oo.open_flags & FOPEN_CACHE_DIR);
	ck_assert(oo.open_flags & FOPEN_KEEP_CACHE);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.handles, 1);
	ck_assert_int_eq(list_dir(c, oo.fh, false, 4096, &l), 2);
	ck_assert_int_eq(l.n, 3);
	ck_assert_int_ge(listed(&l, "x"), 0);
	ncap = 0;
	r = send_req(FUSE_RELEASEDIR, c, &(struct fuse_release_in){ .fh = oo.fh },
		     sizeof(struct fuse_release_in));
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.handles, 0);
}
END_TEST

START_TEST(forget_and_batch_forget_never_reply)
{
	uint8_t arg[sizeof(struct fuse_batch_forget_in) + 2 * sizeof(struct fuse_forget_one)];
	struct fuse_batch_forget_in bin = { .count = 2 };
	struct fuse_forget_one one[2] = { { vfs_nodeid(1, 1), 5 }, { vfs_nodeid(9, 9), 1 } };
	size_t before;

	do_init();
	before = ncap;
	memcpy(arg, &bin, sizeof(bin));
	memcpy(arg + sizeof(bin), one, sizeof(one));
	send_req(FUSE_BATCH_FORGET, 0, arg, sizeof(arg));
	/* A count claiming more records than the request holds: still no reply, no crash. */
	bin.count = 1000;
	memcpy(arg, &bin, sizeof(bin));
	send_req(FUSE_BATCH_FORGET, 0, arg, sizeof(arg));
	send_req(FUSE_FORGET, vfs_nodeid(1, 1), &(struct fuse_forget_in){ .nlookup = 99 },
		 sizeof(struct fuse_forget_in));
	send_req(FUSE_FORGET, FUSE_ROOT_ID, NULL, 0); /* too short */
	send_req(FUSE_INTERRUPT, 0, &(struct fuse_interrupt_in){ .unique = 3 },
		 sizeof(struct fuse_interrupt_in));
	ck_assert_uint_eq(ncap, before);
}
END_TEST

/* CREATE name (mode, no umask) in mount 2's root after INIT; entry and open out. */
static void create_in_c(const char *name, uint32_t mode, struct fuse_entry_out *eo,
			struct fuse_open_out *oo)
{
	uint8_t arg[256];
	struct fuse_create_in cin = { .flags = O_RDWR | O_CREAT, .mode = mode, .umask = 0 };
	size_t n = strlen(name) + 1;
	const struct captured *r;

	do_init();
	lookup_ok(FUSE_ROOT_ID, "c");
	memcpy(arg, &cin, sizeof(cin));
	memcpy(arg + sizeof(cin), name, n);
	r = send_req(FUSE_CREATE, vfs_nodeid(2, BACKEND_ROOT_INO), arg, sizeof(cin) + n);
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(r->datalen, sizeof(*eo) + sizeof(*oo));
	memcpy(eo, r->data, sizeof(*eo));
	memcpy(oo, r->data + sizeof(*eo), sizeof(*oo));
	ck_assert_uint_eq(vfs_nodeid_index(eo->nodeid), 2);
	ck_assert(S_ISREG(eo->attr.mode));
}

/*
 * With posix_acl (default_permissions) the server asks for POSIX_ACL,
 * DONT_MASK and SETXATTR_EXT. The create's umask then reaches the backend
 * (memfs applies it), a SETXATTR carries the extended header, and a missing
 * ACL reads as ENODATA, never EOPNOTSUPP (the pseudofs has no xattrs at all).
 */
START_TEST(posix_acl_negotiated_with_its_companions)
{
	const uint64_t acl_flags = FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT;
	struct session_opts so = { .threads = 1,
				   .max_threads = 1,
				   .max_write = 131072,
				   .ready_fd = -1,
				   .posix_acl = true };
	struct fuse_create_in cin = { .flags = O_RDWR | O_CREAT, .mode = 0666, .umask = 022 };
	struct fuse_setxattr_in xin = { .size = 1, .setxattr_flags = FUSE_SETXATTR_ACL_KILL_SGID };
	struct fuse_getxattr_in gin = { .size = 0 };
	struct fuse_init_out out;
	struct fuse_entry_out eo;
	const struct captured *r;
	uint8_t arg[256];

	r = init_offering(USUAL_INIT_FLAGS | (uint32_t)acl_flags, 0);
	memcpy(&out, r->data, sizeof(out));
	ck_assert_uint_eq(out.flags & acl_flags, 0); /* not asked for by default */

	session_destroy(se);
	ck_assert_int_eq(session_create(vfs, -1, &so, &se), 0);
	session_set_writer(se, capture, NULL);
	r = init_offering(USUAL_INIT_FLAGS | (uint32_t)acl_flags, 0);
	memcpy(&out, r->data, sizeof(out));
	ck_assert_uint_eq(out.flags & acl_flags, acl_flags);

	lookup_ok(FUSE_ROOT_ID, "c");
	memcpy(arg, &cin, sizeof(cin));
	memcpy(arg + sizeof(cin), "u", 2);
	r = send_req(FUSE_CREATE, vfs_nodeid(2, BACKEND_ROOT_INO), arg, sizeof(cin) + 2);
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&eo, r->data, sizeof(eo));
	ck_assert_uint_eq(eo.attr.mode & 07777, 0644);

	memcpy(arg, &xin, sizeof(xin));
	memcpy(arg + sizeof(xin), "user.x\0v", 8);
	r = send_req(FUSE_SETXATTR, eo.nodeid, arg, sizeof(xin) + 8);
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(arg, &gin, sizeof(gin));
	memcpy(arg + sizeof(gin), "user.x", 7);
	r = send_req(FUSE_GETXATTR, eo.nodeid, arg, sizeof(gin) + 7);
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&gin, r->data, sizeof(uint32_t));
	ck_assert_uint_eq(gin.size, 1);

	memcpy(arg + sizeof(gin), "system.posix_acl_access", 24);
	r = send_req(FUSE_GETXATTR, FUSE_ROOT_ID, arg, sizeof(gin) + 24);
	ck_assert_int_eq(r->hdr.error, -ENODATA);
	r = send_req(FUSE_GETXATTR, eo.nodeid, arg, sizeof(gin) + 24);
	ck_assert_int_eq(r->hdr.error, -ENODATA);
}
END_TEST

START_TEST(create_write_read_roundtrip_in_memfs)
{
	uint8_t arg[256];
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	struct fuse_write_in win = { 0 };
	struct fuse_write_out wo;
	struct fuse_read_in rin = { 0 };
	const struct captured *r;

	create_in_c("f", 0644, &eo, &oo);

	win.fh = oo.fh;
	win.size = 5;
	memcpy(arg, &win, sizeof(win));
	memcpy(arg + sizeof(win), "hello", 5);
	r = send_req(FUSE_WRITE, eo.nodeid, arg, sizeof(win) + 5);
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&wo, r->data, sizeof(wo));
	ck_assert_uint_eq(wo.size, 5);

	/* A WRITE whose size exceeds its payload is malformed. */
	win.size = 500;
	memcpy(arg, &win, sizeof(win));
	r = send_req(FUSE_WRITE, eo.nodeid, arg, sizeof(win) + 5);
	ck_assert_int_eq(r->hdr.error, -EINVAL);

	rin.fh = oo.fh;
	rin.size = 100;
	r = send_req(FUSE_READ, eo.nodeid, &rin, sizeof(rin));
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(r->datalen, 5);
	ck_assert_mem_eq(r->data, "hello", 5);

	/* More than max_write in one READ is malformed. */
	rin.size = 1u << 30;
	r = send_req(FUSE_READ, eo.nodeid, &rin, sizeof(rin));
	ck_assert_int_eq(r->hdr.error, -EINVAL);
}
END_TEST

/*
 * KILLPRIV_V2: a WRITE flagged FUSE_WRITE_KILL_SUIDGID drops setuid (and setgid
 * with group exec) before writing, and since the WRITE reply has no attributes,
 * a FUSE_NOTIFY_INVAL_INODE (unique 0) for the node comes first. A flagged
 * write to a file without the bits sends no notification.
 */
START_TEST(write_kill_suidgid_drops_bits_and_invalidates)
{
	uint8_t arg[256];
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	struct fuse_write_in win = { 0 };
	struct fuse_getattr_in gin = { 0 };
	struct fuse_notify_inval_inode_out no;
	struct fuse_attr_out ao;
	const struct captured *r;
	size_t before;

	create_in_c("s", 06775, &eo, &oo);
	ck_assert_uint_eq(eo.attr.mode & 07777, 06775);

	win.fh = oo.fh;
	win.size = 2;
	win.write_flags = FUSE_WRITE_KILL_SUIDGID;
	memcpy(arg, &win, sizeof(win));
	memcpy(arg + sizeof(win), "hi", 2);
	before = ncap;
	r = send_req(FUSE_WRITE, eo.nodeid, arg, sizeof(win) + 2);
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(ncap, before + 2); /* the notification, then the reply */
	ck_assert_uint_eq(cap[before].hdr.unique, 0);
	ck_assert_int_eq(cap[before].hdr.error, FUSE_NOTIFY_INVAL_INODE);
	ck_assert_uint_eq(cap[before].datalen, sizeof(no));
	memcpy(&no, cap[before].data, sizeof(no));
	ck_assert_uint_eq(no.ino, eo.nodeid);
	ck_assert_int_eq(no.off, -1);

	r = send_req(FUSE_GETATTR, eo.nodeid, &gin, sizeof(gin));
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&ao, r->data, sizeof(ao));
	ck_assert_uint_eq(ao.attr.mode & 07777, 0775);

	/* Nothing left to drop: no notification. */
	before = ncap;
	r = send_req(FUSE_WRITE, eo.nodeid, arg, sizeof(win) + 2);
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(ncap, before + 1);
}
END_TEST

/* CREATE of a name that exists (it appeared after the kernel's LOOKUP) with O_TRUNC,
 * flagged FUSE_OPEN_KILL_SUIDGID: the truncate drops the bits, and the CREATE reply's
 * attributes say so. Without the flag they stay. */
START_TEST(create_kill_suidgid_on_existing_file)
{
	uint8_t arg[256];
	struct fuse_entry_out eo, eo2;
	struct fuse_open_out oo;
	struct fuse_create_in cin = { .flags = O_WRONLY | O_CREAT | O_TRUNC, .mode = 0644 };
	const struct captured *r;

	create_in_c("k", 06775, &eo, &oo);
	ck_assert_uint_eq(eo.attr.mode & 07777, 06775);
	for (int flagged = 0; flagged <= 1; flagged++) {
		cin.open_flags = flagged ? FUSE_OPEN_KILL_SUIDGID : 0;
		memcpy(arg, &cin, sizeof(cin));
		memcpy(arg + sizeof(cin), "k", 2);
		r = send_req(FUSE_CREATE, vfs_nodeid(2, BACKEND_ROOT_INO), arg, sizeof(cin) + 2);
		ck_assert_int_eq(r->hdr.error, 0);
		memcpy(&eo2, r->data, sizeof(eo2));
		ck_assert_uint_eq(eo2.nodeid, eo.nodeid);
		ck_assert_uint_eq(eo2.attr.mode & 07777, flagged ? 0775 : 06775);
	}
}
END_TEST

/* Start over with a session whose options differ from setup()'s. */
static void reopen_session(bool passthrough, bool writeback)
{
	struct session_opts so = { .threads = 1,
				   .max_threads = 1,
				   .max_write = 131072,
				   .ready_fd = -1,
				   .passthrough = passthrough,
				   .writeback_cache = writeback };

	session_destroy(se);
	ck_assert_int_eq(session_create(vfs, -1, &so, &se), 0);
	session_set_writer(se, capture, NULL);
	ncap = 0;
}

/* INIT from a kernel that offers FUSE_PASSTHROUGH (flags2) and KILLPRIV_V2. */
static struct fuse_init_out init_offering_passthrough(void)
{
	struct fuse_init_out out;
	const struct captured *r =
	    init_offering(USUAL_INIT_FLAGS | FUSE_HANDLE_KILLPRIV_V2 | FUSE_WRITEBACK_CACHE,
			  (uint32_t)((FUSE_CREATE_SUPP_GROUP | FUSE_PASSTHROUGH) >> 32));

	ck_assert_uint_eq(r->datalen, sizeof(out));
	memcpy(&out, r->data, sizeof(out));
	return out;
}

/*
 * Kernel passthrough is asked for only when the config allows it and there is
 * no writeback cache (the kernel refuses the pair), with backing files on
 * unstacked filesystems only (max_stack_depth 1).
 */
START_TEST(init_asks_for_passthrough_only_when_allowed)
{
	struct fuse_init_out o;

	reopen_session(true, false);
	o = init_offering_passthrough();
	ck_assert(o.flags2 & (FUSE_PASSTHROUGH >> 32));
	ck_assert(!(o.flags & FUSE_WRITEBACK_CACHE));
	ck_assert_uint_eq(vfsmux_init_out_max_stack_depth(&o), 1);

	reopen_session(false, false);
	o = init_offering_passthrough();
	ck_assert(!(o.flags2 & (FUSE_PASSTHROUGH >> 32)));
	ck_assert_uint_eq(vfsmux_init_out_max_stack_depth(&o), 0);

	reopen_session(true, true);
	o = init_offering_passthrough();
	ck_assert(!(o.flags2 & (FUSE_PASSTHROUGH >> 32)));
	ck_assert(o.flags & FUSE_WRITEBACK_CACHE);
	ck_assert_uint_eq(vfsmux_init_out_max_stack_depth(&o), 0);
}
END_TEST

/* memfs offers no backing file: its opens stay plain under passthrough. */
START_TEST(memfs_opens_are_never_passed_through)
{
	uint8_t arg[256];
	struct fuse_create_in cin = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
	struct fuse_open_in oin = { .flags = O_RDONLY };
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	const struct captured *r;

	reopen_session(true, false);
	init_offering_passthrough();
	lookup_ok(FUSE_ROOT_ID, "c");
	memcpy(arg, &cin, sizeof(cin));
	memcpy(arg + sizeof(cin), "p", 2);
	r = send_req(FUSE_CREATE, vfs_nodeid(2, BACKEND_ROOT_INO), arg, sizeof(cin) + 2);
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&eo, r->data, sizeof(eo));
	memcpy(&oo, r->data + sizeof(eo), sizeof(oo));
	ck_assert(!(oo.open_flags & FOPEN_PASSTHROUGH));
	r = send_req(FUSE_OPEN, eo.nodeid, &oin, sizeof(oin));
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&oo, r->data, sizeof(oo));
	ck_assert(!(oo.open_flags & FOPEN_PASSTHROUGH));
}
END_TEST

/*
 * With KILLPRIV_V2 the kernel strips its kill bits from notify_change() and
 * sends a SETATTR that sets nothing: that is the request to drop setuid (and
 * setgid with group exec) of a regular file. Directories keep their bits.
 */
START_TEST(empty_setattr_kills_suidgid_of_files_only)
{
	uint8_t arg[256];
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	struct fuse_setattr_in sin = { 0 };
	struct fuse_attr_out ao;
	struct fuse_mkdir_in min = { .mode = 06777, .umask = 0 };
	const struct captured *r;

	create_in_c("k", 06775, &eo, &oo); /* plain do_init(): no KILLPRIV_V2 */
	r = send_req(FUSE_SETATTR, eo.nodeid, &sin, sizeof(sin));
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&ao, r->data, sizeof(ao));
	ck_assert_uint_eq(ao.attr.mode & 07777, 06775); /* not negotiated: nothing asked */

	reopen_session(false, false);
	init_offering_passthrough();
	r = send_req(FUSE_SETATTR, eo.nodeid, &sin, sizeof(sin));
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&ao, r->data, sizeof(ao));
	ck_assert_uint_eq(ao.attr.mode & 07777, 0775);

	memcpy(arg, &min, sizeof(min));
	memcpy(arg + sizeof(min), "kd", 3);
	r = send_req(FUSE_MKDIR, vfs_nodeid(2, BACKEND_ROOT_INO), arg, sizeof(min) + 3);
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&eo, r->data, sizeof(eo));
	ck_assert_uint_eq(eo.attr.mode & 07777, 06777);
	r = send_req(FUSE_SETATTR, eo.nodeid, &sin, sizeof(sin));
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(&ao, r->data, sizeof(ao));
	ck_assert_uint_eq(ao.attr.mode & 07777, 06777);
}
END_TEST

/* Backing-file ioctls that hand out id 5 and count what they were asked. */
static int fake_backing_opens, fake_backing_closes;
static int fake_backing_open(void *data, int fd)
{
	(void)data;
	ck_assert_int_gt(fd, 0);
	fake_backing_opens++;
	return 5;
}
static int fake_backing_close(void *data, int id)
{
	(void)data;
	ck_assert_int_eq(id, 5);
	fake_backing_closes++;
	return 0;
}

/*
 * The dispatcher's side of kernel passthrough, over a real passthrough mount:
 * OPEN replies carry FOPEN_PASSTHROUGH and the id, two opens of one file share
 * one registration, and the id is closed with the last RELEASE.
 */
START_TEST(passthrough_opens_carry_one_shared_backing_id)
{
	const struct backing_ops fake = { fake_backing_open, fake_backing_close, NULL };
	struct session_opts so = { .threads = 1,
				   .max_threads = 1,
				   .max_write = 131072,
				   .ready_fd = -1,
				   .passthrough = true };
	struct fuse_open_in oin = { .flags = O_RDWR };
	struct fuse_release_in rin = { 0 };
	struct fuse_open_out oo[2];
	uint64_t f;
	char err[256], path[4096];
	char *src = testlib_tmpdir();
	const struct captured *r;

	snprintf(path, sizeof(path), "%s/f", src);
	testlib_write_file(path, "data", 4);
	teardown();
	mounts[0].type = (char *)"passthrough";
	mounts[0].path = (char *)"/p";
	mounts[0].source = src;
	cfg.nmounts = 1;
	ck_assert_int_eq(vfs_create(&cfg, &vfs, err, sizeof(err)), 0);
	ck_assert_int_eq(session_create(vfs, -1, &so, &se), 0);
	session_set_writer(se, capture, NULL);
	session_set_backing_ops(se, &fake);
	fake_backing_opens = fake_backing_closes = 0;
	ncap = 0;

	init_offering_passthrough();
	lookup_ok(FUSE_ROOT_ID, "p");
	f = lookup_ok(vfs_nodeid(1, BACKEND_ROOT_INO), "f").nodeid;
	for (int i = 0; i < 2; i++) {
		r = send_req(FUSE_OPEN, f, &oin, sizeof(oin));
		ck_assert_int_eq(r->hdr.error, 0);
		memcpy(&oo[i], r->data, sizeof(oo[i]));
		ck_assert(oo[i].open_flags & FOPEN_PASSTHROUGH);
		ck_assert_int_eq(vfsmux_open_out_backing_id(&oo[i]), 5);
	}
	ck_assert_int_eq(fake_backing_opens, 1);
	for (int i = 0; i < 2; i++) {
		rin.fh = oo[i].fh;
		r = send_req(FUSE_RELEASE, f, &rin, sizeof(rin));
		ck_assert_int_eq(r->hdr.error, 0);
		ck_assert_int_eq(fake_backing_closes, i);
	}
	/* The last RELEASE closed the id. */
	ck_assert_int_eq(fake_backing_closes, 1);
	testlib_rmtree(src);
	free(src);
}
END_TEST

/*
 * passthrough with per-open direct I/O: an O_DIRECT open asks for every byte
 * through the daemon (so no backing id), as an overlay or a backend with
 * per-open direct I/O would. The other opens stay passthrough-eligible.
 */
extern const struct backend_ops passthrough_ops;
static struct backend_ops pt_direct_ops;

static int pt_direct_open(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
			  struct vfs_open *out)
{
	int err = passthrough_ops.open(be, ctx, ino, flags & ~O_DIRECT, out);

	if (!err && (flags & O_DIRECT))
		out->direct_io = true;
	return err;
}

static const struct backend_ops *find_pt_direct(const char *type)
{
	pt_direct_ops = passthrough_ops;
	pt_direct_ops.open = pt_direct_open;
	return strcmp(type, "passthrough") == 0 ? &pt_direct_ops : NULL;
}

static struct fuse_open_out open_ok(uint64_t nodeid, uint32_t flags)
{
	struct fuse_open_in oin = { .flags = flags };
	struct fuse_open_out oo;
	const struct captured *r = send_req(FUSE_OPEN, nodeid, &oin, sizeof(oin));

	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(r->datalen, sizeof(oo));
	memcpy(&oo, r->data, sizeof(oo));
	return oo;
}

static void release_ok(uint64_t nodeid, uint64_t fh)
{
	struct fuse_release_in rin = { .fh = fh };

	ck_assert_int_eq(send_req(FUSE_RELEASE, nodeid, &rin, sizeof(rin))->hdr.error, 0);
}

/*
 * Mixed opens of one file: one with a backing id, one direct-I/O open without.
 * The direct-I/O open's RELEASE must leave the id to the passthrough open
 * still using it (closing it early made the next open register a second
 * backing file for the inode, which the kernel answers with EIO); a later
 * passthrough open shares the id, and the id closes with the last open that
 * holds it.
 */
START_TEST(mixed_opens_release_only_what_each_acquired)
{
	const struct backing_ops fake = { fake_backing_open, fake_backing_close, NULL };
	struct session_opts so = { .threads = 1,
				   .max_threads = 1,
				   .max_write = 131072,
				   .ready_fd = -1,
				   .passthrough = true };
	struct fuse_open_out a, d, c;
	uint64_t f;
	char err[256], path[4096];
	char *src = testlib_tmpdir();

	snprintf(path, sizeof(path), "%s/f", src);
	testlib_write_file(path, "data", 4);
	teardown();
	mounts[0].type = (char *)"passthrough";
	mounts[0].path = (char *)"/p";
	mounts[0].source = src;
	cfg.nmounts = 1;
	ck_assert_int_eq(vfs_create_custom(&cfg, find_pt_direct, &vfs, err, sizeof(err)), 0);
	ck_assert_int_eq(session_create(vfs, -1, &so, &se), 0);
	session_set_writer(se, capture, NULL);
	session_set_backing_ops(se, &fake);
	fake_backing_opens = fake_backing_closes = 0;
	ncap = 0;

	init_offering_passthrough();
	lookup_ok(FUSE_ROOT_ID, "p");
	f = lookup_ok(vfs_nodeid(1, BACKEND_ROOT_INO), "f").nodeid;
	a = open_ok(f, O_RDWR);
	ck_assert(a.open_flags & FOPEN_PASSTHROUGH);
	d = open_ok(f, O_RDWR | O_DIRECT);
	ck_assert(!(d.open_flags & FOPEN_PASSTHROUGH));
	ck_assert(d.open_flags & FOPEN_DIRECT_IO);
	release_ok(f, d.fh);
	ck_assert_int_eq(fake_backing_closes, 0); /* a still passes through on id 5 */
	c = open_ok(f, O_RDONLY);
	ck_assert(c.open_flags & FOPEN_PASSTHROUGH);
	ck_assert_int_eq(vfsmux_open_out_backing_id(&c), 5);
	ck_assert_int_eq(fake_backing_opens, 1); /* shared, not registered a second time */
	release_ok(f, a.fh);
	ck_assert_int_eq(fake_backing_closes, 0);
	release_ok(f, c.fh);
	ck_assert_int_eq(fake_backing_closes, 1);
	testlib_rmtree(src);
	free(src);
}
END_TEST

/* A writer for which every reply fails as an interrupted request's does. */
static int reply_gone(void *data, const struct iovec *iov, int iovcnt)
{
	(void)data;
	(void)iov;
	(void)iovcnt;
	return -ENOENT;
}

/*
 * An OPEN or CREATE whose reply the kernel no longer wants (interrupted) will
 * never be released or forgotten: the daemon gives back the handle and, for
 * CREATE, the lookup reference at once.
 */
START_TEST(open_and_create_undone_when_the_reply_is_lost)
{
	uint8_t arg[256];
	struct fuse_create_in cin = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
	struct fuse_open_in oin = { .flags = O_RDONLY };
	struct vfs_mount_stats st0, st;
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	uint64_t c = vfs_nodeid(2, BACKEND_ROOT_INO);

	create_in_c("u", 0644, &eo, &oo);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st0), 0);

	session_set_writer(se, reply_gone, NULL);
	memcpy(arg, &cin, sizeof(cin));
	memcpy(arg + sizeof(cin), "lost", 5);
	send_req(FUSE_CREATE, c, arg, sizeof(cin) + 5);
	send_req(FUSE_OPEN, eo.nodeid, &oin, sizeof(oin));
	session_set_writer(se, capture, NULL);
	ck_assert_int_eq(vfs_mount_stats(vfs, 2, &st), 0);
	ck_assert_uint_eq(st.handles, st0.handles);
	ck_assert_uint_eq(st.lookups, st0.lookups);
}
END_TEST

START_TEST(rename_across_mounts_is_exdev)
{
	uint8_t arg[64];
	struct fuse_rename2_in in = { .newdir = vfs_nodeid(1, BACKEND_ROOT_INO) };
	struct fuse_mknod_in mn = { .mode = S_IFREG | 0644 };
	const struct captured *r;

	do_init();
	lookup_ok(FUSE_ROOT_ID, "c");
	memcpy(arg, &mn, sizeof(mn));
	memcpy(arg + sizeof(mn), "f", 2);
	r = send_req(FUSE_MKNOD, vfs_nodeid(2, BACKEND_ROOT_INO), arg, sizeof(mn) + 2);
	ck_assert_int_eq(r->hdr.error, 0);
	memcpy(arg, &in, sizeof(in));
	memcpy(arg + sizeof(in), "f\0g", 4);
	r = send_req(FUSE_RENAME2, vfs_nodeid(2, BACKEND_ROOT_INO), arg, sizeof(in) + 4);
	ck_assert_int_eq(r->hdr.error, -EXDEV);
	/* Second name missing its NUL. */
	r = send_req(FUSE_RENAME2, vfs_nodeid(2, BACKEND_ROOT_INO), arg, sizeof(in) + 3);
	ck_assert_int_eq(r->hdr.error, -EINVAL);
}
END_TEST

START_TEST(statfs_and_lseek_never_answer_enosys)
{
	struct fuse_lseek_in lin = { .whence = SEEK_DATA };
	const struct captured *r;

	do_init();
	r = send_req(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0);
	ck_assert_int_eq(r->hdr.error, 0);
	ck_assert_uint_eq(r->datalen, sizeof(struct fuse_statfs_out));
	r = send_req(FUSE_LSEEK, FUSE_ROOT_ID, &lin, sizeof(lin));
	ck_assert_int_ne(r->hdr.error, -ENOSYS);
	r = send_req(FUSE_TMPFILE, FUSE_ROOT_ID, &(struct fuse_create_in){ 0 },
		     sizeof(struct fuse_create_in));
	ck_assert_int_ne(r->hdr.error, -ENOSYS);
}
END_TEST

START_TEST(malformed_extensions_get_einval)
{
	uint8_t buf[128];
	struct fuse_in_header h;
	size_t len;

	do_init();
	len =
	    build(buf, sizeof(buf), FUSE_LOOKUP, FUSE_ROOT_ID, "a\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	memcpy(&h, buf, sizeof(h));
	h.total_extlen = 1; /* 8 bytes of zeros: an extension of size 0 */
	memcpy(buf, &h, sizeof(h));
	session_process(se, buf, len);
	ck_assert_int_eq(cap[ncap - 1].hdr.error, -EINVAL);
	h.total_extlen = 100; /* more than the request */
	memcpy(buf, &h, sizeof(h));
	session_process(se, buf, len);
	ck_assert_int_eq(cap[ncap - 1].hdr.error, -EINVAL);
}
END_TEST

/* Random bytes after a valid header never crash a worker and always get one reply. */
START_TEST(random_payloads_get_exactly_one_reply)
{
	uint8_t arg[512];
	unsigned seed = 12345;

	do_init();
	for (uint32_t op = 1; op <= 53; op++) {
		if (op == FUSE_INIT || op == FUSE_FORGET || op == FUSE_BATCH_FORGET ||
		    op == FUSE_INTERRUPT)
			continue;
		for (int i = 0; i < 20; i++) {
			size_t n = (size_t)rand_r(&seed) % sizeof(arg);
			size_t before = ncap;

			for (size_t k = 0; k < n; k++)
				arg[k] = (uint8_t)rand_r(&seed);
			send_req(op, (i & 1) ? FUSE_ROOT_ID : (uint64_t)rand_r(&seed), arg, n);
			ck_assert_uint_eq(ncap, before + 1);
			ck_assert_int_le(cap[ncap - 1].hdr.error, 0);
			ck_assert_int_gt(cap[ncap - 1].hdr.error, -512);
			ncap = 0;
		}
	}
}
END_TEST

static Suite *dispatch_suite(void)
{
	Suite *s = suite_create("dispatch");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_negotiates_only_offered_flags);
	tcase_add_test(tc, request_before_init_gets_eio);
	tcase_add_test(tc, second_init_is_refused);
	tcase_add_test(tc, newer_major_gets_version_only);
	tcase_add_test(tc, unknown_opcode_gets_enosys);
	tcase_add_test(tc, short_header_is_dropped);
	tcase_add_test(tc, len_mismatch_gets_einval);
	tcase_add_test(tc, short_fixed_args_get_einval);
	tcase_add_test(tc, lookup_with_unterminated_name_replies_einval);
	tcase_add_test(tc, lookup_names_are_checked);
	tcase_add_test(tc, lookup_and_getattr_agree_on_st_ino);
	tcase_add_test(tc, getattr_of_unknown_nodeid_is_estale);
	tcase_add_test(tc, mkdir_in_pseudofs_is_erofs);
	tcase_add_test(tc, readdirplus_lists_children_with_counted_entries);
	tcase_add_test(tc, no_opendir_answers_enosys_and_lists_with_fh_0);
	tcase_add_test(tc, without_no_opendir_support_opendir_still_opens);
	tcase_add_test(tc, forget_and_batch_forget_never_reply);
	tcase_add_test(tc, create_write_read_roundtrip_in_memfs);
	tcase_add_test(tc, posix_acl_negotiated_with_its_companions);
	tcase_add_test(tc, write_kill_suidgid_drops_bits_and_invalidates);
	tcase_add_test(tc, create_kill_suidgid_on_existing_file);
	tcase_add_test(tc, init_asks_for_passthrough_only_when_allowed);
	tcase_add_test(tc, memfs_opens_are_never_passed_through);
	tcase_add_test(tc, passthrough_opens_carry_one_shared_backing_id);
	tcase_add_test(tc, mixed_opens_release_only_what_each_acquired);
	tcase_add_test(tc, empty_setattr_kills_suidgid_of_files_only);
	tcase_add_test(tc, open_and_create_undone_when_the_reply_is_lost);
	tcase_add_test(tc, rename_across_mounts_is_exdev);
	tcase_add_test(tc, statfs_and_lseek_never_answer_enosys);
	tcase_add_test(tc, malformed_extensions_get_einval);
	tcase_add_test(tc, random_payloads_get_exactly_one_reply);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(dispatch_suite());
}
