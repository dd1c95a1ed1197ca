/*
 * tests/unit/test_memfs.c - the memfs backend called through its ops table,
 * with no mount and no vfs: every op, limits, sparse data, lifetimes, rename
 * rules, timestamps, readdir cookies and lookup counting, xattrs, seeding and
 * concurrent use.
 */
#include "testlib.h"

#include "backends/memfs/memfs_int.h" /* white box: the hash tables' sizes */
#include "config/config.h"
#include "vfs/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

extern const struct backend_ops memfs_ops;
static const struct backend_ops *const ops = &memfs_ops;

#define ROOT BACKEND_ROOT_INO
#define PG   4096

static struct backend *be;
static const struct op_ctx root_ctx = { .uid = 0, .gid = 0 };

static struct op_ctx user(uint32_t uid, uint32_t gid)
{
	struct op_ctx c = { .uid = uid, .gid = gid };

	return c;
}

static struct backend *mk_fs(uint64_t size, uint64_t inodes)
{
	struct mount_config c = { 0 };
	struct backend *b = NULL;
	char err[256] = "";

	c.type = (char *)"memfs";
	c.size_limit = size;
	c.inode_limit = inodes;
	ck_assert_msg(ops->create(&c, &b, err, sizeof(err)) == 0, "create: %s", err);
	ck_assert_ptr_nonnull(b);
	return b;
}

static void teardown(void)
{
	if (be)
		ops->destroy(be);
	be = NULL;
}

/* Create a regular file (keeps one lookup, closes the handle); returns ino. */
static uint64_t mkfile_as(const struct op_ctx *ctx, uint64_t parent, const char *name, mode_t mode)
{
	struct vfs_entry e;
	struct vfs_open o;
	int ret = ops->create_file(be, ctx, parent, name, mode, O_CREAT | O_RDWR, &e, &o);

	ck_assert_msg(ret == 0, "create %s: %d", name, ret);
	ops->release(be, e.ino, o.fh, O_RDWR);
	return e.ino;
}

static uint64_t mkfile(uint64_t parent, const char *name)
{
	return mkfile_as(&root_ctx, parent, name, 0644);
}

static uint64_t mkdir_as(const struct op_ctx *ctx, uint64_t parent, const char *name, mode_t mode)
{
	struct vfs_entry e;
	int ret = ops->mkdir(be, ctx, parent, name, mode, &e);

	ck_assert_msg(ret == 0, "mkdir %s: %d", name, ret);
	ck_assert(S_ISDIR(e.attr.st_mode));
	return e.ino;
}

static uint64_t mkdir_(uint64_t parent, const char *name)
{
	return mkdir_as(&root_ctx, parent, name, 0755);
}

static struct stat st_of(uint64_t ino)
{
	struct stat st;

	ck_assert_int_eq(ops->getattr(be, &root_ctx, ino, false, 0, &st), 0);
	return st;
}

static int lookup_ino(uint64_t parent, const char *name, uint64_t *ino)
{
	struct vfs_entry e;
	int ret = ops->lookup(be, &root_ctx, parent, name, &e);

	if (!ret) {
		*ino = e.ino;
		ops->forget(be, e.ino, 1);
	}
	return ret;
}

static ssize_t wr(uint64_t ino, const void *buf, size_t len, off_t off)
{
	return ops->write(be, &root_ctx, ino, ino, buf, len, off, O_RDWR);
}

static uint64_t live_inodes(void)
{
	struct statvfs sv;

	ck_assert_int_eq(ops->statfs(be, ROOT, &sv), 0);
	return sv.f_files - sv.f_ffree;
}

static uint64_t used_blocks(void)
{
	struct statvfs sv;

	ck_assert_int_eq(ops->statfs(be, ROOT, &sv), 0);
	return sv.f_blocks - sv.f_bfree;
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	return a.tv_nsec < b.tv_nsec ? -1 : a.tv_nsec > b.tv_nsec;
}

static void set_mode(uint64_t ino, mode_t mode)
{
	struct vfs_setattr sa = { .valid = VFS_SET_MODE, .mode = mode };
	struct stat st;

	ck_assert_int_eq(ops->setattr(be, &root_ctx, ino, &sa, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, mode);
}

/* Put old times on ino so a later change is visible whatever the clock does. */
static void age(uint64_t ino)
{
	struct vfs_setattr sa = { .valid = VFS_SET_ATIME | VFS_SET_MTIME | VFS_SET_CTIME };
	struct stat st;

	sa.atime.tv_sec = sa.mtime.tv_sec = sa.ctime.tv_sec = 1000;
	sa.atime.tv_nsec = sa.mtime.tv_nsec = sa.ctime.tv_nsec = 7;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, ino, &sa, &st), 0);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000);
	ck_assert_int_eq(st.st_ctim.tv_nsec, 7);
}

/* ---- a directory sink that records entries and can stop after `limit` ---- */

struct sink {
	struct vfs_dirbuf db;
	size_t limit; /* entries accepted before answering 1 (SIZE_MAX = no limit) */
	size_t n;
	char names[256][64];
	uint64_t inos[256];
	uint64_t offs[256];
	bool had_entry[256];
};

static int sink_add(struct vfs_dirbuf *db, const struct vfs_dirent *d)
{
	struct sink *s = db->data;

	if (s->n >= s->limit)
		return 1;
	ck_assert_uint_lt(s->n, 256);
	ck_assert_uint_ne(d->off, 0);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", d->name);
	s->inos[s->n] = d->ino;
	s->offs[s->n] = d->off;
	s->had_entry[s->n] = d->entry != NULL;
	if (d->entry)
		ck_assert_uint_eq(d->entry->ino, d->ino);
	s->n++;
	return 0;
}

static void sink_init(struct sink *s, bool plus, size_t limit)
{
	memset(s, 0, sizeof(*s));
	s->db.plus = plus;
	s->db.add = sink_add;
	s->db.data = s;
	s->limit = limit;
}

/* ---- tests ---- */

/* The inode and name tables grow with a big directory and shrink once it is gone. */
START_TEST(hash_tables_shrink_after_deletes)
{
	enum { N = 4000 };
	static uint64_t inos[N];
	size_t ib0, db0;
	char name[32];

	be = mk_fs(0, 0);
	ib0 = memfs_of(be)->itable.nbuckets;
	db0 = memfs_of(be)->dtable.nbuckets;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		inos[i] = mkfile(ROOT, name);
	}
	ck_assert_uint_ge(memfs_of(be)->itable.nbuckets, N);
	ck_assert_uint_ge(memfs_of(be)->dtable.nbuckets, N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(ops->unlink(be, &root_ctx, ROOT, name), 0);
		ops->forget(be, inos[i], 1);
	}
	ck_assert_uint_eq(memfs_of(be)->itable.count, 1);
	ck_assert_uint_eq(memfs_of(be)->itable.nbuckets, ib0);
	ck_assert_uint_eq(memfs_of(be)->dtable.nbuckets, db0);
	/* and lookups still work after all that rehashing */
	mkfile(ROOT, "again");
	ck_assert_int_eq(lookup_ino(ROOT, "again", &inos[0]), 0);
}
END_TEST

START_TEST(kernel_may_keep_its_caches)
{
	struct vfs_open o;
	uint64_t f, d;

	be = mk_fs(0, 0);
	f = mkfile(BACKEND_ROOT_INO, "f");
	d = mkdir_(BACKEND_ROOT_INO, "d");
	/* Every change passes through the kernel, so its caches are never stale. */
	ck_assert_int_eq(ops->open(be, &root_ctx, f, O_RDONLY, &o), 0);
	ck_assert(o.keep_cache);
	ck_assert(o.noflush); /* nothing to write back at close(2) */
	ops->release(be, f, o.fh, O_RDONLY);
	ck_assert_int_eq(ops->opendir(be, &root_ctx, d, O_RDONLY, &o), 0);
	ck_assert(o.cache_dir && o.keep_cache);
	ops->releasedir(be, d, o.fh);
}
END_TEST

START_TEST(write_only_opens_bypass_the_page_cache)
{
	static const struct {
		int flags;
		bool direct;
	} cases[] = {
		{ O_RDONLY, false },	      { O_RDWR, false },
		{ O_WRONLY, true },	      { O_WRONLY | O_APPEND, true },
		{ O_WRONLY | O_TRUNC, true },
	};
	struct vfs_entry e;
	struct vfs_open o;
	uint64_t f;
	char name[16];

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(ops->open(be, &root_ctx, f, cases[i].flags, &o), 0);
		ck_assert_msg(o.direct_io == cases[i].direct, "open flags %#x", cases[i].flags);
		ck_assert(o.keep_cache && o.noflush);
		ops->release(be, f, o.fh, cases[i].flags);

		/* create_file, of a new name and of the existing file */
		snprintf(name, sizeof(name), "c%zu", i);
		ck_assert_int_eq(ops->create_file(be, &root_ctx, ROOT, name, 0644,
						  O_CREAT | cases[i].flags, &e, &o),
				 0);
		ck_assert_msg(o.direct_io == cases[i].direct, "create flags %#x", cases[i].flags);
		ops->release(be, e.ino, o.fh, cases[i].flags);
		ops->forget(be, e.ino, 1);
		ck_assert_int_eq(ops->create_file(be, &root_ctx, ROOT, "f", 0644,
						  O_CREAT | cases[i].flags, &e, &o),
				 0);
		ck_assert_uint_eq(e.ino, f);
		ck_assert_msg(o.direct_io == cases[i].direct, "re-create flags %#x",
			      cases[i].flags);
		ops->release(be, e.ino, o.fh, cases[i].flags);
		ops->forget(be, e.ino, 1);
	}
}
END_TEST

/* A CREATE that finds the file and truncates it, with the kernel's kill flag: the
 * bits go as on any unprivileged truncate; a file the call makes keeps its mode. */
/* KILL_SGID (the server found the caller outside the file's group): setgid goes
 * even without group execute; without it, it stays. */
START_TEST(kill_sgid_drops_setgid_without_group_exec)
{
	struct vfs_setattr sa = { .valid = VFS_SET_MODE, .mode = 06644 };
	struct stat st;
	uint64_t f;

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	sa.valid = VFS_SET_KILL_SUIDGID;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 02644);
	sa.valid = VFS_SET_KILL_SUIDGID | VFS_SET_KILL_SGID;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
}
END_TEST

/* An ACL in the kernel's xattr form: version 2, then {tag, perm, id} entries. */
struct acl_ent {
	uint16_t tag, perm;
	uint32_t id;
};

static size_t acl_make(uint8_t *buf, const struct acl_ent *e, size_t n)
{
	uint32_t version = 2;

	memcpy(buf, &version, 4); /* little-endian host, as the kernel's format */
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + 4 + 8 * i, &e[i].tag, 2);
		memcpy(buf + 6 + 8 * i, &e[i].perm, 2);
		memcpy(buf + 8 + 8 * i, &e[i].id, 4);
	}
	return 4 + 8 * n;
}

static const struct op_ctx acl_root = { .uid = 0, .gid = 0, .perm_checked = true };

/* posix_acl_update_mode and posix_acl_chmod: the mode follows the access ACL,
 * an ACL equal to the mode is not kept, chmod rewrites mask and others, and
 * KILL_SGID drops setgid. Without the kernel's checks (no perm_checked) memfs
 * keeps no ACLs. */
