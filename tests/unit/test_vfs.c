/*
 * tests/unit/test_vfs.c - vfs routing, inode mapping, policies and counters,
 * over a fake in-memory backend injected with vfs_create_custom().
 *
 * The fake ("fake") is one flat directory (root ino 1) holding files; every op
 * counts its calls so tests can prove vfs answered without calling it. "bare"
 * has only the mandatory ops (for vfs's NULL-op answers), "bad" returns
 * values the kernel would reject, "broken" fails to create.
 */
#include "testlib.h"

#include "config/config.h"
#include "vfs/vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the fake backend ------------------------------------------------------------------- */

#define FAKE_MAX 32

struct fake_inode {
	bool used;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	off_t size;
	uint64_t nlookup;
};

struct fake_dirent {
	char name[64];
	uint64_t ino; /* 0 = free slot */
};

struct backend {
	struct fake_inode ino[FAKE_MAX]; /* by ino; [1] is the root */
	struct fake_dirent de[FAKE_MAX]; /* the root's entries, in slot order */
	uint64_t blocks;		 /* statfs f_blocks: tells mounts apart */
	unsigned calls;			 /* every op but create/destroy */
	unsigned forgets;
	uint64_t forget_root; /* forgets received for ino 1: must stay 0 */
	uint64_t open_handles;
	int last_open_flags;
	struct op_ctx last_ctx;
	struct vfs_setattr last_setattr;
};

static struct backend *fakes[8];
static int nfakes;
/* The fake is single-threaded at heart; the ops the concurrency test uses take this. */
static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fake_add(struct backend *be, const char *name, mode_t mode, uid_t uid, gid_t gid)
{
	for (uint64_t i = 2; i < FAKE_MAX; i++) {
		if (be->ino[i].used)
			continue;
		be->ino[i] = (struct fake_inode){ true, mode, uid, gid, 5, 0 };
		for (size_t d = 0; d < FAKE_MAX; d++) {
			if (be->de[d].ino)
				continue;
			snprintf(be->de[d].name, sizeof(be->de[d].name), "%s", name);
			be->de[d].ino = i;
			return i;
		}
	}
	ck_abort_msg("fake backend full");
	return 0;
}

static int fake_create(const struct mount_config *cfg, struct backend **out, char *err,
		       size_t errlen)
{
	struct backend *be = calloc(1, sizeof(*be));

	(void)err;
	(void)errlen;
	if (!be)
		return -ENOMEM;
	be->ino[1] = (struct fake_inode){ true, S_IFDIR | 0755, 0, 0, 4096, 0 };
	fake_add(be, "hello", S_IFREG | 0644, 0, 0);	     /* ino 2 */
	fake_add(be, "owned", S_IFREG | 0600, 70000, 70000); /* ino 3: outside any map */
	be->blocks = cfg->size_limit;
	ck_assert_int_lt(nfakes, 8);
	fakes[nfakes++] = be;
	*out = be;
	return 0;
}

static int broken_create(const struct mount_config *cfg, struct backend **out, char *err,
			 size_t errlen)
{
	(void)cfg;
	*out = NULL;
	snprintf(err, errlen, "source /nope: no such directory");
	return -ENOENT;
}

static void fake_destroy(struct backend *be)
{
	for (int i = 0; i < nfakes; i++)
		if (fakes[i] == be)
			fakes[i] = NULL;
	free(be);
}

static void fake_fill(struct backend *be, uint64_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = be->ino[ino].mode;
	st->st_uid = be->ino[ino].uid;
	st->st_gid = be->ino[ino].gid;
	st->st_size = be->ino[ino].size;
	st->st_nlink = 1;
}

static bool fake_valid(struct backend *be, uint64_t ino)
{
	return ino > 0 && ino < FAKE_MAX && be->ino[ino].used;
}

static int fake_entry(struct backend *be, uint64_t ino, struct vfs_entry *out)
{
	be->ino[ino].nlookup++;
	out->ino = ino;
	out->generation = 0;
	fake_fill(be, ino, &out->attr);
	return 0;
}

static int fake_lookup_locked(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
			      const char *name, struct vfs_entry *out)
{
	be->calls++;
	be->last_ctx = *ctx;
	if (parent != 1)
		return fake_valid(be, parent) ? -ENOTDIR : -ESTALE;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return fake_entry(be, 1, out);
	for (size_t d = 0; d < FAKE_MAX; d++)
		if (be->de[d].ino && strcmp(be->de[d].name, name) == 0)
			return fake_entry(be, be->de[d].ino, out);
	return -ENOENT;
}

static int fake_lookup(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		       const char *name, struct vfs_entry *out)
{
	int err;

	pthread_mutex_lock(&fake_lock);
	err = fake_lookup_locked(be, ctx, parent, name, out);
	pthread_mutex_unlock(&fake_lock);
	return err;
}

static void fake_forget(struct backend *be, uint64_t ino, uint64_t n)
{
	pthread_mutex_lock(&fake_lock);
	be->calls++;
	be->forgets++;
	if (ino == 1)
		be->forget_root += n;
	if (fake_valid(be, ino))
		be->ino[ino].nlookup -= n > be->ino[ino].nlookup ? be->ino[ino].nlookup : n;
	pthread_mutex_unlock(&fake_lock);
}

static int fake_getattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, bool has_fh,
			uint64_t fh, struct stat *out)
{
	int err = 0;

	(void)has_fh;
	(void)fh;
	pthread_mutex_lock(&fake_lock);
	be->calls++;
	be->last_ctx = *ctx;
	if (fake_valid(be, ino))
		fake_fill(be, ino, out);
	else
		err = -ESTALE;
	pthread_mutex_unlock(&fake_lock);
	return err;
}

static int fake_setattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			const struct vfs_setattr *in, struct stat *out)
{
	be->calls++;
	be->last_ctx = *ctx;
	be->last_setattr = *in;
	if (!fake_valid(be, ino))
		return -ESTALE;
	if (in->valid & VFS_SET_UID)
		be->ino[ino].uid = in->uid;
	if (in->valid & VFS_SET_GID)
		be->ino[ino].gid = in->gid;
	fake_fill(be, ino, out);
	return 0;
}

static int fake_new(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		    mode_t mode, struct vfs_entry *out)
{
	be->calls++;
	be->last_ctx = *ctx;
	if (parent != 1)
		return -ENOTDIR;
	return fake_entry(be, fake_add(be, name, mode, ctx->uid, ctx->gid), out);
}

static int fake_mknod(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name, mode_t mode, dev_t rdev, struct vfs_entry *out)
{
	(void)rdev;
	return fake_new(be, ctx, parent, name, mode, out);
}

static int fake_mkdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name, mode_t mode, struct vfs_entry *out)
{
	return fake_new(be, ctx, parent, name, S_IFDIR | mode, out);
}

static int fake_symlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
			const char *name, const char *target, struct vfs_entry *out)
{
	(void)target;
	return fake_new(be, ctx, parent, name, S_IFLNK | 0777, out);
}

static int fake_unlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		       const char *name)
{
	(void)ctx;
	(void)parent;
	be->calls++;
	for (size_t d = 0; d < FAKE_MAX; d++) {
		if (be->de[d].ino && strcmp(be->de[d].name, name) == 0) {
			be->de[d].ino = 0;
			return 0;
		}
	}
	return -ENOENT;
}

static int fake_rename(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		       const char *name, uint64_t newparent, const char *newname, unsigned flags)
{
	(void)ctx;
	(void)parent;
	(void)newparent;
	(void)flags;
	be->calls++;
	for (size_t d = 0; d < FAKE_MAX; d++) {
		if (be->de[d].ino && strcmp(be->de[d].name, name) == 0) {
			snprintf(be->de[d].name, sizeof(be->de[d].name), "%s", newname);
			return 0;
		}
	}
	return -ENOENT;
}

