/*
 * backends/memfs/memfs.c - the memfs backend: lifecycle, the inode table,
 * inode lifetime, attributes (getattr/setattr/access/statfs) and the ops table.
 *
 * Structures and the lock design are described in memfs_int.h. Limits:
 *   size_limit  counts data pages only (allocated pages * 4096); metadata
 *               (inodes, names, symlink targets, xattrs, tree nodes) is not
 *               counted, as tmpfs counts only blocks. 0 = unlimited; statfs
 *               then reports half of RAM as the size, like tmpfs's default.
 *   inode_limit counts every live inode, the root included. 0 = unlimited;
 *               statfs then reports 2^32 inodes.
 */
#include "memfs_int.h"

#include "config/config.h"
#include "server/log.h"

#include <assert.h>
#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMFS_ITABLE_MIN       64
#define MEMFS_UNLIMITED_INODES (UINT64_C(1) << 32)

void memfs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

bool memfs_in_group(const struct op_ctx *ctx, gid_t gid)
{
	return ctx->gid == gid || (ctx->has_supp_gid && ctx->supp_gid == gid);
}

int memfs_reserve(struct memfs *fs, uint64_t n)
{
	uint64_t used = atomic_load(&fs->used_pages);

	if (!n)
		return 0;
	do {
		if (fs->size_limited && (used > fs->page_limit || n > fs->page_limit - used))
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak(&fs->used_pages, &used, used + n));
	return 0;
}

void memfs_unreserve(struct memfs *fs, uint64_t n)
{
	uint64_t old = atomic_fetch_sub(&fs->used_pages, n);

	assert(old >= n);
	(void)old;
	atomic_fetch_add_explicit(&fs->freed_pages, n, memory_order_relaxed);
}

/* 16 MiB of pages: trimming walks the allocator's free lists, so not on every free. */
#define MEMFS_TRIM_PAGES 4096

/*
 * glibc keeps freed 4 KiB pages in its heap, so a daemon whose files were all
 * deleted would keep their memory resident (seen: 39 MiB after a stress run).
 * malloc_trim() hands free heap pages back with MADV_DONTNEED.
 */
void memfs_trim(struct memfs *fs)
{
	if (atomic_load_explicit(&fs->freed_pages, memory_order_relaxed) < MEMFS_TRIM_PAGES)
		return;
	if (atomic_exchange(&fs->freed_pages, 0) >= MEMFS_TRIM_PAGES)
		malloc_trim(0);
}

/*
 * ---- inode table: ino -> inode, chained hash ----
 * Doubled when the load passes 1, halved when it falls below 1/8 (not below
 * MEMFS_ITABLE_MIN): deleting a big tree gives the buckets back too.
 */