START_TEST(access_acl_and_mode_follow_each_other)
{
	const struct acl_ent ext[] = {
		{ 0x01, 6, 0 }, { 0x02, 4, 1000 }, { 0x04, 0, 0 }, { 0x10, 7, 0 }, { 0x20, 0, 0 }
	};
	const struct acl_ent plain[] = { { 0x01, 6, 0 }, { 0x04, 4, 0 }, { 0x20, 0, 0 } };
	const struct acl_ent bad[] = {
		{ 0x01, 6, 0 }, { 0x02, 4, 1000 }, { 0x04, 0, 0 }, { 0x20, 0, 0 }
	}; /* a named entry and no mask */
	struct vfs_setattr sa = { .valid = VFS_SET_MODE, .mode = 02644 };
	uint8_t buf[64], got[64];
	struct stat st;
	size_t n;
	uint64_t f;

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	n = acl_make(buf, ext, 5);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "system.posix_acl_access", buf, n, 0),
			 -EOPNOTSUPP);
	ck_assert_int_eq(ops->setxattr(be, &acl_root, f, "system.posix_acl_access", buf,
				       acl_make(buf, bad, 4), 0),
			 -EINVAL);
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	n = acl_make(buf, ext, 5);
	ck_assert_int_eq(
	    ops->setxattr(be, &acl_root, f, "system.posix_acl_access", buf, n, VFS_XATTR_KILL_SGID),
	    0);
	ck_assert_uint_eq(st_of(f).st_mode & 07777, 0670); /* group bits from the mask */
	ck_assert_int_eq(
	    ops->getxattr(be, &root_ctx, f, "system.posix_acl_access", got, sizeof(got)),
	    (ssize_t)n);
	ck_assert_mem_eq(got, buf, n);
	sa.mode = 0604;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(
	    ops->getxattr(be, &root_ctx, f, "system.posix_acl_access", got, sizeof(got)),
	    (ssize_t)n);
	ck_assert_uint_eq(got[4 + 8 * 3 + 2], 0); /* mask = group bits */
	ck_assert_uint_eq(got[4 + 8 * 4 + 2], 4); /* other */
	ck_assert_uint_eq(got[4 + 2], 6);	  /* owner */
	/* an ACL the mode can say is not kept */
	n = acl_make(buf, plain, 3);
	ck_assert_int_eq(ops->setxattr(be, &acl_root, f, "system.posix_acl_access", buf, n, 0), 0);
	ck_assert_uint_eq(st_of(f).st_mode & 07777, 0640);
	ck_assert_int_eq(
	    ops->getxattr(be, &root_ctx, f, "system.posix_acl_access", got, sizeof(got)), -ENODATA);
}
END_TEST

static uint64_t lookup_of(uint64_t parent, const char *name)
{
	uint64_t ino = 0;

	ck_assert_int_eq(lookup_ino(parent, name, &ino), 0);
	return ino;
}

/* posix_acl_create: a default ACL replaces the umask, masks the new mode, gives
 * an access ACL when it says more than the mode, and passes to subdirectories;
 * without one the umask applies; symlinks get neither. */
START_TEST(default_acl_is_inherited_in_place_of_the_umask)
{
	const struct acl_ent def[] = {
		{ 0x01, 7, 0 }, { 0x02, 7, 1000 }, { 0x04, 5, 0 }, { 0x10, 7, 0 }, { 0x20, 5, 0 }
	};
	const struct acl_ent grp[] = { { 0x01, 7, 0 }, { 0x04, 7, 0 }, { 0x20, 5, 0 } };
	struct op_ctx ctx = acl_root;
	struct vfs_entry e;
	uint8_t buf[64], got[64];
	uint64_t d, d2, sub;
	size_t n;

	be = mk_fs(0, 0);
	ctx.umask = 022;
	d = mkdir_as(&ctx, ROOT, "d", 0777);
	ck_assert_uint_eq(st_of(d).st_mode & 07777, 0755); /* no default ACL: the umask */
	n = acl_make(buf, def, 5);
	ck_assert_int_eq(ops->setxattr(be, &acl_root, d, "system.posix_acl_default", buf, n, 0), 0);
	sub = mkdir_as(&ctx, d, "sub", 0777);
	ck_assert_uint_eq(st_of(sub).st_mode & 07777, 0775); /* group from the mask */
	ck_assert_int_eq(
	    ops->getxattr(be, &root_ctx, sub, "system.posix_acl_default", got, sizeof(got)),
	    (ssize_t)n);
	ck_assert_int_eq(
	    ops->getxattr(be, &root_ctx, sub, "system.posix_acl_access", got, sizeof(got)),
	    (ssize_t)n);
	ck_assert_uint_eq(st_of(mkfile_as(&ctx, d, "f", 0640)).st_mode & 07777, 0640);
	ck_assert_int_eq(ops->symlink(be, &ctx, d, "l", "f", &e), 0);
	ck_assert_int_eq(
	    ops->getxattr(be, &root_ctx, e.ino, "system.posix_acl_access", got, sizeof(got)),
	    -ENODATA);
	/* a default ACL that says no more than a mode: no access ACL on the child */
	d2 = mkdir_as(&ctx, ROOT, "d2", 0777);
	n = acl_make(buf, grp, 3);
	ck_assert_int_eq(ops->setxattr(be, &acl_root, d2, "system.posix_acl_default", buf, n, 0),
			 0);
	ck_assert_uint_eq(st_of(mkfile_as(&ctx, d2, "f", 0666)).st_mode & 07777, 0664);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, lookup_of(d2, "f"), "system.posix_acl_access",
				       got, sizeof(got)),
			 -ENODATA);
	/* a default ACL belongs to directories only */
	ck_assert_int_eq(
	    ops->setxattr(be, &acl_root, lookup_of(d2, "f"), "system.posix_acl_default", buf, n, 0),
	    -EACCES);
}
END_TEST

START_TEST(create_truncating_existing_file_kills_suidgid)
{
	static const unsigned char cap[20] = { 0x01, 0, 0, 0x02, 0, 0x20 };
	struct op_ctx kill = root_ctx;
	struct vfs_entry e;
	struct vfs_open o;
	uint64_t f;

	kill.kill_suidgid = true;
	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	ck_assert_int_eq(wr(f, "data", 4, 0), 4);
	set_mode(f, 06775);
	ck_assert_int_eq(
	    ops->setxattr(be, &root_ctx, f, "security.capability", cap, sizeof(cap), 0), 0);
	/* without the flag (a privileged caller): the bits stay, caps go (any truncate) */
	ck_assert_int_eq(
	    ops->create_file(be, &root_ctx, ROOT, "f", 0644, O_CREAT | O_TRUNC | O_WRONLY, &e, &o),
	    0);
	ck_assert_uint_eq(e.attr.st_mode & 07777, 06775);
	ck_assert_int_eq(e.attr.st_size, 0);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "security.capability", NULL, 0), -ENODATA);
	ops->release(be, f, o.fh, O_WRONLY);
	ops->forget(be, f, 1);
	/* with it: setuid goes, setgid too (group execute) */
	ck_assert_int_eq(
	    ops->create_file(be, &kill, ROOT, "f", 0644, O_CREAT | O_TRUNC | O_WRONLY, &e, &o), 0);
	ck_assert_uint_eq(e.attr.st_mode & 07777, 0775);
	ck_assert_uint_eq(st_of(f).st_mode & 07777, 0775);
	ops->release(be, f, o.fh, O_WRONLY);
	ops->forget(be, f, 1);
	/* setgid without group execute stays */
	set_mode(f, 06765);
	ck_assert_int_eq(
	    ops->create_file(be, &kill, ROOT, "f", 0644, O_CREAT | O_TRUNC | O_WRONLY, &e, &o), 0);
	ck_assert_uint_eq(e.attr.st_mode & 07777, 02765);
	ops->release(be, f, o.fh, O_WRONLY);
	ops->forget(be, f, 1);
	/* no O_TRUNC in the call: nothing is truncated, nothing dropped */
	set_mode(f, 06775);
	ck_assert_int_eq(ops->create_file(be, &kill, ROOT, "f", 0644, O_CREAT | O_WRONLY, &e, &o),
			 0);
	ck_assert_uint_eq(e.attr.st_mode & 07777, 06775);
	ops->release(be, f, o.fh, O_WRONLY);
	ops->forget(be, f, 1);
	/* a new file keeps the mode it asked for */
	ck_assert_int_eq(
	    ops->create_file(be, &kill, ROOT, "n", 04755, O_CREAT | O_TRUNC | O_WRONLY, &e, &o), 0);
	ck_assert_uint_eq(e.attr.st_mode & 07777, 04755);
	ops->release(be, e.ino, o.fh, O_WRONLY);
	ops->forget(be, e.ino, 1);
}
END_TEST

/* The kernel does not ask about file capabilities on a direct write, so memfs drops
 * them itself, as tmpfs would on any write: by root too, other xattrs kept. */
START_TEST(write_drops_file_capabilities)
{
	/* VFS_CAP_REVISION_2 | effective, cap_net_raw permitted */
	static const unsigned char cap[20] = { 0x01, 0, 0, 0x02, 0, 0x20 };
	struct op_ctx u = root_ctx;
	char buf[32];
	uint64_t f;

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	ck_assert_int_eq(
	    ops->setxattr(be, &root_ctx, f, "security.capability", cap, sizeof(cap), 0), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "security.other", "s", 1, 0), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "user.keep", "k", 1, 0), 0);
	/* a failed write changes nothing */
	ck_assert_int_eq(ops->write(be, &root_ctx, f, f, "x", 1, -1, O_WRONLY), -EINVAL);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "security.capability", NULL, 0),
			 (ssize_t)sizeof(cap));
	ck_assert_int_eq(ops->write(be, &root_ctx, f, f, "x", 1, 0, O_WRONLY), 1);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "security.capability", buf, sizeof(buf)),
			 -ENODATA);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "security.other", buf, sizeof(buf)), 1);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.keep", buf, sizeof(buf)), 1);
	/* an unprivileged writer too; and a write with nothing to drop is fine */
	u.uid = u.gid = 1000;
	ck_assert_int_eq(
	    ops->setxattr(be, &root_ctx, f, "security.capability", cap, sizeof(cap), 0), 0);
	ck_assert_int_eq(ops->write(be, &u, f, f, "y", 1, 1, O_RDWR), 1);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "security.capability", NULL, 0), -ENODATA);
	ck_assert_int_eq(ops->write(be, &u, f, f, "z", 1, 2, O_RDWR), 1);
	ck_assert_int_eq(ops->read(be, f, f, buf, sizeof(buf), 0), 3);
	ck_assert_mem_eq(buf, "xyz", 3);
}
END_TEST