static int fake_link(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t newparent,
		     const char *newname, struct vfs_entry *out)
{
	(void)ctx;
	(void)newparent;
	be->calls++;
	for (size_t d = 0; d < FAKE_MAX; d++) {
		if (!be->de[d].ino) {
			snprintf(be->de[d].name, sizeof(be->de[d].name), "%s", newname);
			be->de[d].ino = ino;
			return fake_entry(be, ino, out);
		}
	}
	return -ENOSPC;
}

static int fake_open(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
		     struct vfs_open *out)
{
	(void)ctx;
	(void)flags;
	be->calls++;
	if (!fake_valid(be, ino))
		return -ESTALE;
	be->last_open_flags = flags;
	out->fh = 100 + ino;
	be->open_handles++;
	return 0;
}

static int fake_create_file(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
			    const char *name, mode_t mode, int flags, struct vfs_entry *out,
			    struct vfs_open *oout)
{
	int err = fake_new(be, ctx, parent, name, S_IFREG | mode, out);

	if (err)
		return err;
	be->last_open_flags = flags;
	oout->fh = 100 + out->ino;
	be->open_handles++;
	return 0;
}

static ssize_t fake_read(struct backend *be, uint64_t ino, uint64_t fh, void *buf, size_t size,
			 off_t off)
{
	(void)ino;
	(void)fh;
	(void)off;
	be->calls++;
	size = size < 5 ? size : 5;
	memcpy(buf, "hello", size);
	return (ssize_t)size;
}

static ssize_t fake_write(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
			  const void *buf, size_t size, off_t off, int open_flags)
{
	(void)ctx;
	(void)ino;
	(void)fh;
	(void)buf;
	(void)off;
	(void)open_flags;
	be->calls++;
	return (ssize_t)size;
}

static void fake_release(struct backend *be, uint64_t ino, uint64_t fh, int flags)
{
	(void)ino;
	(void)fh;
	(void)flags;
	be->calls++;
	be->open_handles--;
}

static int fake_opendir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
			struct vfs_open *out)
{
	(void)ctx;
	(void)ino;
	(void)flags;
	be->calls++;
	out->fh = 7;
	be->open_handles++;
	return 0;
}

static void fake_releasedir(struct backend *be, uint64_t ino, uint64_t fh)
{
	(void)ino;
	(void)fh;
	be->calls++;
	be->open_handles--;
}

/* ".", "..", then each used slot; cookie = slot + 3. Plus: ref before add, drop if full. */
static int fake_readdir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
			uint64_t off, struct vfs_dirbuf *db)
{
	struct vfs_entry e;
	struct vfs_dirent d;

	(void)ctx;
	(void)fh;
	be->calls++;
	if (ino != 1)
		return -ENOTDIR;
	if (off < 1) {
		d = (struct vfs_dirent){ ".", 1, DT_DIR, 1, NULL };
		if (vfs_dir_add(db, &d))
			return 0;
	}
	if (off < 2) {
		/* the root's parent is outside the backend: vfs fixes d_ino */
		d = (struct vfs_dirent){ "..", 1, DT_DIR, 2, NULL };
		if (vfs_dir_add(db, &d))
			return 0;
	}
	for (uint64_t s = off < 3 ? 0 : off - 2; s < FAKE_MAX; s++) {
		uint64_t i = be->de[s].ino;

		if (!i)
			continue;
		d = (struct vfs_dirent){ be->de[s].name, i, DT_REG, s + 3, NULL };
		if (db->plus) {
			memset(&e, 0, sizeof(e));
			fake_entry(be, i, &e);
			d.entry = &e;
		}
		if (vfs_dir_add(db, &d)) {
			if (db->plus)
				be->ino[i].nlookup--;
			return 0;
		}
	}
	return 0;
}

static int fake_statfs(struct backend *be, uint64_t ino, struct statvfs *out)
{
	(void)ino;
	be->calls++;
	memset(out, 0, sizeof(*out));
	out->f_bsize = 512;
	out->f_blocks = be->blocks;
	out->f_namemax = 255;
	return 0;
}

static int fake_access(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int mask)
{
	(void)ino;
	(void)mask;
	be->calls++;
	be->last_ctx = *ctx;
	return 0;
}

static int fake_setxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			 const char *name, const void *value, size_t size, int flags)
{
	(void)ctx;
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	be->calls++;
	return 0;
}

static int fake_removexattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			    const char *name)
{
	(void)ctx;
	(void)ino;
	(void)name;
	be->calls++;
	return 0;
}

static int fake_fallocate(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
			  int mode, off_t off, off_t len)
{
	(void)ctx;
	(void)ino;
	(void)fh;
	(void)mode;
	(void)off;
	(void)len;
	be->calls++;
	return 0;
}

static ssize_t fake_copy_file_range(struct backend *be, const struct op_ctx *ctx, uint64_t ino_in,
				    uint64_t fh_in, off_t off_in, uint64_t ino_out, uint64_t fh_out,
				    off_t off_out, size_t len, unsigned flags)
{
	(void)ctx;
	(void)ino_in;
	(void)fh_in;
	(void)off_in;
	(void)ino_out;
	(void)fh_out;
	(void)off_out;
	(void)flags;
	be->calls++;
	return (ssize_t)len;
}

static const struct backend_ops fake_ops = {
	.type = "fake",
	.create = fake_create,
	.destroy = fake_destroy,
	.lookup = fake_lookup,
	.forget = fake_forget,
	.getattr = fake_getattr,
	.setattr = fake_setattr,
	.mknod = fake_mknod,
	.mkdir = fake_mkdir,
	.symlink = fake_symlink,
	.unlink = fake_unlink,
	.rmdir = fake_unlink,
	.rename = fake_rename,
	.link = fake_link,
	.open = fake_open,
	.create_file = fake_create_file,
	.read = fake_read,
	.write = fake_write,
	.release = fake_release,
	.opendir = fake_opendir,
	.readdir = fake_readdir,
	.releasedir = fake_releasedir,
	.statfs = fake_statfs,
	.access = fake_access,
	.setxattr = fake_setxattr,
	.removexattr = fake_removexattr,
	.fallocate = fake_fallocate,
	.copy_file_range = fake_copy_file_range,
};

static const struct backend_ops bare_ops = {
	.type = "bare",
	.create = fake_create,
	.destroy = fake_destroy,
	.lookup = fake_lookup,
	.forget = fake_forget,
	.getattr = fake_getattr,
};

static int bad_flush(struct backend *be, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	(void)be;
	(void)ino;
	(void)fh;
	(void)lock_owner;
	return 1; /* positive: the kernel would reject it */
}

static int bad_fsync(struct backend *be, uint64_t ino, uint64_t fh, bool datasync)
{
	(void)be;
	(void)ino;
	(void)fh;
	(void)datasync;
	return -600; /* <= -512 */
}

static int bad_access(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int mask)
{
	(void)be;
	(void)ctx;
	(void)ino;
	(void)mask;
	return -ENOSYS; /* would switch access off for the whole connection */
}

static ssize_t bad_read(struct backend *be, uint64_t ino, uint64_t fh, void *buf, size_t size,
			off_t off)
{
	(void)be;
	(void)ino;
	(void)fh;
	(void)buf;
	(void)off;
	return (ssize_t)size + 10; /* more than asked */
}