static inline size_t itable_slot(const struct memfs_itable *t, uint64_t ino)
{
	return (size_t)((ino * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (t->nbuckets - 1);
}

static int itable_init(struct memfs_itable *t)
{
	t->buckets = calloc(MEMFS_ITABLE_MIN, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = MEMFS_ITABLE_MIN;
	t->count = 0;
	return 0;
}

/* Resizing is best effort: without memory the chains just get longer. */
static void itable_resize(struct memfs_itable *t, size_t n)
{
	struct memfs_inode **b = calloc(n, sizeof(*b));
	struct memfs_itable nt = { b, n, t->count };

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct memfs_inode *node = t->buckets[i], *next;

		for (; node; node = next) {
			size_t s = itable_slot(&nt, node->ino);

			next = node->hnext;
			node->hnext = b[s];
			b[s] = node;
		}
	}
	free(t->buckets);
	*t = nt;
}

struct memfs_inode *memfs_inode_find(struct memfs *fs, uint64_t ino)
{
	struct memfs_inode *node = fs->itable.buckets[itable_slot(&fs->itable, ino)];

	while (node && node->ino != ino)
		node = node->hnext;
	return node;
}

static void itable_remove(struct memfs_itable *t, struct memfs_inode *node)
{
	struct memfs_inode **pp = &t->buckets[itable_slot(t, node->ino)];

	while (*pp != node)
		pp = &(*pp)->hnext;
	*pp = node->hnext;
	node->hnext = NULL;
	t->count--;
	if (t->nbuckets > MEMFS_ITABLE_MIN && t->count < t->nbuckets / 8)
		itable_resize(t, t->nbuckets / 2);
}

int memfs_inode_new(struct memfs *fs, mode_t mode, uid_t uid, gid_t gid, dev_t rdev,
		    struct memfs_inode **out)
{
	struct memfs_inode *node;
	size_t s;

	if (fs->inode_limit && fs->ninodes >= fs->inode_limit)
		return -ENOSPC;
	if (fs->next_ino > BACKEND_INO_MAX)
		return -ENOSPC;
	node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	if (pthread_rwlock_init(&node->lock, NULL)) {
		free(node);
		return -ENOMEM;
	}
	node->ino = fs->next_ino++;
	node->type = mode & S_IFMT;
	node->mode = mode;
	node->uid = uid;
	node->gid = gid;
	node->rdev = rdev;
	memfs_now(&node->ctime);
	node->atime = node->mtime = node->ctime;
	memfs_pages_init(&node->pages);
	if (S_ISDIR(mode))
		node->dir.next_cookie = 3;
	atomic_init(&node->nlookup, 0);
	atomic_init(&node->nopen, 0);
	if (fs->itable.count >= fs->itable.nbuckets)
		itable_resize(&fs->itable, fs->itable.nbuckets * 2);
	s = itable_slot(&fs->itable, node->ino);
	node->hnext = fs->itable.buckets[s];
	fs->itable.buckets[s] = node;
	fs->itable.count++;
	fs->ninodes++;
	*out = node;
	return 0;
}

bool memfs_inode_unused(const struct memfs_inode *node)
{
	return node->ino != BACKEND_ROOT_INO && node->nlink == 0 &&
	       atomic_load(&node->nlookup) == 0 && atomic_load(&node->nopen) == 0;
}

void memfs_inode_reap(struct memfs *fs, struct memfs_inode *node, struct memfs_inode **dead)
{
	if (!memfs_inode_unused(node))
		return;
	itable_remove(&fs->itable, node);
	fs->ninodes--;
	node->hnext = *dead;
	*dead = node;
}

static void memfs_inode_free(struct memfs *fs, struct memfs_inode *node)
{
	/* The lifetime invariant (memfs_int.h), root excepted at destroy. */
	assert(node->ino == BACKEND_ROOT_INO ||
	       (node->nlink == 0 && atomic_load(&node->nlookup) == 0 &&
		atomic_load(&node->nopen) == 0));
	if (fs)
		memfs_unreserve(fs, node->pages.npages);
	memfs_pages_fini(&node->pages);
	memfs_xattrs_free(node->xattrs);
	memfs_dir_fini(&node->dir);
	free(node->target);
	pthread_rwlock_destroy(&node->lock);
	free(node);
}

void memfs_free_dead(struct memfs *fs, struct memfs_inode *dead)
{
	while (dead) {
		struct memfs_inode *next = dead->hnext;

		memfs_inode_free(fs, dead);
		dead = next;
	}
	if (fs)
		memfs_trim(fs);
}

void memfs_stat(struct memfs_inode *node, struct stat *st, bool locked)
{
	if (!locked)
		pthread_rwlock_rdlock(&node->lock);
	memset(st, 0, sizeof(*st));
	st->st_ino = node->ino;
	st->st_mode = node->mode;
	st->st_nlink = node->nlink;
	st->st_uid = node->uid;
	st->st_gid = node->gid;
	st->st_rdev = node->rdev;
	if (S_ISDIR(node->mode))
		st->st_size = (off_t)((node->dir.nlive + 2) * MEMFS_BOGO_DIRENT_SIZE);
	else
		st->st_size = node->size;
	st->st_blksize = (blksize_t)MEMFS_PAGE_SIZE;
	st->st_blocks = (blkcnt_t)(node->pages.npages * (MEMFS_PAGE_SIZE / 512));
	st->st_atim = node->atime;
	st->st_mtim = node->mtime;
	st->st_ctim = node->ctime;
	if (!locked)
		pthread_rwlock_unlock(&node->lock);
}

void memfs_entry(struct memfs_inode *node, struct vfs_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = node->ino;
	out->generation = 0; /* inos are never reused */
	memfs_stat(node, &out->attr, false);
	atomic_fetch_add(&node->nlookup, 1);
}

/* ---- lifecycle ---- */

static void memfs_destroy(struct backend *be)
{
	struct memfs *fs = memfs_of(be);

	if (!fs)
		return;
	for (size_t i = 0; fs->itable.buckets && i < fs->itable.nbuckets; i++) {
		struct memfs_inode *node = fs->itable.buckets[i], *next;

		for (; node; node = next) {
			next = node->hnext;
			/* Teardown: counts no longer matter, drop them for the assert. */
			node->nlink = 0;
			atomic_store(&node->nlookup, 0);
			atomic_store(&node->nopen, 0);
			memfs_inode_free(NULL, node);
		}
	}
	free(fs->itable.buckets);
	memfs_dtable_fini(&fs->dtable);
	pthread_rwlock_destroy(&fs->ns_lock);
	free(fs);
}

static int memfs_create(const struct mount_config *cfg, struct backend **out, char *err,
			size_t errlen)
{
	pthread_rwlockattr_t attr;
	struct memfs *fs;
	int ret;

	*out = NULL;
	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		snprintf(err, errlen, "memfs: out of memory");
		return -ENOMEM;
	}
	pthread_rwlockattr_init(&attr);
	/* Writer preference: creates must not starve under a read storm. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = -pthread_rwlock_init(&fs->ns_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (ret) {
		free(fs);
		snprintf(err, errlen, "memfs: cannot create lock");
		return ret;
	}
	fs->next_ino = BACKEND_ROOT_INO;
	fs->inode_limit = cfg->inode_limit;
	/* Whole pages only: a limit below one page allows no data at all. */
	fs->size_limited = cfg->size_limit != 0;
	fs->page_limit = cfg->size_limit / MEMFS_PAGE_SIZE;
	atomic_init(&fs->used_pages, 0);
	ret = itable_init(&fs->itable);
	if (!ret)
		ret = memfs_dtable_init(&fs->dtable);
	if (ret) {
		snprintf(err, errlen, "memfs: out of memory");
		goto fail;
	}
	ret = memfs_inode_new(fs, S_IFDIR | (cfg->has_root_mode ? (cfg->root_mode & 07777) : 0755),
			      cfg->has_root_owner ? cfg->root_uid : geteuid(),
			      cfg->has_root_owner ? cfg->root_gid : getegid(), 0, &fs->root);
	if (ret) {
		snprintf(err, errlen, "memfs: cannot create the root inode: %s", strerror(-ret));
		goto fail;
	}
	assert(fs->root->ino == BACKEND_ROOT_INO);
	fs->root->nlink = 2;
	fs->root->parent = fs->root;
	if (cfg->seed) {
		ret =
		    memfs_seed(fs, cfg->seed, cfg->has_root_mode, cfg->has_root_owner, err, errlen);
		if (ret)
			goto fail;
	}
	*out = (struct backend *)fs;
	return 0;
fail:
	memfs_destroy((struct backend *)fs);
	return ret;
}

/* ---- kernel references and handles ---- */

/* Drop n from *count, clamped at 0 (*held = the value before); true when it reached 0. */
static bool memfs_count_sub(_Atomic uint64_t *count, uint64_t n, uint64_t *held)
{
	uint64_t v = atomic_load(count);
	uint64_t take;

	do {
		take = n < v ? n : v;
	} while (!atomic_compare_exchange_weak(count, &v, v - take));
	*held = v;
	return v - take == 0;
}

/* Called after a count reached 0 under the read lock: free under the write lock. */
static void memfs_maybe_reap(struct memfs *fs, uint64_t ino)
{
	struct memfs_inode *node, *dead = NULL;

	pthread_rwlock_wrlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (node)
		memfs_inode_reap(fs, node, &dead);
	pthread_rwlock_unlock(&fs->ns_lock);
	memfs_free_dead(fs, dead);
}

static void memfs_forget(struct backend *be, uint64_t ino, uint64_t n)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	bool maybe = false;

	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (node) {
		uint64_t held;

		maybe = memfs_count_sub(&node->nlookup, n, &held) && memfs_inode_unused(node);
		if (held < n) /* bad input from the kernel (or a fuzzer): clamp, log once */
			vlog_once(VLOG_WARN,
				  "memfs: forget %" PRIu64 " on ino %" PRIu64 " holding %" PRIu64,
				  n, ino, held);
	} else
		vlog_once(VLOG_WARN, "memfs: forget of unknown ino %" PRIu64, ino);
	pthread_rwlock_unlock(&fs->ns_lock);
	if (maybe)
		memfs_maybe_reap(fs, ino);
}