START_TEST(create_lookup_getattr)
{
	struct vfs_entry e;
	struct vfs_open o;
	struct stat st;
	char longname[300];
	uint64_t ino, got;

	be = mk_fs(0, 0);
	st = st_of(ROOT);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_uint_eq(st.st_ino, ROOT);

	struct op_ctx u = user(1000, 100);
	ck_assert_int_eq(ops->create_file(be, &u, ROOT, "f", 0640, O_CREAT | O_WRONLY, &e, &o), 0);
	ino = e.ino;
	ck_assert_uint_gt(ino, ROOT);
	ck_assert(S_ISREG(e.attr.st_mode));
	ck_assert_uint_eq(e.attr.st_mode & 07777, 0640);
	ck_assert_uint_eq(e.attr.st_uid, 1000);
	ck_assert_uint_eq(e.attr.st_gid, 100);
	ck_assert_uint_eq(e.attr.st_nlink, 1);
	ck_assert_uint_eq(e.attr.st_ino, ino);
	ops->release(be, ino, o.fh, O_WRONLY);

	/* O_EXCL on an existing name; plain create opens the existing file */
	ck_assert_int_eq(ops->create_file(be, &u, ROOT, "f", 0600, O_CREAT | O_EXCL, &e, &o),
			 -EEXIST);
	ck_assert_int_eq(ops->create_file(be, &u, ROOT, "f", 0600, O_CREAT, &e, &o), 0);
	ck_assert_uint_eq(e.ino, ino);
	ops->release(be, ino, o.fh, 0);
	ops->forget(be, ino, 1);

	ck_assert_int_eq(lookup_ino(ROOT, "f", &got), 0);
	ck_assert_uint_eq(got, ino);
	ck_assert_int_eq(lookup_ino(ROOT, "nope", &got), -ENOENT);
	ck_assert_int_eq(lookup_ino(ROOT, ".", &got), 0);
	ck_assert_uint_eq(got, ROOT);
	ck_assert_int_eq(lookup_ino(ROOT, "..", &got), 0);
	ck_assert_uint_eq(got, ROOT);
	ck_assert_int_eq(lookup_ino(ino, "x", &got), -ENOTDIR);

	memset(longname, 'a', 255);
	longname[255] = '\0';
	mkfile(ROOT, longname); /* 255 bytes is fine */
	longname[255] = 'a';
	longname[256] = '\0';
	ck_assert_int_eq(ops->mkdir(be, &root_ctx, ROOT, longname, 0755, &e), -ENAMETOOLONG);
	ck_assert_int_eq(ops->getattr(be, &root_ctx, 999999, false, 0, &st), -ESTALE);
	ck_assert_int_eq(ops->lookup(be, &root_ctx, 999999, "x", &e), -ESTALE);

	/* an unmapped caller cannot create */
	u.unmapped = true;
	ck_assert_int_eq(ops->mkdir(be, &u, ROOT, "d", 0755, &e), -EOVERFLOW);
}
END_TEST

START_TEST(mknod_symlink_readlink_access)
{
	struct vfs_entry e;
	char buf[64];
	uint64_t f;

	be = mk_fs(0, 0);
	ck_assert_int_eq(ops->mknod(be, &root_ctx, ROOT, "fifo", S_IFIFO | 0600, 0, &e), 0);
	ck_assert(S_ISFIFO(e.attr.st_mode));
	ck_assert_int_eq(ops->mknod(be, &root_ctx, ROOT, "sock", S_IFSOCK | 0600, 0, &e), 0);
	ck_assert(S_ISSOCK(e.attr.st_mode));
	ck_assert_int_eq(ops->mknod(be, &root_ctx, ROOT, "null", S_IFCHR | 0666, makedev(1, 3), &e),
			 0);
	ck_assert(S_ISCHR(e.attr.st_mode));
	ck_assert_uint_eq(e.attr.st_rdev, makedev(1, 3));
	ck_assert_int_eq(ops->mknod(be, &root_ctx, ROOT, "blk", S_IFBLK | 0600, makedev(8, 1), &e),
			 0);
	ck_assert_int_eq(ops->mknod(be, &root_ctx, ROOT, "reg", S_IFREG | 0600, 0, &e), 0);
	ck_assert(S_ISREG(e.attr.st_mode));
	ck_assert_int_eq(ops->mknod(be, &root_ctx, ROOT, "d", S_IFDIR | 0700, 0, &e), -EPERM);
	ck_assert_int_eq(ops->mknod(be, &root_ctx, ROOT, "fifo", S_IFIFO | 0600, 0, &e), -EEXIST);

	ck_assert_int_eq(ops->symlink(be, &root_ctx, ROOT, "ln", "some/target", &e), 0);
	ck_assert(S_ISLNK(e.attr.st_mode));
	ck_assert_int_eq(e.attr.st_size, 11);
	ck_assert_int_eq(ops->readlink(be, &root_ctx, e.ino, buf, sizeof(buf)), 11);
	ck_assert_int_eq(memcmp(buf, "some/target", 11), 0);
	ck_assert_int_eq(ops->readlink(be, &root_ctx, e.ino, buf, 4), 4);
	ck_assert_int_eq(ops->readlink(be, &root_ctx, ROOT, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ops->symlink(be, &root_ctx, ROOT, "empty", "", &e), -ENOENT);

	f = mkfile_as(&root_ctx, ROOT, "perm", 0640);
	struct op_ctx owner = user(0, 0), grp = user(5, 0), other = user(6, 6);
	(void)owner;
	ck_assert_int_eq(ops->access(be, &grp, f, R_OK), 0);
	ck_assert_int_eq(ops->access(be, &grp, f, W_OK), -EACCES);
	ck_assert_int_eq(ops->access(be, &other, f, R_OK), -EACCES);
	ck_assert_int_eq(ops->access(be, &other, f, F_OK), 0);
	ck_assert_int_eq(ops->access(be, &root_ctx, f, R_OK | W_OK), 0);
	ck_assert_int_eq(ops->access(be, &root_ctx, f, X_OK), -EACCES); /* no x bit at all */
	ck_assert_int_eq(ops->access(be, &root_ctx, ROOT, X_OK), 0);
	/* supplementary group counts */
	other.has_supp_gid = true;
	other.supp_gid = 0;
	ck_assert_int_eq(ops->access(be, &other, f, R_OK), 0);
}
END_TEST

START_TEST(write_read_sparse)
{
	char buf[3 * PG], zero[3 * PG];
	uint64_t f;
	struct stat st;
	const off_t gib = (off_t)1 << 30;

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "sparse");
	ck_assert_int_eq(wr(f, "hello", 5, gib), 5);
	st = st_of(f);
	ck_assert_int_eq(st.st_size, gib + 5);
	ck_assert_int_eq(st.st_blocks, PG / 512); /* one page, not a GiB */
	ck_assert_uint_eq(used_blocks(), 1);

	memset(zero, 0, sizeof(zero));
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(ops->read(be, f, f, buf, sizeof(buf), 12345), (ssize_t)sizeof(buf));
	ck_assert_int_eq(memcmp(buf, zero, sizeof(buf)), 0);
	ck_assert_int_eq(ops->read(be, f, f, buf, sizeof(buf), gib - 2), 7);
	ck_assert_int_eq(memcmp(buf, "\0\0hello", 7), 0);
	ck_assert_int_eq(ops->read(be, f, f, buf, sizeof(buf), gib + 5), 0);
	ck_assert_int_eq(ops->read(be, f, f, buf, sizeof(buf), gib + 500), 0);

	/* a write across page boundaries */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	ck_assert_int_eq(wr(f, buf, sizeof(buf), 100), (ssize_t)sizeof(buf));
	char back[3 * PG];
	ck_assert_int_eq(ops->read(be, f, f, back, sizeof(back), 100), (ssize_t)sizeof(back));
	ck_assert_int_eq(memcmp(buf, back, sizeof(buf)), 0);
	ck_assert_uint_eq(used_blocks(), 5); /* pages 0..3 and the one at 1 GiB */

	/* a directory is not readable */
	ck_assert_int_eq(ops->read(be, ROOT, ROOT, buf, 10, 0), -EISDIR);
	ck_assert_int_eq(wr(f, buf, 1, -1), -EINVAL);
	ck_assert_int_eq(wr(f, buf, 10, INT64_MAX - 5), -EFBIG);

	/* unlink frees the pages once the last reference goes */
	ck_assert_int_eq(ops->unlink(be, &root_ctx, ROOT, "sparse"), 0);
	ck_assert_uint_eq(used_blocks(), 5); /* still looked up */
	ops->forget(be, f, 1);
	ck_assert_uint_eq(used_blocks(), 0);
}
END_TEST

START_TEST(size_limit_failed_write_changes_nothing)
{
	char buf[3 * PG], back[3 * PG];
	struct statvfs sv;
	struct stat st;
	uint64_t f;

	be = mk_fs(4 * PG, 0);
	ck_assert_int_eq(ops->statfs(be, ROOT, &sv), 0);
	ck_assert_uint_eq(sv.f_bsize, PG);
	ck_assert_uint_eq(sv.f_blocks, 4);
	ck_assert_uint_eq(sv.f_bfree, 4);

	f = mkfile(ROOT, "f");
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(wr(f, buf, 3 * PG, 0), 3 * PG); /* pages 0..2 */
	ck_assert_uint_eq(used_blocks(), 3);

	/* needs pages 2 (present), 3 and 4: one too many */
	memset(buf, 'b', sizeof(buf));
	ck_assert_int_eq(wr(f, buf, 2 * PG + 10, 2 * PG + 100), -ENOSPC);
	st = st_of(f);
	ck_assert_int_eq(st.st_size, 3 * PG);
	ck_assert_int_eq(st.st_blocks, 3 * PG / 512);
	ck_assert_uint_eq(used_blocks(), 3);
	ck_assert_int_eq(ops->read(be, f, f, back, sizeof(back), 0), 3 * PG);
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(memcmp(back, buf, sizeof(back)), 0);

	/* overwriting present pages needs no space; one more page fits */
	ck_assert_int_eq(wr(f, "zz", 2, 5), 2);
	ck_assert_int_eq(wr(f, "end", 3, 3 * PG), 3);
	ck_assert_uint_eq(used_blocks(), 4);
	ck_assert_int_eq(ops->statfs(be, ROOT, &sv), 0);
	ck_assert_uint_eq(sv.f_bfree, 0);
	ck_assert_uint_eq(sv.f_bavail, 0);
	ck_assert_int_eq(wr(f, "x", 1, 100 * PG), -ENOSPC);
	ck_assert_int_eq(st_of(f).st_size, 3 * PG + 3);

	/* fallocate over the limit: all or nothing */
	uint64_t g = mkfile(ROOT, "g");
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, g, g, 0, 0, 2 * PG), -ENOSPC);
	ck_assert_int_eq(st_of(g).st_size, 0);
	ck_assert_uint_eq(used_blocks(), 4);

	/* truncating frees pages: the space comes back */
	struct vfs_setattr sa = { .valid = VFS_SET_SIZE, .size = PG };
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_uint_eq(used_blocks(), 1);
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, g, g, 0, 0, 2 * PG), 0);
	ck_assert_int_eq(st_of(g).st_size, 2 * PG);
	ck_assert_uint_eq(used_blocks(), 3);
}
END_TEST

START_TEST(inode_limit)
{
	struct vfs_entry e;
	struct vfs_open o;
	struct statvfs sv;

	be = mk_fs(0, 3); /* root + 2 */
	ck_assert_uint_eq(live_inodes(), 1);
	mkfile(ROOT, "a");
	mkdir_(ROOT, "b");
	ck_assert_int_eq(ops->statfs(be, ROOT, &sv), 0);
	ck_assert_uint_eq(sv.f_files, 3);
	ck_assert_uint_eq(sv.f_ffree, 0);
	ck_assert_int_eq(ops->create_file(be, &root_ctx, ROOT, "c", 0644, O_CREAT, &e, &o),
			 -ENOSPC);
	ck_assert_int_eq(ops->symlink(be, &root_ctx, ROOT, "c", "t", &e), -ENOSPC);
	ck_assert_int_eq(ops->mknod(be, &root_ctx, ROOT, "c", S_IFIFO | 0600, 0, &e), -ENOSPC);
	ck_assert_int_eq(ops->lookup(be, &root_ctx, ROOT, "c", &e), -ENOENT);
	/* a hard link is not a new inode */
	uint64_t a;
	ck_assert_int_eq(lookup_ino(ROOT, "a", &a), 0);
	ck_assert_int_eq(ops->link(be, &root_ctx, a, ROOT, "a2", &e), 0);
	/* freeing one makes room again */
	ck_assert_int_eq(ops->rmdir(be, &root_ctx, ROOT, "b"), 0);
	uint64_t b;
	ck_assert_int_eq(lookup_ino(ROOT, "b", &b), -ENOENT);
	ck_assert_uint_eq(live_inodes(), 3); /* b is still looked up by mkdir */
	ops->forget(be, 3, 1);		     /* b was ino 3 */
	ck_assert_uint_eq(live_inodes(), 2);
	mkfile(ROOT, "c");
}
END_TEST