static const struct backend_ops bad_ops = {
	.type = "bad",
	.create = fake_create,
	.destroy = fake_destroy,
	.lookup = fake_lookup,
	.forget = fake_forget,
	.getattr = fake_getattr,
	.flush = bad_flush,
	.fsync = bad_fsync,
	.access = bad_access,
	.read = bad_read,
};

static const struct backend_ops broken_ops = {
	.type = "broken",
	.create = broken_create,
	.destroy = fake_destroy,
	.lookup = fake_lookup,
	.forget = fake_forget,
	.getattr = fake_getattr,
};

static const struct backend_ops *test_find(const char *type)
{
	static const struct backend_ops *const all[] = { &fake_ops, &bare_ops, &bad_ops,
							 &broken_ops };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->type, type) == 0)
			return all[i];
	return NULL;
}

/* ---- config and helpers ----------------------------------------------------------------- */

static struct mount_config mounts[8];
static struct vfsmux_config cfg;
static struct vfs *vfs;

static const struct vfs_caller root_caller = { .uid = 0, .gid = 0, .pid = 1, .umask = 022 };

static void cfg_reset(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(mounts, 0, sizeof(mounts));
	cfg.timeouts = (struct config_timeouts){ .entry = 1.0, .attr = 2.0, .negative = 0 };
	cfg.pseudofs = (struct config_pseudofs){ .mode = 0755, .uid = 0, .gid = 0 };
	cfg.mounts = mounts;
	nfakes = 0;
}

static struct mount_config *cfg_add(const char *path, const char *type)
{
	struct mount_config *mc = &mounts[cfg.nmounts++];

	ck_assert_uint_le(cfg.nmounts, 8);
	mc->path = (char *)path;
	mc->type = (char *)type;
	mc->timeouts = cfg.timeouts;
	return mc;
}

static void vfs_up(void)
{
	char err[256];
	int r = vfs_create_custom(&cfg, test_find, &vfs, err, sizeof(err));

	ck_assert_msg(r == 0, "vfs_create_custom: %d %s", r, err);
}

/* Two fake mounts: /m1 (index 1, blocks 111) and /sub/m2 (index 2, blocks 222). */
static void setup_two(void)
{
	cfg_reset();
	cfg_add("/m1", "fake")->size_limit = 111;
	cfg_add("/sub/m2", "fake")->size_limit = 222;
	vfs_up();
}

static void teardown(void)
{
	vfs_destroy(vfs);
	vfs = NULL;
}

static struct vfs_entry_reply lookup_ok(uint64_t parent, const char *name)
{
	struct vfs_entry_reply r;
	int err = vfs_lookup(vfs, &root_caller, parent, name, &r);

	ck_assert_msg(err == 0, "lookup %s: %d", name, err);
	ck_assert_uint_ne(r.e.ino, 0);
	return r;
}

static uint64_t lookup_id(uint64_t parent, const char *name)
{
	return lookup_ok(parent, name).e.ino;
}

static struct vfs_mount_stats stats(uint16_t index)
{
	struct vfs_mount_stats st;

	ck_assert_int_eq(vfs_mount_stats(vfs, index, &st), 0);
	return st;
}

/* A recording readdir sink that reports "full" after room entries. */
struct rec {
	size_t room, n;
	struct {
		char name[64];
		uint64_t ino;
		uint64_t off;
		bool has_e;
		struct vfs_entry_reply e;
	} v[32];
};

static int rec_fill(void *data, const char *name, uint64_t ino, uint32_t type, uint64_t off,
		    const struct vfs_entry_reply *e)
{
	struct rec *r = data;

	(void)type;
	if (r->n >= r->room)
		return 1;
	ck_assert_uint_lt(r->n, 32);
	snprintf(r->v[r->n].name, sizeof(r->v[0].name), "%s", name);
	r->v[r->n].ino = ino;
	r->v[r->n].off = off;
	r->v[r->n].has_e = e != NULL;
	if (e)
		r->v[r->n].e = *e;
	r->n++;
	return 0;
}