static void memfs_release(struct backend *be, uint64_t ino, uint64_t fh, int flags)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	bool maybe = false;

	(void)fh;
	(void)flags;
	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (node) {
		uint64_t held;

		maybe = memfs_count_sub(&node->nopen, 1, &held) && memfs_inode_unused(node);
		if (held == 0)
			vlog_once(VLOG_WARN,
				  "memfs: release of ino %" PRIu64 " with no open handle", ino);
	} else
		vlog_once(VLOG_WARN, "memfs: release of unknown ino %" PRIu64, ino);
	pthread_rwlock_unlock(&fs->ns_lock);
	if (maybe)
		memfs_maybe_reap(fs, ino);
}

static int memfs_opendir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
			 struct vfs_open *out)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	int ret = 0;

	(void)ctx;
	(void)flags;
	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (!node)
		ret = -ESTALE;
	else if (!S_ISDIR(node->type))
		ret = -ENOTDIR;
	if (!ret) {
		atomic_fetch_add(&node->nopen, 1);
		memset(out, 0, sizeof(*out));
		out->fh = ino;
		out->backing_fd = -1;
		/* Every change comes through the kernel, which drops a cached listing
		 * itself when it changes the directory: the cache is always right. */
		out->cache_dir = true;
		out->keep_cache = true;
	}
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