START_TEST(huge_offsets_and_unlimited_fallocate)
{
	const off_t far = (off_t)1 << 61, farther = ((off_t)1 << 62) + 3 * PG + 5;
	struct vfs_setattr sa = { .valid = VFS_SET_SIZE };
	char buf[8];
	struct stat st;
	uint64_t f;

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	ck_assert_int_eq(wr(f, "a", 1, 5), 1);
	ck_assert_int_eq(wr(f, "b", 1, far), 1);
	ck_assert_int_eq(wr(f, "c", 1, farther), 1);
	st = st_of(f);
	ck_assert_int_eq(st.st_size, farther + 1);
	ck_assert_int_eq(st.st_blocks, 3 * PG / 512);
	ck_assert_int_eq(ops->read(be, f, f, buf, 2, far - 1), 2);
	ck_assert_int_eq(memcmp(buf, "\0b", 2), 0);
	ck_assert_int_eq(ops->read(be, f, f, buf, 2, farther), 1);
	ck_assert_int_eq(buf[0], 'c');
	ck_assert_int_eq(ops->lseek(be, f, f, PG, SEEK_DATA), far);
	ck_assert_int_eq(ops->lseek(be, f, f, far + 1, SEEK_DATA), far + 1);
	ck_assert_int_eq(ops->lseek(be, f, f, far + PG, SEEK_DATA), farther & ~(off_t)(PG - 1));
	ck_assert_int_eq(ops->lseek(be, f, f, far, SEEK_HOLE), far + PG);
	/* shrinking across heights frees exactly the pages past the end */
	sa.size = far + 1;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(st.st_blocks, 2 * PG / 512);
	ck_assert_int_eq(ops->lseek(be, f, f, far + 1, SEEK_DATA), -ENXIO);
	sa.size = 0;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(st.st_blocks, 0);
	ck_assert_uint_eq(used_blocks(), 0);
	/* no size limit: fallocate still cannot take more than statfs shows free */
	ck_assert_int_eq(
	    ops->fallocate(be, &root_ctx, f, f, FALLOC_FL_KEEP_SIZE, 0, (off_t)1 << 55), -ENOSPC);
	ck_assert_uint_eq(used_blocks(), 0);
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, f, f, 0, 0, 4 * PG), 0);
	ck_assert_uint_eq(used_blocks(), 4);
}
END_TEST

START_TEST(seek_data_hole)
{
	uint64_t f;
	struct stat st;
	struct vfs_setattr sa = { .valid = VFS_SET_SIZE, .size = 5 * PG + 100 };

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	ck_assert_int_eq(wr(f, "a", 1, 10), 1);	    /* page 0 */
	ck_assert_int_eq(wr(f, "b", 1, 3 * PG), 1); /* page 3 */
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(st.st_size, 5 * PG + 100);

	ck_assert_int_eq(ops->lseek(be, f, f, 0, SEEK_DATA), 0);
	ck_assert_int_eq(ops->lseek(be, f, f, 5, SEEK_DATA), 5);
	ck_assert_int_eq(ops->lseek(be, f, f, 0, SEEK_HOLE), PG);
	ck_assert_int_eq(ops->lseek(be, f, f, PG + 1, SEEK_DATA), 3 * PG);
	ck_assert_int_eq(ops->lseek(be, f, f, PG + 1, SEEK_HOLE), PG + 1);
	ck_assert_int_eq(ops->lseek(be, f, f, 3 * PG + 7, SEEK_HOLE), 4 * PG);
	ck_assert_int_eq(ops->lseek(be, f, f, 4 * PG, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(ops->lseek(be, f, f, 5 * PG + 99, SEEK_HOLE), 5 * PG + 99);
	ck_assert_int_eq(ops->lseek(be, f, f, 5 * PG + 100, SEEK_HOLE), -ENXIO);
	ck_assert_int_eq(ops->lseek(be, f, f, 5 * PG + 100, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(ops->lseek(be, f, f, -1, SEEK_DATA), -ENXIO);

	/* a fully written file: its only hole is the one at EOF */
	uint64_t g = mkfile(ROOT, "g");
	char buf[2 * PG] = { 1 };
	ck_assert_int_eq(wr(g, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(ops->lseek(be, g, g, 0, SEEK_HOLE), 2 * PG);
	ck_assert_int_eq(ops->lseek(be, g, g, 10, SEEK_DATA), 10);
}
END_TEST

START_TEST(fallocate_and_punch_hole)
{
	char buf[3 * PG], back[3 * PG];
	uint64_t f;

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(wr(f, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_uint_eq(used_blocks(), 3);

	/* punch [100, 2*PG+50): page 1 goes, the edges are zeroed */
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, f, f, FALLOC_FL_PUNCH_HOLE, 100, 10),
			 -EOPNOTSUPP); /* punch needs KEEP_SIZE */
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, f, f,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100,
					2 * PG + 50 - 100),
			 0);
	ck_assert_uint_eq(used_blocks(), 2);
	ck_assert_int_eq(st_of(f).st_size, 3 * PG);
	ck_assert_int_eq(ops->read(be, f, f, back, sizeof(back), 0), (ssize_t)sizeof(back));
	for (size_t i = 0; i < sizeof(back); i++)
		ck_assert_int_eq(back[i], (i >= 100 && i < 2 * PG + 50) ? 0 : 'x');
	ck_assert_int_eq(ops->lseek(be, f, f, 0, SEEK_HOLE), PG);

	/* punch inside one page */
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, f, f,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * PG + 60, 5),
			 0);
	ck_assert_int_eq(ops->read(be, f, f, back, 20, 2 * PG + 55), 20);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(back[i], (i >= 5 && i < 10) ? 0 : 'x');

	/* KEEP_SIZE allocates but keeps the size; mode 0 extends */
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, f, f, FALLOC_FL_KEEP_SIZE, 3 * PG, PG), 0);
	ck_assert_int_eq(st_of(f).st_size, 3 * PG);
	ck_assert_uint_eq(used_blocks(), 3);
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, f, f, 0, 5 * PG, 10), 0);
	ck_assert_int_eq(st_of(f).st_size, 5 * PG + 10);
	ck_assert_uint_eq(used_blocks(), 4);
	ck_assert_int_eq(ops->read(be, f, f, back, 10, 5 * PG), 10);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(back[i], 0);

	ck_assert_int_eq(ops->fallocate(be, &root_ctx, f, f, FALLOC_FL_COLLAPSE_RANGE, 0, PG),
			 -EOPNOTSUPP);
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, f, f, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(ops->fallocate(be, &root_ctx, ROOT, ROOT, 0, 0, 10), -EISDIR);
}
END_TEST

START_TEST(truncate_and_o_trunc)
{
	char buf[2 * PG], back[2 * PG];
	struct vfs_setattr sa = { .valid = VFS_SET_SIZE };
	struct vfs_open o;
	struct stat st;
	uint64_t f;

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	memset(buf, 'q', sizeof(buf));
	ck_assert_int_eq(wr(f, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	age(f);
	sa.size = 10;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(st.st_size, 10);
	ck_assert_int_gt(ts_cmp(st.st_mtim, (struct timespec){ 1000, 7 }), 0);
	ck_assert_int_gt(ts_cmp(st.st_ctim, (struct timespec){ 1000, 7 }), 0);
	ck_assert_uint_eq(used_blocks(), 1);
	/* growing back shows zeros past the old end, not the old bytes */
	sa.size = 2 * PG;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(ops->read(be, f, f, back, sizeof(back), 0), (ssize_t)sizeof(back));
	for (size_t i = 0; i < sizeof(back); i++)
		ck_assert_int_eq(back[i], i < 10 ? 'q' : 0);
	/* same size: no time change */
	age(f);
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000);
	sa.size = -1;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), -EINVAL);
	sa.size = 0;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, ROOT, &sa, &st), -EISDIR);

	/* open with O_TRUNC truncates (FUSE_ATOMIC_O_TRUNC) */
	ck_assert_int_eq(ops->open(be, &root_ctx, f, O_WRONLY | O_TRUNC, &o), 0);
	ck_assert_int_eq(st_of(f).st_size, 0);
	ck_assert_uint_eq(used_blocks(), 0);
	ops->release(be, f, o.fh, O_WRONLY);
	/* and so does create of an existing file with O_TRUNC */
	ck_assert_int_eq(wr(f, "abc", 3, 0), 3);
	struct vfs_entry e;
	ck_assert_int_eq(
	    ops->create_file(be, &root_ctx, ROOT, "f", 0644, O_CREAT | O_TRUNC, &e, &o), 0);
	ck_assert_int_eq(e.attr.st_size, 0);
	ops->release(be, f, o.fh, 0);
	ops->forget(be, f, 1);
	ck_assert_int_eq(ops->open(be, &root_ctx, ROOT, O_RDONLY, &o), -EISDIR);
}
END_TEST

START_TEST(unlinked_open_file_lives_until_last_close)
{
	struct vfs_entry e;
	struct vfs_open o1, o2;
	char buf[8];
	uint64_t f;

	be = mk_fs(0, 100);
	ck_assert_int_eq(
	    ops->create_file(be, &root_ctx, ROOT, "f", 0644, O_CREAT | O_RDWR, &e, &o1), 0);
	f = e.ino;
	ck_assert_int_eq(ops->open(be, &root_ctx, f, O_RDONLY, &o2), 0);
	ck_assert_int_eq(wr(f, "data", 4, 0), 4);
	ck_assert_uint_eq(live_inodes(), 2);

	ck_assert_int_eq(ops->unlink(be, &root_ctx, ROOT, "f"), 0);
	uint64_t x;
	ck_assert_int_eq(lookup_ino(ROOT, "f", &x), -ENOENT);
	ck_assert_uint_eq(st_of(f).st_nlink, 0);
	ck_assert_int_eq(ops->read(be, f, o2.fh, buf, sizeof(buf), 0), 4);
	ck_assert_int_eq(memcmp(buf, "data", 4), 0);
	ck_assert_int_eq(wr(f, "more", 4, 4), 4); /* still writable */
	ck_assert_uint_eq(live_inodes(), 2);
	/* cannot be linked back once gone */
	ck_assert_int_eq(ops->link(be, &root_ctx, f, ROOT, "back", &e), -ENOENT);

	ops->forget(be, f, 1); /* the kernel forgets it; two handles remain */
	ck_assert_uint_eq(live_inodes(), 2);
	ops->release(be, f, o1.fh, O_RDWR);
	ck_assert_uint_eq(live_inodes(), 2);
	ck_assert_uint_eq(used_blocks(), 1);
	ops->release(be, f, o2.fh, O_RDONLY); /* last one: freed */
	ck_assert_uint_eq(live_inodes(), 1);
	ck_assert_uint_eq(used_blocks(), 0);
	struct stat st;
	ck_assert_int_eq(ops->getattr(be, &root_ctx, f, false, 0, &st), -ESTALE);
	/* extra forgets/releases are clamped, not fatal */
	ops->forget(be, ROOT, 0);
	ops->forget(be, f, 5);
	ops->release(be, f, f, 0);
}
END_TEST

START_TEST(forget_more_than_held_is_clamped)
{
	struct vfs_entry e;
	uint64_t f;

	be = mk_fs(0, 10);
	f = mkfile(ROOT, "f");						/* nlookup 1 */
	ck_assert_int_eq(ops->lookup(be, &root_ctx, ROOT, "f", &e), 0); /* 2 */
	ops->forget(be, f, 100);					/* clamped to 0 */
	ck_assert_uint_eq(live_inodes(), 2);				/* still linked */
	ck_assert_int_eq(ops->unlink(be, &root_ctx, ROOT, "f"), 0);
	ck_assert_uint_eq(live_inodes(), 1); /* no reference left: freed at once */
}
END_TEST