static int rec_find(const struct rec *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(nodeid_encode_decode)
{
	uint64_t n = vfs_nodeid(3, 5);

	ck_assert_uint_eq(n, (UINT64_C(3) << 48) | 5);
	ck_assert_uint_eq(vfs_nodeid_index(n), 3);
	ck_assert_uint_eq(vfs_nodeid_ino(n), 5);
	n = vfs_nodeid(VFS_INDEX_MAX, BACKEND_INO_MAX);
	ck_assert_uint_eq(n, UINT64_MAX);
	ck_assert_uint_eq(vfs_nodeid_index(n), 65535);
	ck_assert_uint_eq(vfs_nodeid_ino(n), BACKEND_INO_MAX);
	ck_assert_uint_eq(vfs_nodeid(0, 1), 1); /* FUSE_ROOT_ID is the pseudofs root */
}
END_TEST

START_TEST(mount_point_lookup_gives_backend_root)
{
	struct vfs_entry_reply r;
	double to;
	struct stat st;

	/* vfs borrows the config: a mount's own timeouts are read at each reply */
	mounts[0].timeouts = (struct config_timeouts){ 5.0, 6.0, 0 };
	r = lookup_ok(1, "m1");
	ck_assert_uint_eq(r.e.ino, vfs_nodeid(1, 1));
	ck_assert_uint_eq(r.e.attr.st_ino, r.e.ino);
	ck_assert(S_ISDIR(r.e.attr.st_mode));
	ck_assert(r.entry_timeout == 5.0 && r.attr_timeout == 6.0);
	/* the backend root's getattr answers by nodeid too */
	ck_assert_int_eq(vfs_getattr(vfs, &root_caller, r.e.ino, false, 0, &st, &to), 0);
	ck_assert_uint_eq(st.st_ino, r.e.ino);
	ck_assert(to == 6.0);
	/* a pseudo directory: small nodeid, global timeouts */
	r = lookup_ok(1, "sub");
	ck_assert_uint_eq(vfs_nodeid_index(r.e.ino), 0);
	ck_assert_uint_gt(r.e.ino, 1);
	ck_assert_uint_eq(r.e.attr.st_ino, r.e.ino);
	ck_assert(r.entry_timeout == 1.0 && r.attr_timeout == 2.0);
	ck_assert_uint_eq(lookup_id(r.e.ino, "m2"), vfs_nodeid(2, 1));
	/* forgets for the root are vfs's: never passed to the backend */
	vfs_forget(vfs, vfs_nodeid(1, 1), 1);
	ck_assert_uint_eq(fakes[0]->forget_root, 0);
}
END_TEST

START_TEST(st_ino_is_nodeid_everywhere)
{
	uint64_t root = lookup_id(1, "m1");
	struct vfs_entry_reply r = lookup_ok(root, "hello");
	struct rec rd = { .room = 32 }, rp = { .room = 32 };
	struct stat st;
	double to;
	int i;

	ck_assert_uint_eq(r.e.ino, vfs_nodeid(1, 2));
	ck_assert_uint_eq(r.e.attr.st_ino, r.e.ino);
	ck_assert_int_eq(vfs_getattr(vfs, &root_caller, r.e.ino, false, 0, &st, &to), 0);
	ck_assert_uint_eq(st.st_ino, r.e.ino);
	ck_assert_int_eq(vfs_readdir(vfs, &root_caller, root, 0, 0, false, rec_fill, &rd), 0);
	i = rec_find(&rd, "hello");
	ck_assert_int_ge(i, 0);
	ck_assert_uint_eq(rd.v[i].ino, r.e.ino);
	ck_assert(!rd.v[i].has_e);
	ck_assert_int_eq(vfs_readdir(vfs, &root_caller, root, 0, 0, true, rec_fill, &rp), 0);
	i = rec_find(&rp, "hello");
	ck_assert_int_ge(i, 0);
	ck_assert(rp.v[i].has_e);
	ck_assert_uint_eq(rp.v[i].ino, r.e.ino);
	ck_assert_uint_eq(rp.v[i].e.e.ino, r.e.ino);
	ck_assert_uint_eq(rp.v[i].e.e.attr.st_ino, r.e.ino);
	/* "." is the listed dir; ".." of a backend root is the pseudo directory above */
	ck_assert_uint_eq(rd.v[rec_find(&rd, ".")].ino, root);
	ck_assert_uint_eq(rd.v[rec_find(&rd, "..")].ino, 1);
	ck_assert(!rp.v[rec_find(&rp, ".")].has_e);
}
END_TEST

START_TEST(two_mounts_of_one_type_get_disjoint_nodeids)
{
	uint64_t r1 = lookup_id(1, "m1");
	uint64_t r2 = lookup_id(lookup_id(1, "sub"), "m2");
	uint64_t h1 = lookup_id(r1, "hello");
	uint64_t h2 = lookup_id(r2, "hello");

	ck_assert_uint_ne(r1, r2);
	ck_assert_uint_ne(h1, h2);
	ck_assert_uint_eq(vfs_nodeid_ino(h1), vfs_nodeid_ino(h2)); /* same backend ino... */
	ck_assert_uint_eq(vfs_nodeid_index(h1), 1);		   /* ...in two slices */
	ck_assert_uint_eq(vfs_nodeid_index(h2), 2);
	ck_assert_uint_eq(fakes[0]->ino[2].nlookup, 1);
	ck_assert_uint_eq(fakes[1]->ino[2].nlookup, 1);
}
END_TEST

START_TEST(dotdot_of_backend_root_is_pseudofs_parent)
{
	uint64_t sub = lookup_id(1, "sub");
	uint64_t r2 = lookup_id(sub, "m2");
	unsigned calls = fakes[1]->calls;
	struct rec rd = { .room = 32 };

	ck_assert_uint_eq(lookup_id(r2, ".."), sub);
	ck_assert_uint_eq(fakes[1]->calls, calls); /* answered without the backend */
	ck_assert_int_eq(vfs_readdir(vfs, &root_caller, r2, 0, 0, false, rec_fill, &rd), 0);
	ck_assert_uint_eq(rd.v[rec_find(&rd, "..")].ino, sub);
	ck_assert_uint_eq(rd.v[rec_find(&rd, ".")].ino, r2);
}
END_TEST

START_TEST(pseudofs_listing_shows_backend_roots)
{
	struct rec rd = { .room = 32 }, rp = { .room = 32 };
	int i;

	ck_assert_int_eq(vfs_readdir(vfs, &root_caller, 1, 0, 0, false, rec_fill, &rd), 0);
	ck_assert_uint_eq(rd.n, 4);
	ck_assert_str_eq(rd.v[2].name, "m1");
	ck_assert_str_eq(rd.v[3].name, "sub");
	ck_assert_uint_eq(rd.v[2].ino, vfs_nodeid(1, 1));
	ck_assert_uint_eq(stats(1).lookups, 0);
	ck_assert_uint_eq(stats(0).lookups, 0);
	ck_assert_int_eq(vfs_readdir(vfs, &root_caller, 1, 0, 0, true, rec_fill, &rp), 0);
	i = rec_find(&rp, "m1");
	ck_assert(rp.v[i].has_e);
	ck_assert_uint_eq(rp.v[i].e.e.ino, vfs_nodeid(1, 1));
	ck_assert_uint_eq(rp.v[i].e.e.attr.st_ino, vfs_nodeid(1, 1));
	ck_assert(S_ISDIR(rp.v[i].e.e.attr.st_mode));
	i = rec_find(&rp, "sub");
	ck_assert_uint_eq(rp.v[i].e.e.ino, rp.v[i].ino);
	ck_assert_uint_eq(rp.v[i].e.e.attr.st_ino, rp.v[i].ino);
	/* placed plus entries are kernel references: one on m1's root, one on sub */
	ck_assert_uint_eq(stats(1).lookups, 1);
	ck_assert_uint_eq(stats(0).lookups, 1);
}
END_TEST

START_TEST(cross_mount_rename_link_copy_are_exdev)
{
	uint64_t r1 = lookup_id(1, "m1");
	uint64_t sub = lookup_id(1, "sub");
	uint64_t r2 = lookup_id(sub, "m2");
	uint64_t h1 = lookup_id(r1, "hello");
	uint64_t h2 = lookup_id(r2, "hello");
	unsigned c1 = fakes[0]->calls, c2 = fakes[1]->calls;
	struct vfs_entry_reply r;

	ck_assert_int_eq(vfs_rename(vfs, &root_caller, r1, "hello", r2, "x", 0), -EXDEV);
	ck_assert_int_eq(vfs_link(vfs, &root_caller, h1, r2, "x", &r), -EXDEV);
	ck_assert_int_eq(vfs_rename(vfs, &root_caller, sub, "m2", r1, "x", 0), -EXDEV);
	ck_assert_int_eq(vfs_rename(vfs, &root_caller, r1, "hello", 1, "x", 0), -EXDEV);
	ck_assert_int_eq(vfs_copy_file_range(vfs, &root_caller, h1, 1, 0, h2, 2, 0, 10, 0), -EXDEV);
	ck_assert_uint_eq(fakes[0]->calls, c1);
	ck_assert_uint_eq(fakes[1]->calls, c2);
	/* within one mount they reach the backend */
	ck_assert_int_eq(vfs_rename(vfs, &root_caller, r1, "hello", r1, "x", 0), 0);
	ck_assert_int_eq(vfs_link(vfs, &root_caller, h1, r1, "y", &r), 0);
	ck_assert_uint_eq(r.e.ino, h1);
	ck_assert_int_eq(vfs_copy_file_range(vfs, &root_caller, h1, 1, 0, h1, 2, 0, 10, 0), 10);
	/* a stale nodeid stays ESTALE, not EXDEV */
	ck_assert_int_eq(vfs_rename(vfs, &root_caller, r1, "x", vfs_nodeid(9, 1), "z", 0), -ESTALE);
}
END_TEST

START_TEST(pseudofs_is_read_only)
{
	uint64_t sub = lookup_id(1, "sub");
	struct vfs_entry_reply r;
	struct vfs_open o;
	struct vfs_setattr sa = { .valid = VFS_SET_MODE, .mode = 0777 };
	struct stat st;
	double to;

	ck_assert_int_eq(vfs_mkdir(vfs, &root_caller, 1, "x", 0755, &r), -EROFS);
	ck_assert_int_eq(vfs_mknod(vfs, &root_caller, 1, "x", S_IFREG | 0644, 0, &r), -EROFS);
	ck_assert_int_eq(vfs_symlink(vfs, &root_caller, 1, "x", "y", &r), -EROFS);
	ck_assert_int_eq(
	    vfs_create_file(vfs, &root_caller, sub, "x", 0644, O_CREAT | O_WRONLY, &r, &o), -EROFS);
	ck_assert_int_eq(vfs_unlink(vfs, &root_caller, 1, "m1"), -EROFS);
	ck_assert_int_eq(vfs_rmdir(vfs, &root_caller, 1, "sub"), -EROFS);
	/* renaming a mount point (a pseudofs name) */
	ck_assert_int_eq(vfs_rename(vfs, &root_caller, 1, "m1", 1, "m9", 0), -EROFS);
	ck_assert_int_eq(vfs_rename(vfs, &root_caller, sub, "m2", 1, "m9", 0), -EROFS);
	ck_assert_int_eq(vfs_setattr(vfs, &root_caller, sub, &sa, &st, &to), -EROFS);
	ck_assert_int_eq(vfs_setxattr(vfs, &root_caller, 1, "user.x", "v", 1, 0), -EROFS);
	ck_assert_int_eq(vfs_access(vfs, &root_caller, 1, W_OK), -EROFS);
	ck_assert_int_eq(vfs_access(vfs, &root_caller, 1, R_OK | X_OK), 0);
	ck_assert_int_eq(vfs_getxattr(vfs, &root_caller, 1, "user.x", NULL, 0), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_opendir(vfs, &root_caller, sub, O_RDONLY, &o), 0);
	ck_assert_uint_eq(o.fh, 0);
	vfs_releasedir(vfs, sub, 0);
}
END_TEST

START_TEST(readonly_mount_refuses_mutations_without_calling)
{
	const struct vfs_caller *c = &root_caller;
	struct vfs_setattr sa = { .valid = VFS_SET_SIZE, .size = 0 };
	struct vfs_entry_reply r;
	struct vfs_open o;
	uint64_t root, h;
	struct stat st;
	double to;
	unsigned calls;

	cfg_reset();
	cfg_add("/ro", "fake")->readonly = true;
	vfs_up();
	root = lookup_id(1, "ro");
	h = lookup_id(root, "hello");
	calls = fakes[0]->calls;
	ck_assert_int_eq(vfs_setattr(vfs, c, h, &sa, &st, &to), -EROFS);
	ck_assert_int_eq(vfs_mknod(vfs, c, root, "n", S_IFREG | 0644, 0, &r), -EROFS);
	ck_assert_int_eq(vfs_mkdir(vfs, c, root, "d", 0755, &r), -EROFS);
	ck_assert_int_eq(vfs_symlink(vfs, c, root, "s", "t", &r), -EROFS);
	ck_assert_int_eq(vfs_unlink(vfs, c, root, "hello"), -EROFS);
	ck_assert_int_eq(vfs_rmdir(vfs, c, root, "hello"), -EROFS);
	ck_assert_int_eq(vfs_rename(vfs, c, root, "hello", root, "x", 0), -EROFS);
	ck_assert_int_eq(vfs_link(vfs, c, h, root, "x", &r), -EROFS);
	ck_assert_int_eq(vfs_create_file(vfs, c, root, "x", 0644, O_CREAT | O_RDONLY, &r, &o),
			 -EROFS);
	ck_assert_int_eq(vfs_write(vfs, c, h, 1, "x", 1, 0, O_WRONLY), -EROFS);
	ck_assert_int_eq(vfs_setxattr(vfs, c, h, "user.a", "b", 1, 0), -EROFS);
	ck_assert_int_eq(vfs_removexattr(vfs, c, h, "user.a"), -EROFS);
	ck_assert_int_eq(vfs_fallocate(vfs, c, h, 1, 0, 0, 10), -EROFS);
	ck_assert_int_eq(vfs_copy_file_range(vfs, c, h, 1, 0, h, 1, 10, 5, 0), -EROFS);
	ck_assert_int_eq(vfs_open(vfs, c, h, O_WRONLY, &o), -EROFS);
	ck_assert_int_eq(vfs_open(vfs, c, h, O_RDWR, &o), -EROFS);
	ck_assert_int_eq(vfs_open(vfs, c, h, O_RDONLY | O_TRUNC, &o), -EROFS);
	ck_assert_int_eq(vfs_access(vfs, c, h, W_OK), -EROFS);
	ck_assert_uint_eq(fakes[0]->calls, calls); /* not one backend call */
	ck_assert_uint_eq(stats(1).handles, 0);
	/* reading still works */
	ck_assert_int_eq(vfs_open(vfs, c, h, O_RDONLY, &o), 0);
	ck_assert_uint_eq(o.fh, 102);
	ck_assert_int_eq(vfs_access(vfs, c, h, R_OK), 0);
	ck_assert_uint_gt(fakes[0]->calls, calls);
}
END_TEST

START_TEST(id_map_applies_both_ways)
{
	struct config_id_map map = { .inside = 0, .outside = 1000, .count = 1000 };
	struct vfs_caller alice = { .uid = 1005, .gid = 1007, .pid = 9 };
	struct vfs_caller stranger = { .uid = 5, .gid = 5, .pid = 9 };
	struct vfs_setattr sa = { .valid = VFS_SET_UID | VFS_SET_GID, .uid = 1010, .gid = 1020 };
	struct vfs_entry_reply r;
	struct vfs_open o;
	uint64_t root, h;
	struct stat st;
	double to;
	unsigned calls;
	struct mount_config *mc;

	cfg_reset();
	mc = cfg_add("/home", "fake");
	mc->uid_map = map;
	mc->gid_map = map;
	vfs_up();
	root = lookup_id(1, "home");
	/* inside root (0) shows as outside 1000; an inside id out of range as 65534 */
	ck_assert_uint_eq(lookup_ok(1, "home").e.attr.st_uid, 1000);
	ck_assert_uint_eq(lookup_ok(root, "owned").e.attr.st_uid, 65534);
	ck_assert_uint_eq(lookup_ok(root, "owned").e.attr.st_gid, 65534);
	/* caller outside -> inside */
	ck_assert_int_eq(
	    vfs_create_file(vfs, &alice, root, "new", 0644, O_CREAT | O_WRONLY, &r, &o), 0);
	ck_assert_uint_eq(fakes[0]->last_ctx.uid, 5);
	ck_assert_uint_eq(fakes[0]->last_ctx.gid, 7);
	ck_assert(!fakes[0]->last_ctx.unmapped);
	ck_assert_uint_eq(r.e.attr.st_uid, 1005); /* stored 5 inside, shown 1005 */
	ck_assert_uint_eq(r.e.attr.st_gid, 1007);
	vfs_release(vfs, r.e.ino, o.fh, O_WRONLY);
	/* setattr ids outside -> inside */
	h = r.e.ino;
	ck_assert_int_eq(vfs_setattr(vfs, &alice, h, &sa, &st, &to), 0);
	ck_assert_uint_eq(fakes[0]->last_setattr.uid, 10);
	ck_assert_uint_eq(fakes[0]->last_setattr.gid, 20);
	ck_assert_uint_eq(st.st_uid, 1010);
	ck_assert_uint_eq(st.st_gid, 1020);
	sa.uid = 5; /* no inside form */
	calls = fakes[0]->calls;
	ck_assert_int_eq(vfs_setattr(vfs, &alice, h, &sa, &st, &to), -EINVAL);
	ck_assert_uint_eq(fakes[0]->calls, calls);
	/* an unmapped caller reads as 65534 and may not create */
	ck_assert_int_eq(vfs_getattr(vfs, &stranger, h, false, 0, &st, &to), 0);
	ck_assert_uint_eq(fakes[0]->last_ctx.uid, 65534);
	ck_assert_uint_eq(fakes[0]->last_ctx.gid, 65534);
	ck_assert(fakes[0]->last_ctx.unmapped);
	calls = fakes[0]->calls;
	ck_assert_int_eq(vfs_create_file(vfs, &stranger, root, "s", 0644, O_CREAT, &r, &o),
			 -EOVERFLOW);
	ck_assert_int_eq(vfs_mkdir(vfs, &stranger, root, "s", 0755, &r), -EOVERFLOW);
	ck_assert_int_eq(vfs_mknod(vfs, &stranger, root, "s", S_IFREG, 0, &r), -EOVERFLOW);
	ck_assert_int_eq(vfs_symlink(vfs, &stranger, root, "s", "t", &r), -EOVERFLOW);
	ck_assert_int_eq(vfs_link(vfs, &stranger, h, root, "s", &r), -EOVERFLOW);
	ck_assert_uint_eq(fakes[0]->calls, calls);
	/* a caller with only the gid unmapped is unmapped too */
	stranger.uid = 1001;
	ck_assert_int_eq(vfs_mkdir(vfs, &stranger, root, "s", 0755, &r), -EOVERFLOW);
	/* non-creating ops still pass */
	ck_assert_int_eq(vfs_unlink(vfs, &stranger, root, "new"), 0);
}
END_TEST

/* Every op on a backend with only the mandatory ops: never -ENOSYS, the documented answers. */
START_TEST(null_ops_are_answered_and_never_enosys)
{
	const struct vfs_caller *c = &root_caller;
	struct vfs_setattr sa = { .valid = VFS_SET_MODE, .mode = 0600 };
	struct vfs_entry_reply r;
	struct rec rd = { .room = 32 };
	struct statvfs sv;
	struct vfs_open o;
	uint64_t root, h;
	struct stat st;
	double to;
	char buf[16];

	cfg_reset();
	cfg_add("/bare", "bare");
	vfs_up();
	root = lookup_id(1, "bare");
	h = lookup_id(root, "hello"); /* size 5 */
	ck_assert_int_eq(vfs_open(vfs, c, h, O_RDWR, &o), 0);
	ck_assert_uint_eq(o.fh, 0);
	ck_assert_int_eq(o.backing_fd, -1);
	ck_assert_int_eq(vfs_flush(vfs, h, 0, 0), 0);
	ck_assert_int_eq(vfs_fsync(vfs, h, 0, false), 0);
	ck_assert_int_eq(vfs_read(vfs, h, 0, buf, sizeof(buf), 0), -EINVAL);
	ck_assert_int_eq(vfs_write(vfs, c, h, 0, "x", 1, 0, O_RDWR), -EPERM);
	ck_assert_int_eq(vfs_lseek(vfs, h, 0, 0, SEEK_DATA), 0);
	ck_assert_int_eq(vfs_lseek(vfs, h, 0, 2, SEEK_HOLE), 5);
	ck_assert_int_eq(vfs_lseek(vfs, h, 0, 5, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(vfs_fallocate(vfs, c, h, 0, 0, 0, 10), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_copy_file_range(vfs, c, h, 0, 0, h, 0, 10, 5, 0), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_setxattr(vfs, c, h, "user.a", "b", 1, 0), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_getxattr(vfs, c, h, "user.a", buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_listxattr(vfs, c, h, buf, sizeof(buf)), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_removexattr(vfs, c, h, "user.a"), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_access(vfs, c, h, R_OK | W_OK), 0);
	ck_assert_int_eq(vfs_readlink(vfs, c, h, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(vfs_setattr(vfs, c, h, &sa, &st, &to), -EPERM);
	ck_assert_int_eq(vfs_mknod(vfs, c, root, "n", S_IFREG, 0, &r), -EPERM);
	ck_assert_int_eq(vfs_mkdir(vfs, c, root, "n", 0755, &r), -EPERM);
	ck_assert_int_eq(vfs_symlink(vfs, c, root, "n", "t", &r), -EPERM);
	ck_assert_int_eq(vfs_unlink(vfs, c, root, "hello"), -EPERM);
	ck_assert_int_eq(vfs_rmdir(vfs, c, root, "hello"), -EPERM);
	ck_assert_int_eq(vfs_rename(vfs, c, root, "hello", root, "n", 0), -EPERM);
	ck_assert_int_eq(vfs_link(vfs, c, h, root, "n", &r), -EPERM);
	ck_assert_int_eq(vfs_create_file(vfs, c, root, "n", 0644, O_CREAT, &r, &o), -EPERM);
	ck_assert_uint_eq(stats(1).handles, 1);
	vfs_release(vfs, h, 0, O_RDWR);
	ck_assert_uint_eq(stats(1).handles, 0);
	ck_assert_int_eq(vfs_opendir(vfs, c, root, O_RDONLY, &o), 0);
	ck_assert_uint_eq(o.fh, 0);
	ck_assert_int_eq(vfs_readdir(vfs, c, root, 0, 0, false, rec_fill, &rd), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_fsyncdir(vfs, root, 0, true), 0);
	vfs_releasedir(vfs, root, 0);
	ck_assert_uint_eq(stats(1).handles, 0);
	ck_assert_int_eq(vfs_statfs(vfs, root, &sv), 0);
	ck_assert_uint_eq(sv.f_namemax, 255);
	ck_assert_uint_eq(sv.f_bsize, 4096);
}
END_TEST

START_TEST(bad_backend_answers_are_clamped)
{
	uint64_t root, h;
	char buf[8];

	cfg_reset();
	cfg_add("/bad", "bad");
	vfs_up();
	root = lookup_id(1, "bad");
	h = lookup_id(root, "hello");
	ck_assert_int_eq(vfs_flush(vfs, h, 0, 0), -EIO);
	ck_assert_int_eq(vfs_fsync(vfs, h, 0, false), -EIO);
	ck_assert_int_eq(vfs_access(vfs, &root_caller, h, R_OK), -EOPNOTSUPP);
	ck_assert_int_eq(vfs_read(vfs, h, 0, buf, sizeof(buf), 0), -EIO);
}
END_TEST

START_TEST(unknown_nodeids_are_estale)
{
	struct vfs_entry_reply r;
	struct rec rd = { .room = 32 };
	struct vfs_open o;
	struct stat st;
	double to;
	char buf[8];

	ck_assert_int_eq(vfs_getattr(vfs, &root_caller, vfs_nodeid(9, 1), false, 0, &st, &to),
			 -ESTALE);
	ck_assert_int_eq(vfs_getattr(vfs, &root_caller, 0, false, 0, &st, &to), -ESTALE);
	ck_assert_int_eq(vfs_getattr(vfs, &root_caller, vfs_nodeid(1, 0), false, 0, &st, &to),
			 -ESTALE);
	ck_assert_int_eq(vfs_getattr(vfs, &root_caller, 999, false, 0, &st, &to), -ESTALE);
	ck_assert_int_eq(vfs_lookup(vfs, &root_caller, vfs_nodeid(7, 3), "x", &r), -ESTALE);
	ck_assert_int_eq(vfs_lookup(vfs, &root_caller, 999, "x", &r), -ESTALE);
	ck_assert_int_eq(vfs_readdir(vfs, &root_caller, 999, 0, 0, true, rec_fill, &rd), -ESTALE);
	ck_assert_int_eq(vfs_open(vfs, &root_caller, vfs_nodeid(3, 2), O_RDONLY, &o), -ESTALE);
	ck_assert_int_eq(vfs_read(vfs, vfs_nodeid(3, 2), 0, buf, sizeof(buf), 0), -ESTALE);
	ck_assert_int_eq(vfs_mkdir(vfs, &root_caller, 999, "x", 0755, &r), -ESTALE);
	/* the backend's own "no such ino" comes through */
	ck_assert_int_eq(vfs_getattr(vfs, &root_caller, vfs_nodeid(1, 30), false, 0, &st, &to),
			 -ESTALE);
	/* no crash for bad forgets and releases */
	vfs_forget(vfs, vfs_nodeid(9, 1), 1);
	vfs_forget(vfs, 0, 1);
	vfs_forget(vfs, 999, 1);
	vfs_release(vfs, vfs_nodeid(9, 2), 1, 0);
	vfs_releasedir(vfs, 0, 1);
	ck_assert_int_eq(vfs_mount_stats(vfs, 9, &(struct vfs_mount_stats){ 0 }), -ENOENT);
}
END_TEST

START_TEST(lookup_and_handle_counters)
{
	const struct vfs_caller *c = &root_caller;
	uint64_t root, h;
	struct vfs_entry_reply r;
	struct vfs_open o, od;

	root = lookup_id(1, "m1");
	ck_assert_uint_eq(lookup_id(1, "m1"), root);
	ck_assert_uint_eq(stats(1).lookups, 2);
	h = lookup_id(root, "hello");
	ck_assert_uint_eq(stats(1).lookups, 3);
	ck_assert_int_eq(vfs_mkdir(vfs, c, root, "d", 0755, &r), 0);
	ck_assert_uint_eq(stats(1).lookups, 4);
	vfs_forget(vfs, r.e.ino, 1);
	vfs_forget(vfs, h, 1);
	ck_assert_uint_eq(stats(1).lookups, 2);
	ck_assert_uint_eq(fakes[0]->ino[2].nlookup, 0);
	ck_assert_uint_eq(fakes[0]->forgets, 2);
	vfs_forget(vfs, root, 2);
	ck_assert_uint_eq(stats(1).lookups, 0);
	ck_assert_uint_eq(fakes[0]->forget_root, 0);
	ck_assert_uint_eq(fakes[0]->forgets, 2);
	ck_assert_uint_eq(stats(2).lookups, 0); /* the other mount is untouched */
	/* handles */
	ck_assert_int_eq(vfs_open(vfs, c, h, O_RDONLY, &o), 0);
	ck_assert_int_eq(vfs_opendir(vfs, c, root, O_RDONLY, &od), 0);
	ck_assert_int_eq(vfs_create_file(vfs, c, root, "f", 0644, O_CREAT | O_RDWR, &r, &o), 0);
	ck_assert_uint_eq(stats(1).handles, 3);
	ck_assert_uint_eq(stats(1).lookups, 1); /* create is an entry reply */
	ck_assert_uint_eq(fakes[0]->open_handles, 3);
	vfs_release(vfs, h, 102, O_RDONLY);
	vfs_release(vfs, r.e.ino, o.fh, O_RDWR);
	vfs_releasedir(vfs, root, od.fh);
	ck_assert_uint_eq(stats(1).handles, 0);
	ck_assert_uint_eq(fakes[0]->open_handles, 0);
	/* a failed open counts nothing */
	ck_assert_int_eq(vfs_open(vfs, c, vfs_nodeid(1, 31), O_RDONLY, &o), -ESTALE);
	ck_assert_uint_eq(stats(1).handles, 0);
	/* a release with no handle outstanding is clamped */
	vfs_release(vfs, h, 102, O_RDONLY);
	ck_assert_uint_eq(stats(1).handles, 0);
}
END_TEST

START_TEST(readdirplus_counts_only_placed_entries)
{
	uint64_t root = lookup_id(1, "m1");
	struct rec rp = { .room = 3 }; /* ".", "..", "hello"; then full at "owned" */
	struct rec rest = { .room = 32 };

	ck_assert_uint_eq(stats(1).lookups, 1);
	ck_assert_int_eq(vfs_readdir(vfs, &root_caller, root, 7, 0, true, rec_fill, &rp), 0);
	ck_assert_uint_eq(rp.n, 3);
	ck_assert_str_eq(rp.v[2].name, "hello");
	ck_assert_uint_eq(stats(1).lookups, 2);		/* exactly the one placed entry */
	ck_assert_uint_eq(fakes[0]->ino[2].nlookup, 1); /* hello: placed */
	ck_assert_uint_eq(fakes[0]->ino[3].nlookup, 0); /* owned: dropped again */
	/* resume from the last cookie: no repeat, no skip */
	ck_assert_int_eq(
	    vfs_readdir(vfs, &root_caller, root, 7, rp.v[2].off, true, rec_fill, &rest), 0);
	ck_assert_uint_eq(rest.n, 1);
	ck_assert_str_eq(rest.v[0].name, "owned");
	ck_assert_uint_eq(stats(1).lookups, 3);
	/* the same in the pseudofs: ".", "..", "m1" placed, "sub" not */
	memset(&rp, 0, sizeof(rp));
	rp.room = 3;
	ck_assert_int_eq(vfs_readdir(vfs, &root_caller, 1, 0, 0, true, rec_fill, &rp), 0);
	ck_assert_uint_eq(stats(1).lookups, 4);
	ck_assert_uint_eq(stats(0).lookups, 0);
}
END_TEST

START_TEST(forget_storm_clamps_without_crash)
{
	uint64_t root = lookup_id(1, "m1");
	uint64_t h = lookup_id(root, "hello");
	uint64_t sub = lookup_id(1, "sub");

	vfs_forget(vfs, h, 1000);
	ck_assert_uint_eq(stats(1).lookups, 1);
	ck_assert_uint_eq(fakes[0]->ino[2].nlookup, 0);
	vfs_forget(vfs, root, UINT64_MAX);
	ck_assert_uint_eq(stats(1).lookups, 0);
	vfs_forget(vfs, root, 1);
	vfs_forget(vfs, h, 1);
	ck_assert_uint_eq(stats(1).lookups, 0);
	vfs_forget(vfs, sub, UINT64_MAX);
	vfs_forget(vfs, 1, 5);
	ck_assert_uint_eq(stats(0).lookups, 0);
	/* still serving */
	ck_assert_uint_eq(lookup_id(root, "hello"), h);
	ck_assert_uint_eq(stats(1).lookups, 1);
}
END_TEST

START_TEST(negative_entries_use_the_negative_timeout)
{
	struct vfs_entry_reply r;
	uint64_t root;

	cfg_reset();
	cfg.timeouts.negative = 2.5;
	cfg_add("/neg", "fake")->timeouts.negative = 3.0;
	cfg_add("/pos", "fake")->timeouts.negative = 0;
	vfs_up();
	root = lookup_id(1, "neg");
	ck_assert_int_eq(vfs_lookup(vfs, &root_caller, root, "nope", &r), 0);
	ck_assert_uint_eq(r.e.ino, 0);
	ck_assert(r.entry_timeout == 3.0);
	ck_assert_uint_eq(stats(1).lookups, 1); /* a negative entry is no reference */
	ck_assert_int_eq(vfs_lookup(vfs, &root_caller, lookup_id(1, "pos"), "nope", &r), -ENOENT);
	ck_assert_int_eq(vfs_lookup(vfs, &root_caller, 1, "nope", &r), 0);
	ck_assert_uint_eq(r.e.ino, 0);
	ck_assert(r.entry_timeout == 2.5);
}
END_TEST

START_TEST(writeback_cache_opens_write_only_files_read_write)
{
	struct vfs_entry_reply r;
	struct vfs_open o;
	uint64_t root, h;

	cfg_reset();
	cfg.fuse.writeback_cache = true;
	cfg_add("/w", "fake");
	cfg_add("/ro", "fake")->readonly = true;
	vfs_up();
	root = lookup_id(1, "w");
	h = lookup_id(root, "hello");
	ck_assert_int_eq(vfs_open(vfs, &root_caller, h, O_WRONLY | O_APPEND, &o), 0);
	ck_assert_int_eq(fakes[0]->last_open_flags, O_RDWR | O_APPEND);
	ck_assert_int_eq(vfs_open(vfs, &root_caller, h, O_RDONLY, &o), 0);
	ck_assert_int_eq(fakes[0]->last_open_flags, O_RDONLY);
	ck_assert_int_eq(
	    vfs_create_file(vfs, &root_caller, root, "n", 0644, O_CREAT | O_WRONLY, &r, &o), 0);
	ck_assert_int_eq(fakes[0]->last_open_flags, O_CREAT | O_RDWR);
	/* the read-only check sees the caller's flags */
	h = lookup_id(lookup_id(1, "ro"), "hello");
	ck_assert_int_eq(vfs_open(vfs, &root_caller, h, O_WRONLY, &o), -EROFS);
	/* without writeback cache the flags pass unchanged */
	vfs_destroy(vfs);
	cfg.fuse.writeback_cache = false;
	vfs_up();
	h = lookup_id(lookup_id(1, "w"), "hello");
	ck_assert_int_eq(vfs_open(vfs, &root_caller, h, O_WRONLY, &o), 0);
	ck_assert_int_eq(fakes[nfakes - 2]->last_open_flags, O_WRONLY);
}
END_TEST

/* default_permissions tells the backend that the kernel made the permission checks. */
START_TEST(default_permissions_reaches_the_backend_ctx)
{
	struct vfs_entry_reply r;
	struct vfs_open o;
	uint64_t root;

	cfg_reset();
	cfg.fuse.default_permissions = true;
	cfg_add("/w", "fake");
	vfs_up();
	root = lookup_id(1, "w");
	ck_assert_int_eq(
	    vfs_create_file(vfs, &root_caller, root, "n", 0644, O_CREAT | O_WRONLY, &r, &o), 0);
	ck_assert(fakes[0]->last_ctx.perm_checked);
	vfs_destroy(vfs);
	cfg.fuse.default_permissions = false;
	vfs_up();
	root = lookup_id(1, "w");
	ck_assert_int_eq(
	    vfs_create_file(vfs, &root_caller, root, "m", 0644, O_CREAT | O_WRONLY, &r, &o), 0);
	ck_assert(!fakes[nfakes - 1]->last_ctx.perm_checked);
}
END_TEST

START_TEST(statfs_routes_to_the_owning_backend)
{
	struct statvfs sv;
	uint64_t r1 = lookup_id(1, "m1");
	uint64_t r2 = lookup_id(lookup_id(1, "sub"), "m2");

	ck_assert_int_eq(vfs_statfs(vfs, r1, &sv), 0);
	ck_assert_uint_eq(sv.f_blocks, 111);
	ck_assert_int_eq(vfs_statfs(vfs, lookup_id(r2, "hello"), &sv), 0);
	ck_assert_uint_eq(sv.f_blocks, 222);
	ck_assert_int_eq(vfs_statfs(vfs, 1, &sv), 0);
	ck_assert_uint_eq(sv.f_blocks, 0);
	ck_assert_uint_eq(sv.f_namemax, 255);
}
END_TEST

START_TEST(create_errors_name_the_mount)
{
	char err[256];
	struct vfs *v = NULL;

	cfg_reset();
	cfg_add("/ok", "fake");
	cfg_add("/x", "no-such-type");
	ck_assert_int_eq(vfs_create_custom(&cfg, test_find, &v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "mounts[1] (/x)"));
	ck_assert_ptr_null(fakes[0]); /* the first backend was destroyed again */

	cfg_reset();
	cfg_add("/a", "fake");
	cfg_add("/a", "fake");
	ck_assert_int_eq(vfs_create_custom(&cfg, test_find, &v, err, sizeof(err)), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "mounts[1] (/a)"));

	cfg_reset();
	cfg_add("/a", "fake");
	cfg_add("/a/b", "fake");
	ck_assert_int_eq(vfs_create_custom(&cfg, test_find, &v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "mounts[1] (/a/b)"));

	cfg_reset();
	cfg_add("/b", "broken");
	ck_assert_int_eq(vfs_create_custom(&cfg, test_find, &v, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "mounts[0] (/b): source /nope: no such directory");

	/* the real registry: an empty config is a bare pseudofs */
	cfg_reset();
	ck_assert_int_eq(vfs_create(&cfg, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(vfs_lookup(v, &root_caller, 1, "x", &(struct vfs_entry_reply){ 0 }),
			 -ENOENT);
	vfs_destroy(v);
	cfg_add("/x", "no-such-type");
	ck_assert_int_eq(vfs_create(&cfg, &v, err, sizeof(err)), -EINVAL);
	vfs_destroy(NULL);
}
END_TEST

START_TEST(destroy_destroys_backends)
{
	ck_assert_ptr_nonnull(fakes[0]);
	ck_assert_ptr_nonnull(fakes[1]);
	vfs_destroy(vfs);
	vfs = NULL;
	ck_assert_ptr_null(fakes[0]);
	ck_assert_ptr_null(fakes[1]);
}
END_TEST

/* Concurrent lookups and forgets on both mounts: the counters balance. */
static void *storm(void *arg)
{
	uint64_t r1 = vfs_nodeid(1, 1), r2 = vfs_nodeid(2, 1);
	struct vfs_entry_reply r;
	struct stat st;
	double to;

	(void)arg;
	for (int i = 0; i < 20000; i++) {
		uint64_t root = (i & 1) ? r1 : r2;

		if (vfs_lookup(vfs, &root_caller, root, ".", &r) == 0)
			vfs_forget(vfs, r.e.ino, 1);
		if (vfs_getattr(vfs, &root_caller, root, false, 0, &st, &to) != 0)
			return (void *)1;
		if (vfs_lookup(vfs, &root_caller, 1, "m1", &r) == 0)
			vfs_forget(vfs, r.e.ino, 1);
	}
	return NULL;
}

START_TEST(concurrent_lookup_forget_balance)
{
	pthread_t t[4];
	void *ret;

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, storm, NULL), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	ck_assert_uint_eq(stats(1).lookups, 0);
	ck_assert_uint_eq(stats(2).lookups, 0);
}
END_TEST

static Suite *vfs_suite(void)
{
	Suite *s = suite_create("vfs");
	TCase *two = tcase_create("two_mounts");
	TCase *own = tcase_create("own_config");

	tcase_add_checked_fixture(two, setup_two, teardown);
	tcase_add_test(two, nodeid_encode_decode);
	tcase_add_test(two, mount_point_lookup_gives_backend_root);
	tcase_add_test(two, st_ino_is_nodeid_everywhere);
	tcase_add_test(two, two_mounts_of_one_type_get_disjoint_nodeids);
	tcase_add_test(two, dotdot_of_backend_root_is_pseudofs_parent);
	tcase_add_test(two, pseudofs_listing_shows_backend_roots);
	tcase_add_test(two, cross_mount_rename_link_copy_are_exdev);
	tcase_add_test(two, pseudofs_is_read_only);
	tcase_add_test(two, unknown_nodeids_are_estale);
	tcase_add_test(two, lookup_and_handle_counters);
	tcase_add_test(two, readdirplus_counts_only_placed_entries);
	tcase_add_test(two, forget_storm_clamps_without_crash);
	tcase_add_test(two, statfs_routes_to_the_owning_backend);
	tcase_add_test(two, destroy_destroys_backends);
	tcase_add_test(two, concurrent_lookup_forget_balance);
	suite_add_tcase(s, two);

	tcase_add_checked_fixture(own, NULL, teardown);
	tcase_add_test(own, readonly_mount_refuses_mutations_without_calling);
	tcase_add_test(own, id_map_applies_both_ways);
	tcase_add_test(own, null_ops_are_answered_and_never_enosys);
	tcase_add_test(own, bad_backend_answers_are_clamped);
	tcase_add_test(own, negative_entries_use_the_negative_timeout);
	tcase_add_test(own, create_errors_name_the_mount);
	tcase_add_test(own, writeback_cache_opens_write_only_files_read_write);
	tcase_add_test(own, default_permissions_reaches_the_backend_ctx);
	suite_add_tcase(s, own);
	return s;
}

int main(void)
{
	return testlib_run(vfs_suite());
}