static void memfs_releasedir(struct backend *be, uint64_t ino, uint64_t fh)
{
	memfs_release(be, ino, fh, 0);
}

static int memfs_flush(struct backend *be, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	(void)be;
	(void)ino;
	(void)fh;
	(void)lock_owner;
	return 0; /* nothing to write back */
}

static int memfs_fsync(struct backend *be, uint64_t ino, uint64_t fh, bool datasync)
{
	(void)be;
	(void)ino;
	(void)fh;
	(void)datasync;
	return 0;
}

/* ---- attributes ---- */

static int memfs_getattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, bool has_fh,
			 uint64_t fh, struct stat *out)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	int ret = 0;

	(void)ctx;
	(void)has_fh;
	(void)fh;
	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (node)
		memfs_stat(node, out, false);
	else
		ret = -ESTALE;
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

/* May the caller write to node by its mode bits (node->lock held)? */
static bool memfs_may_write(const struct memfs_inode *node, const struct op_ctx *ctx)
{
	if (ctx->uid == 0 || ctx->uid == node->uid)
		return ctx->uid == 0 || (node->mode & S_IWUSR);
	if (memfs_in_group(ctx, node->gid))
		return node->mode & S_IWGRP;
	return node->mode & S_IWOTH;
}

/*
 * Permission checks of setattr. With default_permissions the kernel has made
 * them already, with what we lack (supplementary groups, capabilities), so only
 * the type checks remain: repeating them here refused a chown to a
 * supplementary group (pjdfstest chown/00, chown/05) and the kernel's own
 * clearing of setuid/setgid after a write by a non-owner (chmod/12).
 */