START_TEST(rename_rules)
{
	struct vfs_entry e;
	uint64_t a, b, d1, d2, sub, got;
	char buf[8];

	be = mk_fs(0, 0);
	a = mkfile(ROOT, "a");
	b = mkfile(ROOT, "b");
	ck_assert_int_eq(wr(a, "AAA", 3, 0), 3);
	ck_assert_int_eq(wr(b, "BBB", 3, 0), 3);
	d1 = mkdir_(ROOT, "d1");
	d2 = mkdir_(ROOT, "d2");
	sub = mkdir_(d1, "sub");
	mkfile(d2, "inside");
	ck_assert_uint_eq(st_of(ROOT).st_nlink, 4);

	/* over an existing file: b's inode goes once forgotten */
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "a", ROOT, "b", 0), 0);
	ck_assert_int_eq(lookup_ino(ROOT, "b", &got), 0);
	ck_assert_uint_eq(got, a);
	ck_assert_int_eq(lookup_ino(ROOT, "a", &got), -ENOENT);
	ck_assert_uint_eq(st_of(b).st_nlink, 0);
	ops->read(be, got, got, buf, 3, 0);
	ck_assert_int_eq(memcmp(buf, "AAA", 3), 0);

	/* NOREPLACE */
	mkfile(ROOT, "c");
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "b", ROOT, "c", RENAME_NOREPLACE),
			 -EEXIST);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "b", ROOT, "e", RENAME_NOREPLACE), 0);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "e", ROOT, "b", 0), 0);

	/* directories: over a non-empty one, into its own subtree, type clashes */
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "d1", ROOT, "d2", 0), -ENOTEMPTY);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "d1", sub, "x", 0), -EINVAL);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "d1", d1, "x", 0), -EINVAL);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "b", ROOT, "d1", 0), -EISDIR);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "d1", ROOT, "b", 0), -ENOTDIR);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "zz", ROOT, "b", 0), -ENOENT);
	ck_assert_int_eq(
	    ops->rename(be, &root_ctx, ROOT, "b", ROOT, "c", RENAME_NOREPLACE | RENAME_EXCHANGE),
	    -EINVAL);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "b", ROOT, "c", RENAME_WHITEOUT),
			 -EINVAL);

	/* a directory over an empty directory; nlink follows */
	uint64_t empty = mkdir_(ROOT, "empty");
	ck_assert_uint_eq(st_of(ROOT).st_nlink, 5);
	ck_assert_int_eq(ops->rename(be, &root_ctx, d1, "sub", ROOT, "empty", 0), 0);
	ck_assert_uint_eq(st_of(ROOT).st_nlink, 5); /* sub in, empty out */
	ck_assert_uint_eq(st_of(d1).st_nlink, 2);
	ck_assert_uint_eq(st_of(empty).st_nlink, 0);
	ck_assert_int_eq(lookup_ino(sub, "..", &got), 0);
	ck_assert_uint_eq(got, ROOT);

	/* same inode: a no-op */
	ck_assert_int_eq(ops->link(be, &root_ctx, a, ROOT, "a-link", &e), 0);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "b", ROOT, "a-link", 0), 0);
	ck_assert_int_eq(lookup_ino(ROOT, "b", &got), 0);
	ck_assert_int_eq(lookup_ino(ROOT, "a-link", &got), 0);
	ck_assert_uint_eq(st_of(a).st_nlink, 2);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "b", ROOT, "b", 0), 0);

	/* EXCHANGE: a file and a directory across parents */
	uint64_t c;
	ck_assert_int_eq(lookup_ino(ROOT, "c", &c), 0);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "c", d2, "nothere", RENAME_EXCHANGE),
			 -ENOENT);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "c", ROOT, "empty", RENAME_EXCHANGE), 0);
	ck_assert_int_eq(lookup_ino(ROOT, "c", &got), 0);
	ck_assert_uint_eq(got, sub);
	ck_assert_int_eq(lookup_ino(ROOT, "empty", &got), 0);
	ck_assert_uint_eq(got, c);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "c", d2, "inside", RENAME_EXCHANGE), 0);
	ck_assert_uint_eq(st_of(ROOT).st_nlink, 4); /* sub moved to d2 */
	ck_assert_uint_eq(st_of(d2).st_nlink, 3);
	ck_assert_int_eq(lookup_ino(sub, "..", &got), 0);
	ck_assert_uint_eq(got, d2);
	/* exchanging a directory with its own ancestor */
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "d2", d2, "inside", RENAME_EXCHANGE),
			 -EINVAL);
}
END_TEST

START_TEST(links_and_dir_nlink)
{
	struct vfs_entry e;
	uint64_t f, d, sd;

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	d = mkdir_(ROOT, "d");
	age(f);
	age(d);
	ck_assert_int_eq(ops->link(be, &root_ctx, f, d, "f2", &e), 0);
	ck_assert_uint_eq(e.ino, f);
	ck_assert_uint_eq(e.attr.st_nlink, 2);
	ck_assert_int_gt(ts_cmp(e.attr.st_ctim, (struct timespec){ 1000, 7 }), 0);
	ck_assert_int_gt(ts_cmp(st_of(d).st_mtim, (struct timespec){ 1000, 7 }), 0);
	ck_assert_int_eq(ops->link(be, &root_ctx, f, d, "f2", &e), -EEXIST);
	ck_assert_int_eq(ops->link(be, &root_ctx, d, ROOT, "dl", &e), -EPERM);

	ck_assert_uint_eq(st_of(d).st_nlink, 2);
	sd = mkdir_(d, "s1");
	mkdir_(d, "s2");
	ck_assert_uint_eq(st_of(d).st_nlink, 4);
	ck_assert_uint_eq(st_of(ROOT).st_nlink, 3);
	ck_assert_int_eq(ops->rmdir(be, &root_ctx, ROOT, "d"), -ENOTEMPTY);
	ck_assert_int_eq(ops->unlink(be, &root_ctx, ROOT, "d"), -EISDIR);
	ck_assert_int_eq(ops->rmdir(be, &root_ctx, ROOT, "f"), -ENOTDIR);
	ck_assert_int_eq(ops->rmdir(be, &root_ctx, d, "s1"), 0);
	ck_assert_uint_eq(st_of(d).st_nlink, 3);
	ck_assert_uint_eq(st_of(sd).st_nlink, 0);
	/* a removed directory cannot get children and has no ".." */
	ck_assert_int_eq(ops->mkdir(be, &root_ctx, sd, "x", 0755, &e), -ENOENT);
	ck_assert_int_eq(ops->lookup(be, &root_ctx, sd, "..", &e), -ENOENT);

	ck_assert_int_eq(ops->unlink(be, &root_ctx, ROOT, "f"), 0);
	ck_assert_uint_eq(st_of(f).st_nlink, 1);
	ck_assert_int_eq(ops->unlink(be, &root_ctx, d, "f2"), 0);
	ck_assert_uint_eq(st_of(f).st_nlink, 0);
}
END_TEST

START_TEST(timestamps)
{
	struct vfs_setattr sa = { 0 };
	struct vfs_entry e;
	struct stat st;
	uint64_t d, f;
	char buf[4];
	const struct timespec old = { 1000, 7 };

	be = mk_fs(0, 0);
	d = mkdir_(ROOT, "d");
	/* create updates the parent's mtime and ctime */
	age(d);
	f = mkfile(d, "f");
	st = st_of(d);
	ck_assert_int_gt(ts_cmp(st.st_mtim, old), 0);
	ck_assert_int_gt(ts_cmp(st.st_ctim, old), 0);
	/* chmod: ctime of the inode only */
	age(f);
	sa.valid = VFS_SET_MODE;
	sa.mode = 0600;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0600);
	ck_assert_int_gt(ts_cmp(st.st_ctim, old), 0);
	ck_assert_int_eq(ts_cmp(st.st_mtim, old), 0);
	/* chown: ctime */
	age(f);
	sa.valid = VFS_SET_UID | VFS_SET_GID;
	sa.uid = 7;
	sa.gid = 8;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_uid, 7);
	ck_assert_uint_eq(st.st_gid, 8);
	ck_assert_int_gt(ts_cmp(st.st_ctim, old), 0);
	/* write: mtime and ctime */
	age(f);
	ck_assert_int_eq(wr(f, "x", 1, 0), 1);
	st = st_of(f);
	ck_assert_int_gt(ts_cmp(st.st_mtim, old), 0);
	ck_assert_int_gt(ts_cmp(st.st_ctim, old), 0);
	ck_assert_int_eq(ts_cmp(st.st_atim, old), 0);
	/* read: atime (relatime: atime is older than mtime) */
	ck_assert_int_eq(ops->read(be, f, f, buf, 1, 0), 1);
	st = st_of(f);
	ck_assert_int_gt(ts_cmp(st.st_atim, old), 0);
	/* relatime: a second read right after does not move atime */
	struct timespec a1 = st.st_atim;
	ck_assert_int_eq(ops->read(be, f, f, buf, 1, 0), 1);
	ck_assert_int_eq(ts_cmp(st_of(f).st_atim, a1), 0);
	/* explicit and NOW times, nanoseconds kept */
	sa.valid = VFS_SET_ATIME | VFS_SET_MTIME;
	sa.atime = (struct timespec){ 12345, 678901234 };
	sa.mtime = (struct timespec){ 23456, 789012345 };
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(st.st_atim.tv_nsec, 678901234);
	ck_assert_int_eq(st.st_mtim.tv_sec, 23456);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 789012345);
	sa.valid = VFS_SET_MTIME_NOW;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_gt(st.st_mtim.tv_sec, 23456);
	/* unlink: parent mtime/ctime, inode ctime */
	ck_assert_int_eq(ops->lookup(be, &root_ctx, d, "f", &e), 0);
	age(d);
	age(f);
	ck_assert_int_eq(ops->unlink(be, &root_ctx, d, "f"), 0);
	ck_assert_int_gt(ts_cmp(st_of(d).st_mtim, old), 0);
	ck_assert_int_gt(ts_cmp(st_of(f).st_ctim, old), 0);
	/* rename: both parents and the inode's ctime */
	uint64_t g = mkfile(ROOT, "g");
	age(ROOT);
	age(d);
	age(g);
	ck_assert_int_eq(ops->rename(be, &root_ctx, ROOT, "g", d, "g", 0), 0);
	ck_assert_int_gt(ts_cmp(st_of(ROOT).st_mtim, old), 0);
	ck_assert_int_gt(ts_cmp(st_of(d).st_ctim, old), 0);
	ck_assert_int_gt(ts_cmp(st_of(g).st_ctim, old), 0);
	ck_assert_int_eq(ts_cmp(st_of(g).st_mtim, old), 0);
}
END_TEST

START_TEST(setattr_permissions_and_suid)
{
	struct vfs_setattr sa = { 0 };
	struct stat st;
	uint64_t f;
	struct op_ctx owner = user(1000, 1000), other = user(2000, 2000);

	be = mk_fs(0, 0);
	f = mkfile_as(&owner, ROOT, "f", 06755);
	ck_assert_uint_eq(st_of(f).st_mode & 07777, 06755);
	sa.valid = VFS_SET_MODE;
	sa.mode = 0700;
	ck_assert_int_eq(ops->setattr(be, &other, f, &sa, &st), -EPERM);
	sa.valid = VFS_SET_UID;
	sa.uid = 2000;
	ck_assert_int_eq(ops->setattr(be, &owner, f, &sa, &st), -EPERM);
	sa.valid = VFS_SET_GID;
	sa.gid = 3000;
	ck_assert_int_eq(ops->setattr(be, &owner, f, &sa, &st), -EPERM);
	owner.has_supp_gid = true;
	owner.supp_gid = 3000;
	sa.gid = 3000;
	ck_assert_int_eq(ops->setattr(be, &owner, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_gid, 3000);
	/* chown dropped setuid and (group-exec) setgid */
	ck_assert_uint_eq(st.st_mode & 07777, 0755);

	/* a write by non-root clears S_ISUID/S_ISGID; by root it does not */
	sa.valid = VFS_SET_MODE;
	sa.mode = 06755;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(ops->write(be, &root_ctx, f, f, "r", 1, 0, O_WRONLY), 1);
	ck_assert_uint_eq(st_of(f).st_mode & 07777, 06755);
	ck_assert_int_eq(ops->write(be, &owner, f, f, "u", 1, 0, O_WRONLY), 1);
	ck_assert_uint_eq(st_of(f).st_mode & 07777, 0755);
	/* KILL_SUIDGID from the kernel */
	sa.mode = 06755;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	sa.valid = VFS_SET_KILL_SUIDGID;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	/* setgid without group exec is a lock marker, not killed */
	sa.valid = VFS_SET_MODE;
	sa.mode = 02644;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	ck_assert_int_eq(ops->write(be, &owner, f, f, "u", 1, 0, O_WRONLY), 1);
	ck_assert_uint_eq(st_of(f).st_mode & 07777, 02644);

	/* O_APPEND writes at the true end */
	ck_assert_int_eq(ops->write(be, &root_ctx, f, f, "END", 3, 0, O_WRONLY | O_APPEND), 3);
	ck_assert_int_eq(st_of(f).st_size, 4);
}
END_TEST

/*
 * pjdfstest chmod/12: a write by a non-owner makes the kernel send a SETATTR
 * whose mode only clears setuid/setgid; chown/00, chown/05: a chown to a
 * supplementary group (FUSE does not pass those; the kernel checked it).
 */
START_TEST(setattr_kernel_checked_and_kill_priv)
{
	struct op_ctx owner = user(1000, 1000), other = user(2000, 2000);
	struct vfs_setattr sa = { 0 };
	struct stat st;
	uint64_t f, tmp;

	be = mk_fs(0, 0);
	f = mkfile_as(&owner, ROOT, "f", 06777);
	/* Without default_permissions: clearing only the bits is a writer's right... */
	sa.valid = VFS_SET_MODE;
	sa.mode = 0777;
	ck_assert_int_eq(ops->setattr(be, &other, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0777);
	/* ...but not of one who may not write, nor a change of any other bit. */
	sa.mode = 04755;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	sa.mode = 0755;
	ck_assert_int_eq(ops->setattr(be, &other, f, &sa, &st), -EPERM);
	sa.mode = 04777;
	ck_assert_int_eq(ops->setattr(be, &root_ctx, f, &sa, &st), 0);
	sa.mode = 0700;
	ck_assert_int_eq(ops->setattr(be, &other, f, &sa, &st), -EPERM);
	sa.valid = VFS_SET_GID;
	sa.gid = 3000;
	ck_assert_int_eq(ops->setattr(be, &owner, f, &sa, &st), -EPERM);

	/* With default_permissions the kernel decided: memfs does not refuse. */
	owner.perm_checked = other.perm_checked = true;
	ck_assert_int_eq(ops->setattr(be, &owner, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_gid, 3000);
	sa.valid = VFS_SET_MODE;
	sa.mode = 0777;
	ck_assert_int_eq(ops->setattr(be, &other, f, &sa, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0777);
	/* type checks still apply */
	sa.valid = VFS_SET_SIZE;
	sa.size = 0;
	ck_assert_int_eq(ops->setattr(be, &owner, ROOT, &sa, &st), -EISDIR);
	tmp = mkdir_as(&root_ctx, ROOT, "tmp", 01777);
	mkfile_as(&owner, tmp, "a", 0644);
	ck_assert_int_eq(ops->unlink(be, &other, tmp, "a"), 0);
}
END_TEST

START_TEST(sticky_directory)
{
	struct op_ctx alice = user(1000, 1000), bob = user(2000, 2000);
	struct vfs_entry e;
	uint64_t tmp;

	be = mk_fs(0, 0);
	tmp = mkdir_as(&root_ctx, ROOT, "tmp", 01777);
	ck_assert_uint_eq(st_of(tmp).st_mode & 07777, 01777);
	mkfile_as(&alice, tmp, "a", 0666);
	mkfile_as(&bob, tmp, "b", 0666);
	ck_assert_int_eq(ops->mkdir(be, &bob, tmp, "bd", 0777, &e), 0);

	ck_assert_int_eq(ops->unlink(be, &bob, tmp, "a"), -EPERM);
	ck_assert_int_eq(ops->rename(be, &bob, tmp, "a", tmp, "a2", 0), -EPERM);
	ck_assert_int_eq(ops->rename(be, &alice, tmp, "a", tmp, "b", 0), -EPERM); /* b is bob's */
	ck_assert_int_eq(ops->rmdir(be, &alice, tmp, "bd"), -EPERM);
	ck_assert_int_eq(ops->rename(be, &alice, tmp, "a", tmp, "a2", 0), 0);
	ck_assert_int_eq(ops->unlink(be, &alice, tmp, "a2"), 0);
	ck_assert_int_eq(ops->unlink(be, &root_ctx, tmp, "b"), 0);
	ck_assert_int_eq(ops->rmdir(be, &bob, tmp, "bd"), 0);

	/* the directory's owner may remove anything in it */
	uint64_t own = mkdir_as(&alice, ROOT, "own", 01777);
	mkfile_as(&bob, own, "x", 0644);
	ck_assert_int_eq(ops->unlink(be, &alice, own, "x"), 0);
}
END_TEST

START_TEST(setgid_directory_inheritance)
{
	struct op_ctx u = user(1000, 100);
	struct vfs_setattr sa = { .valid = VFS_SET_GID | VFS_SET_MODE, .gid = 50, .mode = 02775 };
	struct vfs_entry e;
	struct stat st;
	uint64_t d, sub, f;

	be = mk_fs(0, 0);
	d = mkdir_(ROOT, "shared");
	ck_assert_int_eq(ops->setattr(be, &root_ctx, d, &sa, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 02775);

	f = mkfile_as(&u, d, "f", 0644);
	st = st_of(f);
	ck_assert_uint_eq(st.st_gid, 50);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_mode & S_ISGID, 0);

	sub = mkdir_as(&u, d, "sub", 0755);
	st = st_of(sub);
	ck_assert_uint_eq(st.st_gid, 50);
	ck_assert_uint_eq(st.st_mode & 07777, 02755);

	/* and further down */
	ck_assert_int_eq(ops->mknod(be, &u, sub, "p", S_IFIFO | 0600, 0, &e), 0);
	ck_assert_uint_eq(e.attr.st_gid, 50);

	/* outside a setgid dir: the caller's gid */
	f = mkfile_as(&u, ROOT, "plain", 0644);
	ck_assert_uint_eq(st_of(f).st_gid, 100);
}
END_TEST

static bool sink_has(const struct sink *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

START_TEST(readdir_resume_after_concurrent_changes)
{
	struct sink s1, s2;
	char name[16];
	uint64_t d;
	int seen[20] = { 0 };

	be = mk_fs(0, 0);
	d = mkdir_(ROOT, "d");
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		mkfile(d, name);
	}
	/* first batch: ".", ".." and 6 entries */
	sink_init(&s1, false, 8);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, d, d, 0, &s1.db), 0);
	ck_assert_uint_eq(s1.n, 8);
	ck_assert_str_eq(s1.names[0], ".");
	ck_assert_uint_eq(s1.offs[0], 1);
	ck_assert_uint_eq(s1.inos[0], d);
	ck_assert_str_eq(s1.names[1], "..");
	ck_assert_uint_eq(s1.inos[1], ROOT);
	ck_assert_uint_eq(s1.offs[1], 2);
	for (size_t i = 1; i < s1.n; i++)
		ck_assert_uint_gt(s1.offs[i], s1.offs[i - 1]);

	/* meanwhile: unlink one listed and one not yet listed entry, add one */
	ck_assert(sink_has(&s1, "f02"));
	ck_assert(!sink_has(&s1, "f10"));
	ck_assert_int_eq(ops->unlink(be, &root_ctx, d, "f02"), 0);
	ck_assert_int_eq(ops->unlink(be, &root_ctx, d, "f10"), 0);
	/* the last listed one too: resuming from its cookie must still work */
	ck_assert_int_eq(ops->unlink(be, &root_ctx, d, s1.names[7]), 0);
	mkfile(d, "new");

	sink_init(&s2, false, SIZE_MAX);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, d, d, s1.offs[7], &s2.db), 0);
	for (size_t i = 2; i < s1.n; i++)
		seen[atoi(s1.names[i] + 1)]++;
	for (size_t i = 0; i < s2.n; i++) {
		ck_assert_str_ne(s2.names[i], ".");
		ck_assert_str_ne(s2.names[i], "..");
		if (strcmp(s2.names[i], "new") == 0)
			continue;
		seen[atoi(s2.names[i] + 1)]++;
	}
	for (int i = 0; i < 20; i++) {
		if (i == 10)
			ck_assert_int_eq(seen[i], 0); /* removed before it was reached */
		else
			ck_assert_msg(seen[i] == 1, "f%02d seen %d times", i, seen[i]);
	}
	ck_assert(sink_has(&s2, "new")); /* cookies only grow: a new entry comes last */

	/* reading on from the end gives nothing */
	sink_init(&s2, false, SIZE_MAX);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, d, d, 1000000, &s2.db), 0);
	ck_assert_uint_eq(s2.n, 0);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, 999999, 0, 0, &s2.db), -ESTALE);
	uint64_t f;
	ck_assert_int_eq(lookup_ino(d, "f00", &f), 0);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, f, 0, 0, &s2.db), -ENOTDIR);

	/* many removals (compaction) keep the order and cookies */
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "g%03d", i);
		mkfile(d, name);
	}
	for (int i = 0; i < 200; i++) {
		if (i % 10 == 0)
			continue;
		snprintf(name, sizeof(name), "g%03d", i);
		ck_assert_int_eq(ops->unlink(be, &root_ctx, d, name), 0);
	}
	sink_init(&s2, false, SIZE_MAX);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, d, d, 2, &s2.db), 0);
	int g = 0;
	for (size_t i = 0; i < s2.n; i++) {
		if (s2.names[i][0] != 'g')
			continue;
		snprintf(name, sizeof(name), "g%03d", g);
		ck_assert_str_eq(s2.names[i], name);
		g += 10;
	}
	ck_assert_int_eq(g, 200);
	ck_assert_int_eq(st_of(d).st_size, (int)(s2.n + 2) * 20);
}
END_TEST

START_TEST(readdirplus_counts_only_placed_entries)
{
	struct sink s;
	char name[16];
	uint64_t d, inos[10];
	const size_t k = 4;

	be = mk_fs(0, 100);
	d = mkdir_(ROOT, "d");
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		inos[i] = mkfile(d, name);
		ops->forget(be, inos[i], 1); /* nlookup 0: only the name holds it */
	}
	ck_assert_uint_eq(live_inodes(), 12);

	/* ".", ".." and k entries fit; the (k+1)th is refused */
	sink_init(&s, true, k + 2);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, d, d, 0, &s.db), 0);
	ck_assert_uint_eq(s.n, k + 2);
	ck_assert(!s.had_entry[0] && !s.had_entry[1]); /* "." and ".." carry no reference */
	for (size_t i = 2; i < s.n; i++)
		ck_assert(s.had_entry[i]);

	/* unlink all: exactly the k listed ones stay alive */
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(ops->unlink(be, &root_ctx, d, name), 0);
	}
	ck_assert_uint_eq(live_inodes(), 2 + k);
	for (size_t i = 2; i < s.n; i++)
		ops->forget(be, s.inos[i], 1);
	ck_assert_uint_eq(live_inodes(), 2);
}
END_TEST