static int memfs_setattr_check(const struct memfs_inode *node, const struct op_ctx *ctx,
			       const struct vfs_setattr *in)
{
	bool root = ctx->uid == 0, owner = ctx->uid == node->uid;
	/* A write or truncate by a non-owner makes the kernel send a mode that
	 * only clears setuid/setgid: allowed to whoever may write the file. */
	bool kill_only =
	    (in->valid & VFS_SET_MODE) &&
	    (in->mode & 07777) == (node->mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID)) &&
	    memfs_may_write(node, ctx);

	if (ctx->perm_checked)
		goto types;
	if ((in->valid & VFS_SET_MODE) && !root && !owner && !kill_only)
		return -EPERM;
	if ((in->valid & VFS_SET_UID) && in->uid != node->uid && !root)
		return -EPERM;
	if ((in->valid & VFS_SET_GID) && in->gid != node->gid && !root &&
	    !(owner && memfs_in_group(ctx, in->gid)))
		return -EPERM;
	if ((in->valid & (VFS_SET_ATIME | VFS_SET_MTIME)) && !root && !owner)
		return -EPERM;
types:
	if (in->valid & VFS_SET_SIZE) {
		if (S_ISDIR(node->type))
			return -EISDIR;
		if (!S_ISREG(node->type))
			return -EINVAL;
		if (in->size < 0)
			return -EINVAL;
	}
	return 0;
}

static int memfs_setattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			 const struct vfs_setattr *in, struct stat *out)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	struct timespec now;
	bool changed = false;
	int ret;

	memfs_now(&now);
	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (!node) {
		ret = -ESTALE;
		goto out_ns;
	}
	pthread_rwlock_wrlock(&node->lock);
	ret = memfs_setattr_check(node, ctx, in);
	if (ret)
		goto out_node;
	if (in->valid & VFS_SET_SIZE) {
		if (in->size != node->size) {
			memfs_truncate_locked(fs, node, in->size);
			node->mtime = now;
			changed = true;
		}
	}
	if (in->valid & VFS_SET_MODE) {
		node->mode = node->type | (in->mode & 07777);
		memfs_acl_chmod_locked(node);
		changed = true;
	}
	if ((in->valid & (VFS_SET_UID | VFS_SET_GID))) {
		bool ids = ((in->valid & VFS_SET_UID) && in->uid != node->uid) ||
			   ((in->valid & VFS_SET_GID) && in->gid != node->gid);

		if (in->valid & VFS_SET_UID)
			node->uid = in->uid;
		if (in->valid & VFS_SET_GID)
			node->gid = in->gid;
		/* chown of a non-directory drops setuid, and setgid when it means
		 * "run as group" (group exec set), as the kernel does. */
		if (ids && !S_ISDIR(node->type) && !(in->valid & VFS_SET_MODE))
			memfs_drop_suidgid(node, false);
		changed = true;
	}
	if ((in->valid & VFS_SET_KILL_SUIDGID) && S_ISREG(node->mode)) {
		mode_t before = node->mode;

		memfs_drop_suidgid(node, (in->valid & VFS_SET_KILL_SGID) != 0);
		/* Sent before every write by an unprivileged caller: ctime moves
		 * only when a bit really went. */
		changed = changed || node->mode != before;
	}
	if (in->valid & (VFS_SET_ATIME | VFS_SET_ATIME_NOW)) {
		node->atime = (in->valid & VFS_SET_ATIME_NOW) ? now : in->atime;
		changed = true;
	}
	if (in->valid & (VFS_SET_MTIME | VFS_SET_MTIME_NOW)) {
		node->mtime = (in->valid & VFS_SET_MTIME_NOW) ? now : in->mtime;
		changed = true;
	}
	if (in->valid & VFS_SET_CTIME)
		node->ctime = in->ctime;
	else if (changed)
		node->ctime = now;
	memfs_stat(node, out, true);
out_node:
	pthread_rwlock_unlock(&node->lock);
out_ns:
	pthread_rwlock_unlock(&fs->ns_lock);
	memfs_trim(fs); /* a truncate may have freed pages */
	return ret;
}