/*
 * fh 0 = "no open handle" (the kernel's no_opendir: no OPENDIR, no RELEASEDIR):
 * a listing in chunks of 3 from offset 0, plain and plus, neither repeats nor
 * skips, d_ino agrees with lookup, and a removed directory's inode is freed
 * once forgotten (no handle pins it).
 */
START_TEST(readdir_without_handle_in_chunks)
{
	static struct sink all, s;
	char name[16];
	uint64_t d, off, ino;

	be = mk_fs(0, 0);
	d = mkdir_(ROOT, "d");
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ops->forget(be, mkfile(d, name), 1);
	}
	for (int plus = 0; plus < 2; plus++) {
		sink_init(&all, plus, SIZE_MAX);
		off = 0;
		for (;;) {
			sink_init(&s, plus, 3);
			ck_assert_int_eq(ops->readdir(be, &root_ctx, d, 0, off, &s.db), 0);
			if (!s.n)
				break;
			for (size_t i = 0; i < s.n; i++) {
				ck_assert_msg(!sink_has(&all, s.names[i]), "%s repeated",
					      s.names[i]);
				memcpy(all.names[all.n], s.names[i], sizeof(s.names[0]));
				all.inos[all.n] = s.inos[i];
				all.had_entry[all.n++] = s.had_entry[i];
			}
			off = s.offs[s.n - 1];
		}
		ck_assert_uint_eq(all.n, 32);
		for (size_t i = 0; i < all.n; i++) {
			if (i < 2)
				continue; /* "." and ".." */
			ck_assert_int_eq(lookup_ino(d, all.names[i], &ino), 0);
			ck_assert_uint_eq(all.inos[i], ino);
			ck_assert(all.had_entry[i] == (plus == 1));
			if (plus)
				ops->forget(be, ino, 1);
		}
	}
	ck_assert_int_eq(ops->fsyncdir(be, d, 0, false), 0);
	ck_assert_uint_eq(live_inodes(), 2 + 30);
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(ops->unlink(be, &root_ctx, d, name), 0);
	}
	ck_assert_int_eq(ops->rmdir(be, &root_ctx, ROOT, "d"), 0);
	/* still looked up (a cwd, say): lists as empty, never crashes */
	sink_init(&s, false, SIZE_MAX);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, d, 0, 0, &s.db), 0);
	ck_assert_uint_eq(s.n, 2);
	ops->forget(be, d, 1);
	ck_assert_uint_eq(live_inodes(), 1);
	ck_assert_int_eq(ops->readdir(be, &root_ctx, d, 0, 0, &s.db), -ESTALE);
}
END_TEST

/* Counts what a listing returned, per inode; stops after `limit` entries a call. */
struct tally {
	struct vfs_dirbuf db;
	size_t limit, n; /* this call */
	uint64_t last_off;
	uint64_t total; /* entries over the whole listing, "." and ".." excluded */
	uint8_t *seen;	/* by inode number */
	uint64_t nseen;
};

static int tally_add(struct vfs_dirbuf *db, const struct vfs_dirent *d)
{
	struct tally *t = db->data;

	if (t->n >= t->limit)
		return 1;
	t->n++;
	t->last_off = d->off;
	if (strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0)
		return 0;
	ck_assert_uint_lt(d->ino, t->nseen);
	if (t->seen[d->ino] < UINT8_MAX)
		t->seen[d->ino]++;
	t->total++;
	return 0;
}

/*
 * Issue 15 item 11: a listing while entries of the same directory are renamed,
 * over and over, to new names and over existing ones, entries both behind and
 * ahead of the listing. The listing ends; every entry that was never renamed
 * (nor replaced) is seen exactly once; a renamed one at most twice; a replaced
 * (unlinked) one at most once. Before the fix a renamed entry got a new, larger
 * cookie each time and the listing met it again and again, for ever.
 */
START_TEST(readdir_ends_while_entries_are_renamed)
{
	enum { N = 3000, CHUNK = 7, HOT = 16 };
	static uint8_t seen[N + 16], renamed[N + 16], replaced[N + 16];
	uint64_t inos[N], d, rng = 0x9E3779B97F4A7C15ULL, off = 0;
	static char names[N][16];
	struct tally t = { .seen = seen, .nseen = N + 16 };
	unsigned calls = 0, flips = 0;

	be = mk_fs(0, 0);
	d = mkdir_(ROOT, "d");
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "e%05d", i);
		inos[i] = mkfile(d, names[i]);
		ck_assert_uint_lt(inos[i], N + 16);
		ops->forget(be, inos[i], 1);
	}
	t.db.add = tally_add;
	t.db.data = &t;
	for (;;) {
		t.limit = CHUNK;
		t.n = 0;
		ck_assert_int_eq(ops->readdir(be, &root_ctx, d, 0, off, &t.db), 0);
		if (t.n == 0)
			break;
		off = t.last_off;
		ck_assert_msg(++calls < 4 * N / CHUNK, "listing did not end: %" PRIu64 " entries",
			      t.total);
		/* Rename HOT entries spread over the directory to a fresh name, and
		 * every fourth call one entry over another. */
		for (int h = 0; h < HOT; h++) {
			int i;
			char nn[16];

			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			i = (int)((rng >> 33) % N);
			if (!names[i][0])
				continue; /* replaced earlier */
			snprintf(nn, sizeof(nn), "%c%05d", names[i][0] == 'e' ? 'r' : 'e', i);
			ck_assert_int_eq(ops->rename(be, &root_ctx, d, names[i], d, nn, 0), 0);
			memcpy(names[i], nn, sizeof(nn));
			renamed[inos[i]] = 1;
			flips++;
		}
		if (calls % 4 == 0) {
			int a = (int)((rng >> 20) % N), b = (int)((rng >> 40) % N);

			if (a != b && names[a][0] && names[b][0]) {
				ck_assert_int_eq(
				    ops->rename(be, &root_ctx, d, names[a], d, names[b], 0), 0);
				renamed[inos[a]] = 1;
				replaced[inos[b]] = 1;
				memcpy(names[a], names[b], sizeof(names[a]));
				names[b][0] = '\0';
			}
		}
	}
	ck_assert_uint_gt(flips, 1000);
	for (int i = 0; i < N; i++) {
		uint64_t ino = inos[i];

		if (replaced[ino])
			ck_assert_msg(seen[ino] <= 1, "replaced %d seen %u times", i, seen[ino]);
		else if (renamed[ino])
			ck_assert_msg(seen[ino] >= 1 && seen[ino] <= 2, "renamed %d seen %u times",
				      i, seen[ino]);
		else
			ck_assert_msg(seen[ino] == 1, "untouched %d seen %u times", i, seen[ino]);
	}
	ck_assert_uint_le(t.total, N + N / 4);
}
END_TEST

START_TEST(xattrs)
{
	char buf[64];
	uint64_t f;
	struct vfs_entry e;
	struct op_ctx u = user(1000, 1000);

	be = mk_fs(0, 0);
	f = mkfile(ROOT, "f");
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.a", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "user.a", "hello", 5, XATTR_REPLACE),
			 -ENODATA);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "user.a", "hello", 5, XATTR_CREATE), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "user.a", "x", 1, XATTR_CREATE), -EEXIST);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.a", NULL, 0), 5); /* probe */
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.a", buf, 4), -ERANGE);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.a", buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "user.a", "bye", 3, XATTR_REPLACE), 0);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.a", buf, sizeof(buf)), 3);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "user.empty", "", 0, 0), 0);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.empty", buf, sizeof(buf)), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "trusted.t", "T", 1, 0), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "security.s", "S", 1, 0), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "system.x", "S", 1, 0), -EOPNOTSUPP);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "other.x", "S", 1, 0), -EOPNOTSUPP);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "foo", buf, sizeof(buf)), -EOPNOTSUPP);

	/* list: probe, ERANGE, content */
	ssize_t need = ops->listxattr(be, &root_ctx, f, NULL, 0);
	ck_assert_int_eq(need, (ssize_t)(sizeof("user.a") + sizeof("user.empty") +
					 sizeof("trusted.t") + sizeof("security.s")));
	ck_assert_int_eq(ops->listxattr(be, &root_ctx, f, buf, (size_t)need - 1), -ERANGE);
	ck_assert_int_eq(ops->listxattr(be, &root_ctx, f, buf, sizeof(buf)), need);
	bool has_t = false;
	for (char *p = buf; p < buf + need; p += strlen(p) + 1)
		has_t |= strcmp(p, "trusted.t") == 0;
	ck_assert(has_t);
	/* trusted.* is hidden from non-root */
	ck_assert_int_eq(ops->listxattr(be, &u, f, NULL, 0), need - (ssize_t)sizeof("trusted.t"));
	ck_assert_int_eq(ops->getxattr(be, &u, f, "trusted.t", buf, sizeof(buf)), -ENODATA);

	ck_assert_int_eq(ops->removexattr(be, &root_ctx, f, "user.a"), 0);
	ck_assert_int_eq(ops->removexattr(be, &root_ctx, f, "user.a"), -ENODATA);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.a", buf, sizeof(buf)), -ENODATA);

	/* user.* only on files and directories */
	ck_assert_int_eq(ops->symlink(be, &root_ctx, ROOT, "l", "t", &e), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, e.ino, "user.a", "x", 1, 0), -EPERM);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, e.ino, "trusted.a", "x", 1, 0), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, ROOT, "user.d", "x", 1, 0), 0);
	/* a changed xattr changes ctime */
	age(f);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, f, "user.z", "1", 1, 0), 0);
	ck_assert_int_gt(ts_cmp(st_of(f).st_ctim, (struct timespec){ 1000, 7 }), 0);
	ck_assert_int_eq(ops->setxattr(be, &root_ctx, 999999, "user.z", "1", 1, 0), -ESTALE);
}
END_TEST

START_TEST(copy_file_range_within_memfs)
{
	char buf[3 * PG], back[3 * PG];
	uint64_t a, b;

	be = mk_fs(0, 0);
	a = mkfile(ROOT, "a");
	b = mkfile(ROOT, "b");
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i % 251);
	ck_assert_int_eq(wr(a, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(ops->copy_file_range(be, &root_ctx, a, a, 10, b, b, 100, 2 * PG, 0),
			 2 * PG);
	ck_assert_int_eq(st_of(b).st_size, 100 + 2 * PG);
	ck_assert_int_eq(ops->read(be, b, b, back, 2 * PG, 100), 2 * PG);
	ck_assert_int_eq(memcmp(back, buf + 10, 2 * PG), 0);
	/* short at the source's end, 0 past it */
	ck_assert_int_eq(ops->copy_file_range(be, &root_ctx, a, a, 3 * PG - 5, b, b, 0, 100, 0), 5);
	ck_assert_int_eq(ops->copy_file_range(be, &root_ctx, a, a, 3 * PG, b, b, 0, 100, 0), 0);
	/* overlapping within one file is refused; disjoint is fine */
	ck_assert_int_eq(ops->copy_file_range(be, &root_ctx, a, a, 0, a, a, 100, 200, 0), -EINVAL);
	ck_assert_int_eq(ops->copy_file_range(be, &root_ctx, a, a, 0, a, a, 3 * PG, 100, 0), 100);
	ck_assert_int_eq(ops->copy_file_range(be, &root_ctx, a, a, 0, b, b, 0, 10, 1), -EINVAL);
	ck_assert_int_eq(ops->copy_file_range(be, &root_ctx, ROOT, ROOT, 0, b, b, 0, 10, 0),
			 -EISDIR);
}
END_TEST

START_TEST(root_options)
{
	struct mount_config c = { 0 };
	char err[256];
	struct stat st;

	c.type = (char *)"memfs";
	c.has_root_mode = true;
	c.root_mode = 01770;
	c.has_root_owner = true;
	c.root_uid = 123;
	c.root_gid = 456;
	ck_assert_int_eq(ops->create(&c, &be, err, sizeof(err)), 0);
	st = st_of(ROOT);
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 01770);
	ck_assert_uint_eq(st.st_uid, 123);
	ck_assert_uint_eq(st.st_gid, 456);
	ck_assert_ptr_eq(backend_find("memfs"), &memfs_ops);
	bool listed = false;
	for (const char *const *n = backend_type_names(); *n; n++)
		listed |= strcmp(*n, "memfs") == 0;
	ck_assert(listed);
	ck_assert_ptr_null(backend_find("nosuch"));
}
END_TEST

START_TEST(seed_copies_a_tree)
{
	char *src = testlib_tmpdir();
	char path[512], buf[64];
	struct mount_config c = { 0 };
	char err[256] = "";
	struct timespec times[2] = { { 1111, 222333444 }, { 5555, 666777888 } };
	uint64_t f, l, d, h, g;
	struct stat st;

	snprintf(path, sizeof(path), "%s/file", src);
	testlib_write_file(path, "content", 7);
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(chown(path, 1234, 5678), 0);
	ck_assert_int_eq(setxattr(path, "user.color", "blue", 4, 0), 0);
	ck_assert_int_eq(setxattr(path, "trusted.secret", "s", 1, 0), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
	snprintf(buf, sizeof(buf), "%s/hard", src);
	ck_assert_int_eq(link(path, buf), 0);
	snprintf(path, sizeof(path), "%s/link", src);
	ck_assert_int_eq(symlink("file", path), 0);
	snprintf(path, sizeof(path), "%s/dir", src);
	ck_assert_int_eq(mkdir(path, 0711), 0);
	snprintf(path, sizeof(path), "%s/dir/big", src);
	{
		/* a sparse host file: data at 1 MiB only */
		int fd = open(path, O_WRONLY | O_CREAT, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, "tail", 4, 1 << 20), 4);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/dir", src);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);

	c.type = (char *)"memfs";
	c.seed = src;
	ck_assert_msg(ops->create(&c, &be, err, sizeof(err)) == 0, "%s", err);

	ck_assert_int_eq(lookup_ino(ROOT, "file", &f), 0);
	st = st_of(f);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0640);
	ck_assert_uint_eq(st.st_uid, 1234);
	ck_assert_uint_eq(st.st_gid, 5678);
	ck_assert_int_eq(st.st_size, 7);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(st.st_atim.tv_sec, 1111);
	ck_assert_int_eq(st.st_atim.tv_nsec, 222333444);
	ck_assert_int_eq(st.st_mtim.tv_sec, 5555);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 666777888);
	ck_assert_int_eq(ops->read(be, f, f, buf, sizeof(buf), 0), 7);
	ck_assert_int_eq(memcmp(buf, "content", 7), 0);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "user.color", buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "blue", 4), 0);
	ck_assert_int_eq(ops->getxattr(be, &root_ctx, f, "trusted.secret", buf, sizeof(buf)), 1);
	ck_assert_int_eq(lookup_ino(ROOT, "hard", &h), 0);
	ck_assert_uint_eq(h, f);

	ck_assert_int_eq(lookup_ino(ROOT, "link", &l), 0);
	ck_assert(S_ISLNK(st_of(l).st_mode));
	ck_assert_int_eq(ops->readlink(be, &root_ctx, l, buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "file", 4), 0);

	ck_assert_int_eq(lookup_ino(ROOT, "dir", &d), 0);
	st = st_of(d);
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0711);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 666777888); /* after its children were added */
	ck_assert_uint_eq(st_of(ROOT).st_nlink, 3);
	ck_assert_int_eq(lookup_ino(d, "big", &g), 0);
	st = st_of(g);
	ck_assert_int_eq(st.st_size, (1 << 20) + 4);
	ck_assert_int_eq(st.st_blocks, PG / 512); /* holes stayed holes */
	ck_assert_int_eq(ops->read(be, g, g, buf, 8, (1 << 20) - 4), 8);
	ck_assert_int_eq(memcmp(buf, "\0\0\0\0tail", 8), 0);

	ops->destroy(be);
	be = NULL;

	/* a seed over the inode limit fails and names the path */
	c.inode_limit = 3;
	ck_assert_int_eq(ops->create(&c, &be, err, sizeof(err)), -ENOSPC);
	ck_assert_ptr_null(be);
	ck_assert_ptr_nonnull(strstr(err, src));
	c.inode_limit = 0;
	/* a missing seed */
	snprintf(path, sizeof(path), "%s/missing", src);
	c.seed = path;
	ck_assert_int_eq(ops->create(&c, &be, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, path));
	testlib_rmtree(src);
	free(src);
}
END_TEST

/* ---- concurrency ---- */

#define NTHREADS 6
#define NITER	 400

struct worker {
	pthread_t t;
	int id;
	uint64_t dir, shared;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct op_ctx ctx = { 0 };
	char name[32], block[64];
	struct vfs_entry e;
	struct vfs_open o;
	struct sink *s = malloc(sizeof(*s));

	ck_assert_ptr_nonnull(s);
	memset(block, 'A' + w->id, sizeof(block));
	for (int i = 0; i < NITER; i++) {
		snprintf(name, sizeof(name), "t%d-%d", w->id, i);
		ck_assert_int_eq(
		    ops->create_file(be, &ctx, w->dir, name, 0644, O_CREAT | O_EXCL, &e, &o), 0);
		ck_assert_int_eq(ops->write(be, &ctx, e.ino, o.fh, name, strlen(name), 0, 0),
				 (ssize_t)strlen(name));
		ops->release(be, e.ino, o.fh, 0);
		ops->forget(be, e.ino, 1);
		/* each thread owns a slice of the shared file */
		ck_assert_int_eq(ops->write(be, &ctx, w->shared, w->shared, block, sizeof(block),
					    (off_t)((i * NTHREADS + w->id) * sizeof(block)), 0),
				 (ssize_t)sizeof(block));
		if (i % 2) {
			snprintf(name, sizeof(name), "t%d-%d", w->id, i - 1);
			ck_assert_int_eq(ops->unlink(be, &ctx, w->dir, name), 0);
		}
		if (i % 50 == 0) {
			sink_init(s, true, SIZE_MAX / 2);
			s->limit = 200;
			ck_assert_int_eq(ops->readdir(be, &ctx, w->dir, 0, 0, &s->db), 0);
			for (size_t k = 2; k < s->n; k++)
				ops->forget(be, s->inos[k], 1);
		}
		if (i % 7 == 0) {
			snprintf(name, sizeof(name), "r%d", w->id);
			int r = ops->mkdir(be, &ctx, w->dir, name, 0755, &e);
			ck_assert_int_eq(r, 0);
			ops->forget(be, e.ino, 1);
			ck_assert_int_eq(ops->rmdir(be, &ctx, w->dir, name), 0);
		}
	}
	free(s);
	return NULL;
}

START_TEST(concurrent_creates_unlinks_writes)
{
	struct worker w[NTHREADS];
	struct sink *s = malloc(sizeof(*s));
	uint64_t d, shared;
	char *buf;
	size_t total = (size_t)NITER * NTHREADS * 64;

	ck_assert_ptr_nonnull(s);
	be = mk_fs(0, 0);
	d = mkdir_(ROOT, "d");
	shared = mkfile(ROOT, "shared");
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .id = i, .dir = d, .shared = shared };
		ck_assert_int_eq(pthread_create(&w[i].t, NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i].t, NULL);

	/* survivors: each thread's even-less-than... its last odd i removed i-1 */
	sink_init(s, false, 256);
	size_t count = 0;
	uint64_t off = 2;
	for (;;) {
		sink_init(s, false, 256);
		ck_assert_int_eq(ops->readdir(be, &root_ctx, d, 0, off, &s->db), 0);
		if (!s->n)
			break;
		count += s->n;
		off = s->offs[s->n - 1];
	}
	ck_assert_uint_eq(count, (size_t)NTHREADS * NITER / 2);
	ck_assert_uint_eq(st_of(d).st_nlink, 2);
	ck_assert_uint_eq(live_inodes(), 3 + count); /* root, d, shared + files */
	ck_assert_int_eq(st_of(shared).st_size, (off_t)total);
	buf = malloc(total);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(ops->read(be, shared, shared, buf, total, 0), (ssize_t)total);
	for (size_t i = 0; i < total; i++)
		ck_assert_int_eq(buf[i], 'A' + (int)((i / 64) % NTHREADS));
	ck_assert_uint_eq(used_blocks(), (total + PG - 1) / PG + count);
	free(buf);
	free(s);
}
END_TEST

static Suite *memfs_suite(void)
{
	Suite *s = suite_create("memfs");
	TCase *tc = tcase_create("ops");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, create_lookup_getattr);
	tcase_add_test(tc, mknod_symlink_readlink_access);
	tcase_add_test(tc, write_read_sparse);
	tcase_add_test(tc, size_limit_failed_write_changes_nothing);
	tcase_add_test(tc, inode_limit);
	tcase_add_test(tc, seek_data_hole);
	tcase_add_test(tc, huge_offsets_and_unlimited_fallocate);
	tcase_add_test(tc, fallocate_and_punch_hole);
	tcase_add_test(tc, truncate_and_o_trunc);
	tcase_add_test(tc, unlinked_open_file_lives_until_last_close);
	tcase_add_test(tc, forget_more_than_held_is_clamped);
	tcase_add_test(tc, rename_rules);
	tcase_add_test(tc, links_and_dir_nlink);
	tcase_add_test(tc, timestamps);
	tcase_add_test(tc, setattr_permissions_and_suid);
	tcase_add_test(tc, setattr_kernel_checked_and_kill_priv);
	tcase_add_test(tc, sticky_directory);
	tcase_add_test(tc, setgid_directory_inheritance);
	tcase_add_test(tc, readdir_resume_after_concurrent_changes);
	tcase_add_test(tc, readdirplus_counts_only_placed_entries);
	tcase_add_test(tc, readdir_without_handle_in_chunks);
	tcase_add_test(tc, readdir_ends_while_entries_are_renamed);
	tcase_add_test(tc, xattrs);
	tcase_add_test(tc, copy_file_range_within_memfs);
	tcase_add_test(tc, root_options);
	tcase_add_test(tc, seed_copies_a_tree);
	tcase_add_test(tc, concurrent_creates_unlinks_writes);
	tcase_add_test(tc, kernel_may_keep_its_caches);
	tcase_add_test(tc, write_only_opens_bypass_the_page_cache);
	tcase_add_test(tc, write_drops_file_capabilities);
	tcase_add_test(tc, create_truncating_existing_file_kills_suidgid);
	tcase_add_test(tc, kill_sgid_drops_setgid_without_group_exec);
	tcase_add_test(tc, access_acl_and_mode_follow_each_other);
	tcase_add_test(tc, default_acl_is_inherited_in_place_of_the_umask);
	tcase_add_test(tc, hash_tables_shrink_after_deletes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(memfs_suite());
}