static int memfs_access(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int mask)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	mode_t mode, bits;
	int ret = 0;

	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (!node) {
		pthread_rwlock_unlock(&fs->ns_lock);
		return -ESTALE;
	}
	pthread_rwlock_rdlock(&node->lock);
	mode = node->mode;
	if (ctx->uid == 0) {
		/* root: read/write always; execute if anyone may, or a directory */
		if ((mask & X_OK) && !S_ISDIR(mode) && !(mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
			ret = -EACCES;
	} else {
		if (ctx->uid == node->uid)
			bits = (mode >> 6) & 7;
		else if (memfs_in_group(ctx, node->gid))
			bits = (mode >> 3) & 7;
		else
			bits = mode & 7;
		if ((unsigned)mask & ~bits & 7)
			ret = -EACCES;
	}
	pthread_rwlock_unlock(&node->lock);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

uint64_t memfs_total_pages(struct memfs *fs)
{
	uint64_t used = atomic_load(&fs->used_pages), blocks;
	long ram, psz;

	if (fs->size_limited)
		return fs->page_limit;
	/* Unlimited: show half of RAM, tmpfs's default size. */
	ram = sysconf(_SC_PHYS_PAGES);
	psz = sysconf(_SC_PAGESIZE);
	blocks = ram > 0 && psz > 0 ? (uint64_t)ram * (uint64_t)psz / 2 / MEMFS_PAGE_SIZE
				    : UINT64_C(1) << 20;
	return blocks < used ? used : blocks;
}

uint64_t memfs_free_pages(struct memfs *fs)
{
	uint64_t total = memfs_total_pages(fs), used = atomic_load(&fs->used_pages);

	return total > used ? total - used : 0;
}

static int memfs_statfs(struct backend *be, uint64_t ino, struct statvfs *out)
{
	struct memfs *fs = memfs_of(be);
	uint64_t blocks, used, files, ninodes;

	(void)ino;
	used = atomic_load(&fs->used_pages);
	blocks = memfs_total_pages(fs);
	pthread_rwlock_rdlock(&fs->ns_lock);
	ninodes = fs->ninodes;
	pthread_rwlock_unlock(&fs->ns_lock);
	files = fs->inode_limit ? fs->inode_limit : MEMFS_UNLIMITED_INODES;
	if (files < ninodes)
		files = ninodes;
	memset(out, 0, sizeof(*out));
	out->f_bsize = MEMFS_PAGE_SIZE;
	out->f_frsize = MEMFS_PAGE_SIZE;
	out->f_blocks = blocks;
	out->f_bfree = out->f_bavail = blocks > used ? blocks - used : 0;
	out->f_files = files;
	out->f_ffree = out->f_favail = files - ninodes;
	out->f_namemax = NAME_MAX;
	return 0;
}

static ssize_t memfs_readlink(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
			      size_t size)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	ssize_t ret;

	(void)ctx;
	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (!node) {
		ret = -ESTALE;
	} else if (!S_ISLNK(node->type)) {
		ret = -EINVAL;
	} else {
		size_t len = strlen(node->target);

		if (len > size)
			len = size;
		memcpy(buf, node->target, len);
		ret = (ssize_t)len;
	}
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

static int memfs_fsyncdir(struct backend *be, uint64_t ino, uint64_t fh, bool datasync)
{
	return memfs_fsync(be, ino, fh, datasync);
}

const struct backend_ops memfs_ops = {
	.type = "memfs",
	.create = memfs_create,
	.destroy = memfs_destroy,
	.lookup = memfs_lookup, /* +1 nlookup on success */
	.forget = memfs_forget,
	.getattr = memfs_getattr,
	.setattr = memfs_setattr,
	.readlink = memfs_readlink,
	.mknod = memfs_mknod,
	.mkdir = memfs_mkdir,
	.symlink = memfs_symlink,
	.unlink = memfs_unlink,
	.rmdir = memfs_rmdir,
	.rename = memfs_rename,
	.link = memfs_link,
	.open = memfs_open,
	.create_file = memfs_create_file,
	.read = memfs_read,
	.write = memfs_write,
	.flush = memfs_flush,
	.release = memfs_release,
	.fsync = memfs_fsync,
	.opendir = memfs_opendir,
	.readdir = memfs_readdir,
	.releasedir = memfs_releasedir,
	.fsyncdir = memfs_fsyncdir,
	.statfs = memfs_statfs,
	.access = memfs_access,
	.setxattr = memfs_setxattr,
	.getxattr = memfs_getxattr,
	.listxattr = memfs_listxattr,
	.removexattr = memfs_removexattr,
	.fallocate = memfs_fallocate,
	.lseek = memfs_lseek,
	.copy_file_range = memfs_copy_file_range,
};
