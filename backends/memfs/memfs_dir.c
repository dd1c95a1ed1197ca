/*
 * backends/memfs/memfs_dir.c - the memfs namespace: directory entries,
 * lookup, creation, removal, rename, link and readdir.
 *
 * Each entry lives in two places, both under fs->ns_lock:
 *   - the fs-wide dentry hash keyed by (directory ino, name), for lookup;
 *   - its directory's slot array in cookie order, for readdir. Cookies are
 *     handed out increasing at insertion and an entry keeps its cookie until
 *     it is removed, so resuming "after cookie c" neither repeats nor skips
 *     an entry that survived. Removal leaves a tombstone that compaction
 *     drops later; lookups by cookie are a binary search.
 * Rename never hands a cookie beyond a listing's position to an entry that
 * stays in its directory: a rename within one directory renames the entry in
 * its slot (same cookie), replacing an existing name or not (the replaced
 * entry goes, as an unlink would). A listing of a directory whose entries are
 * only renamed therefore walks a set of cookies that never grows: it ends,
 * sees each entry that was not renamed exactly once, and a renamed one once
 * (under the old or the new name) or, when it replaced a name the listing had
 * already passed, twice. An entry that comes from another directory is new
 * there and gets the next cookie, as a create would; over an existing name it
 * takes that entry's cookie. EXCHANGE swaps the inodes of two entries.
 */
#include "memfs_int.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMFS_DTABLE_MIN 64

/* ---- dentry hash ---- */

static uint32_t dent_hash(uint64_t dir_ino, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (dir_ino * 0x9E3779B97F4A7C15ULL);

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

int memfs_dtable_init(struct memfs_dtable *t)
{
	t->buckets = calloc(MEMFS_DTABLE_MIN, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = MEMFS_DTABLE_MIN;
	t->count = 0;
	return 0;
}

void memfs_dtable_fini(struct memfs_dtable *t)
{
	free(t->buckets); /* the entries belong to their directories */
	t->buckets = NULL;
}

/* Doubled at load 1, halved below load 1/8 (not below MEMFS_DTABLE_MIN). */
static void dtable_resize(struct memfs_dtable *t, size_t n)
{
	struct memfs_dirent **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* best effort: longer chains */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct memfs_dirent *de = t->buckets[i], *next;

		for (; de; de = next) {
			next = de->hnext;
			de->hnext = b[de->hash & (n - 1)];
			b[de->hash & (n - 1)] = de;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static void dtable_insert(struct memfs_dtable *t, struct memfs_dirent *de)
{
	if (t->count >= t->nbuckets)
		dtable_resize(t, t->nbuckets * 2);
	de->hnext = t->buckets[de->hash & (t->nbuckets - 1)];
	t->buckets[de->hash & (t->nbuckets - 1)] = de;
	t->count++;
}

static void dtable_remove(struct memfs_dtable *t, struct memfs_dirent *de)
{
	struct memfs_dirent **pp = &t->buckets[de->hash & (t->nbuckets - 1)];

	while (*pp != de)
		pp = &(*pp)->hnext;
	*pp = de->hnext;
	de->hnext = NULL;
	t->count--;
	if (t->nbuckets > MEMFS_DTABLE_MIN && t->count < t->nbuckets / 8)
		dtable_resize(t, t->nbuckets / 2);
}

struct memfs_dirent *memfs_dir_find(struct memfs *fs, struct memfs_inode *dir, const char *name)
{
	size_t len = strlen(name);
	uint32_t h = dent_hash(dir->ino, name, len);
	struct memfs_dirent *de = fs->dtable.buckets[h & (fs->dtable.nbuckets - 1)];

	for (; de; de = de->hnext)
		if (de->hash == h && de->dir == dir && de->namelen == len &&
		    memcmp(de->name, name, len) == 0)
			return de;
	return NULL;
}

/* ---- per-directory slots in cookie order ---- */

void memfs_dir_fini(struct memfs_dir *d)
{
	for (size_t i = 0; i < d->nslots; i++)
		free(d->slots[i].de);
	free(d->slots);
	memset(d, 0, sizeof(*d));
}

static void dir_compact(struct memfs_dir *d)
{
	size_t j = 0;

	for (size_t i = 0; i < d->nslots; i++)
		if (d->slots[i].de)
			d->slots[j++] = d->slots[i];
	d->nslots = j;
	assert(j == d->nlive);
}

/* Make room for one more slot: 0 or -ENOMEM. */
static int dir_prepare(struct memfs_dir *d)
{
	struct memfs_dslot *s;
	size_t cap;

	if (d->nslots < d->cap)
		return 0;
	if (d->nslots - d->nlive > d->nslots / 2) {
		dir_compact(d);
		if (d->nslots < d->cap)
			return 0;
	}
	cap = d->cap ? d->cap * 2 : 8;
	s = realloc(d->slots, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	d->slots = s;
	d->cap = cap;
	return 0;
}

/* Index of the first slot whose cookie is > off. */
static size_t dir_first_after(const struct memfs_dir *d, uint64_t off)
{
	size_t lo = 0, hi = d->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->slots[mid].cookie <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct memfs_dirent *dirent_alloc(const char *name)
{
	size_t len = strlen(name);
	struct memfs_dirent *de;

	assert(len <= NAME_MAX);
	de = calloc(1, sizeof(*de) + len + 1);
	if (!de)
		return NULL;
	memcpy(de->name, name, len + 1);
	de->namelen = (uint16_t)len;
	return de;
}

/* Place de (from dirent_alloc) in dir pointing at node; dir_prepare() was done. */
static void dir_insert(struct memfs *fs, struct memfs_inode *dir, struct memfs_dirent *de,
		       struct memfs_inode *node)
{
	struct memfs_dir *d = &dir->dir;

	assert(d->nslots < d->cap);
	de->dir = dir;
	de->inode = node;
	de->cookie = d->next_cookie++;
	de->hash = dent_hash(dir->ino, de->name, de->namelen);
	d->slots[d->nslots].cookie = de->cookie;
	d->slots[d->nslots].de = de;
	d->nslots++;
	d->nlive++;
	dtable_insert(&fs->dtable, de);
}

/* Take de out of its directory and free it (link counts are the caller's). */
static void dir_erase(struct memfs *fs, struct memfs_dirent *de)
{
	struct memfs_dir *d = &de->dir->dir;
	size_t i = dir_first_after(d, de->cookie - 1);

	assert(i < d->nslots && d->slots[i].de == de);
	d->slots[i].de = NULL;
	d->nlive--;
	dtable_remove(&fs->dtable, de);
	if (d->nslots - d->nlive > 32 && d->nslots - d->nlive > d->nlive)
		dir_compact(d);
	free(de);
}

/*
 * Rename in place: de (from dirent_alloc, with the new name) takes ode's slot,
 * cookie and inode, and ode is freed. The directory's readdir order does not
 * change, so a listing in progress neither meets the entry again nor misses it.
 */
static void dir_rekey(struct memfs *fs, struct memfs_dirent *ode, struct memfs_dirent *de)
{
	struct memfs_dir *d = &ode->dir->dir;
	size_t i = dir_first_after(d, ode->cookie - 1);

	assert(i < d->nslots && d->slots[i].de == ode);
	de->dir = ode->dir;
	de->inode = ode->inode;
	de->cookie = ode->cookie;
	de->hash = dent_hash(de->dir->ino, de->name, de->namelen);
	d->slots[i].de = de;
	dtable_remove(&fs->dtable, ode);
	dtable_insert(&fs->dtable, de);
	free(ode);
}

static void dir_touch(struct memfs_inode *dir, const struct timespec *now)
{
	dir->mtime = dir->ctime = *now;
}

/* Link accounting when node gains a name in dir. */
static void link_account(struct memfs_inode *dir, struct memfs_inode *node)
{
	if (S_ISDIR(node->type)) {
		assert(node->nlink == 0);
		node->nlink = 2;
		node->parent = dir;
		dir->nlink++;
	} else {
		node->nlink++;
	}
}

int memfs_dir_link_new(struct memfs *fs, struct memfs_inode *dir, const char *name,
		       struct memfs_inode *node)
{
	struct memfs_dirent *de;
	struct timespec now;
	int ret;

	ret = dir_prepare(&dir->dir);
	if (ret)
		return ret;
	de = dirent_alloc(name);
	if (!de)
		return -ENOMEM;
	dir_insert(fs, dir, de, node);
	link_account(dir, node);
	memfs_now(&now);
	dir_touch(dir, &now);
	return 0;
}

/* The parent of an op: a live directory. */
static int dir_get(struct memfs *fs, uint64_t ino, struct memfs_inode **out)
{
	struct memfs_inode *dir = memfs_inode_find(fs, ino);

	if (!dir)
		return -ESTALE;
	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	*out = dir;
	return 0;
}

/* Sticky directory: only root, the file's owner or the dir's owner may remove.
 * With default_permissions the kernel has checked this (CAP_FOWNER included). */
static bool may_delete(const struct op_ctx *ctx, const struct memfs_inode *dir,
		       const struct memfs_inode *victim)
{
	if (ctx->perm_checked || !(dir->mode & S_ISVTX) || ctx->uid == 0)
		return true;
	return ctx->uid == victim->uid || ctx->uid == dir->uid;
}

int memfs_lookup(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		 struct vfs_entry *out)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *dir, *node = NULL;
	struct memfs_dirent *de;
	int ret;

	(void)ctx;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	pthread_rwlock_rdlock(&fs->ns_lock);
	if (strcmp(name, ".") == 0) {
		/* Any type: the kernel asks "." to decode a file handle (backend.h). */
		node = memfs_inode_find(fs, parent);
		ret = node ? 0 : -ESTALE;
		goto out_entry;
	}
	ret = dir_get(fs, parent, &dir);
	if (ret)
		goto out;
	if (strcmp(name, "..") == 0) {
		node = dir->parent; /* NULL once removed */
	} else {
		de = memfs_dir_find(fs, dir, name);
		node = de ? de->inode : NULL;
	}
	if (!node)
		ret = -ENOENT;
out_entry:
	if (node)
		memfs_entry(node, out);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

/*
 * ns_lock write held: create a node named name in parent. For symlinks,
 * target is copied. The caller fills the entry (memfs_entry).
 */
static int memfs_make(struct memfs *fs, const struct op_ctx *ctx, uint64_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *target, struct memfs_inode **out)
{
	struct memfs_inode *dir, *node, *dead = NULL;
	struct memfs_xattr *acls;
	char *tcopy = NULL;
	gid_t gid;
	int ret;

	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	ret = dir_get(fs, parent, &dir);
	if (ret)
		return ret;
	if (dir->nlink == 0)
		return -ENOENT; /* removed while someone still held it */
	if (ctx->unmapped)
		return -EOVERFLOW;
	if (memfs_dir_find(fs, dir, name))
		return -EEXIST;
	gid = ctx->gid;
	if (dir->mode & S_ISGID) {
		gid = dir->gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	/* ns_lock write: dir's default ACL holds still (see memfs_acl.c). */
	ret = memfs_acl_inherit(dir, ctx, &mode, &acls);
	if (ret)
		return ret;
	if (target) {
		tcopy = strdup(target);
		if (!tcopy) {
			memfs_xattrs_free(acls);
			return -ENOMEM;
		}
	}
	ret = memfs_inode_new(fs, mode, ctx->uid, gid, rdev, &node);
	if (ret) {
		memfs_xattrs_free(acls);
		free(tcopy);
		return ret;
	}
	node->xattrs = acls;
	if (tcopy) {
		node->target = tcopy;
		node->size = (off_t)strlen(tcopy);
	}
	ret = memfs_dir_link_new(fs, dir, name, node);
	if (ret) {
		memfs_inode_reap(fs, node, &dead); /* unlinked, unreferenced: goes */
		memfs_free_dead(fs, dead);
		return ret;
	}
	*out = node;
	return 0;
}

static int memfs_make_entry(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
			    const char *name, mode_t mode, dev_t rdev, const char *target,
			    struct vfs_entry *out)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	int ret;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = memfs_make(fs, ctx, parent, name, mode, rdev, target, &node);
	if (!ret)
		memfs_entry(node, out);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

int memfs_mknod(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		mode_t mode, dev_t rdev, struct vfs_entry *out)
{
	switch (mode & S_IFMT) {
	case 0:
		mode |= S_IFREG;
		/* fallthrough */
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		rdev = 0;
		break;
	case S_IFCHR:
	case S_IFBLK:
		break;
	case S_IFDIR:
		return -EPERM; /* as mknod(2) */
	default:
		return -EINVAL;
	}
	return memfs_make_entry(be, ctx, parent, name, (mode & S_IFMT) | (mode & 07777), rdev, NULL,
				out);
}

int memfs_mkdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		mode_t mode, struct vfs_entry *out)
{
	return memfs_make_entry(be, ctx, parent, name, S_IFDIR | (mode & 07777), 0, NULL, out);
}

int memfs_symlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		  const char *target, struct vfs_entry *out)
{
	size_t len = strlen(target);

	if (len == 0)
		return -ENOENT; /* as symlink(2) */
	if (len > MEMFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return memfs_make_entry(be, ctx, parent, name, S_IFLNK | 0777, 0, target, out);
}

int memfs_create_file(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name, mode_t mode, int flags, struct vfs_entry *out,
		      struct vfs_open *oout)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *dir, *node;
	struct memfs_dirent *de;
	int ret;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = dir_get(fs, parent, &dir);
	if (ret)
		goto out;
	de = strlen(name) <= NAME_MAX ? memfs_dir_find(fs, dir, name) : NULL;
	if (de) {
		node = de->inode;
		if (flags & O_EXCL) {
			ret = -EEXIST;
			goto out;
		}
		if (S_ISDIR(node->type)) {
			ret = -EISDIR;
			goto out;
		}
		if ((flags & O_TRUNC) && S_ISREG(node->type)) {
			/* ns_lock write is exclusive: no inode lock needed */
			struct timespec now;

			memfs_truncate_locked(fs, node, 0);
			memfs_now(&now);
			node->mtime = node->ctime = now;
			if (ctx->kill_suidgid) /* see op_ctx; groups as far as we know them */
				memfs_drop_suidgid(node, ctx->uid != 0 &&
							     !memfs_in_group(ctx, node->gid));
			/* The kernel took this for a new file and checks nothing: any
			 * truncate drops file capabilities (an OPEN's the kernel does). */
			(void)memfs_xattr_drop_locked(node, "security.capability");
		}
	} else {
		ret = memfs_make(fs, ctx, parent, name, S_IFREG | (mode & 07777), 0, NULL, &node);
		if (ret)
			goto out;
	}
	memfs_entry(node, out);
	atomic_fetch_add(&node->nopen, 1);
	memset(oout, 0, sizeof(*oout));
	oout->fh = node->ino;
	oout->backing_fd = -1;
	oout->noflush = true; /* as memfs_open */
	oout->direct_io = memfs_open_direct(flags);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

/* Common checks of unlink/rmdir; the entry and its directory into *dep / *dirp. */
static int remove_prepare(struct memfs *fs, const struct op_ctx *ctx, uint64_t parent,
			  const char *name, struct memfs_inode **dirp, struct memfs_dirent **dep)
{
	struct memfs_inode *dir;
	struct memfs_dirent *de;
	int ret;

	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	ret = dir_get(fs, parent, &dir);
	if (ret)
		return ret;
	de = memfs_dir_find(fs, dir, name);
	if (!de)
		return -ENOENT;
	if (!may_delete(ctx, dir, de->inode))
		return -EPERM;
	*dirp = dir;
	*dep = de;
	return 0;
}

int memfs_unlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *dir, *node, *dead = NULL;
	struct memfs_dirent *de;
	struct timespec now;
	int ret;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = remove_prepare(fs, ctx, parent, name, &dir, &de);
	if (ret)
		goto out;
	node = de->inode;
	if (S_ISDIR(node->type)) {
		ret = -EISDIR;
		goto out;
	}
	dir_erase(fs, de);
	assert(node->nlink > 0);
	node->nlink--;
	memfs_now(&now);
	node->ctime = now;
	dir_touch(dir, &now);
	memfs_inode_reap(fs, node, &dead);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	memfs_free_dead(fs, dead);
	return ret;
}

int memfs_rmdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *dir, *node, *dead = NULL;
	struct memfs_dirent *de;
	struct timespec now;
	int ret;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = remove_prepare(fs, ctx, parent, name, &dir, &de);
	if (ret)
		goto out;
	node = de->inode;
	if (!S_ISDIR(node->type)) {
		ret = -ENOTDIR;
		goto out;
	}
	if (node->dir.nlive) {
		ret = -ENOTEMPTY;
		goto out;
	}
	dir_erase(fs, de);
	node->nlink = 0;
	node->parent = NULL;
	dir->nlink--;
	memfs_now(&now);
	node->ctime = now;
	dir_touch(dir, &now);
	memfs_inode_reap(fs, node, &dead);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	memfs_free_dead(fs, dead);
	return ret;
}

/* Is anc the directory dir itself or one of its ancestors? */
static bool is_ancestor(const struct memfs_inode *anc, const struct memfs_inode *dir)
{
	for (const struct memfs_inode *p = dir; p; p = p->parent) {
		if (p == anc)
			return true;
		if (p->ino == BACKEND_ROOT_INO)
			break;
	}
	return false;
}

/* A directory moves from odir to ndir: fix ".." and both link counts. */
static void move_dir(struct memfs_inode *node, struct memfs_inode *odir, struct memfs_inode *ndir)
{
	if (!S_ISDIR(node->type) || odir == ndir)
		return;
	node->parent = ndir;
	odir->nlink--;
	ndir->nlink++;
}

int memfs_rename(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		 uint64_t newparent, const char *newname, unsigned flags)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *odir, *ndir, *src, *dst, *dead = NULL;
	struct memfs_dirent *ode, *nde, *de = NULL;
	bool exchange = flags & RENAME_EXCHANGE;
	struct timespec now;
	int ret;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	if ((flags & RENAME_WHITEOUT) || ((flags & RENAME_NOREPLACE) && exchange))
		return -EINVAL; /* no whiteouts in memfs */
	if (strlen(name) > NAME_MAX || strlen(newname) > NAME_MAX)
		return -ENAMETOOLONG;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = dir_get(fs, parent, &odir);
	if (!ret)
		ret = dir_get(fs, newparent, &ndir);
	if (ret)
		goto out;
	ode = memfs_dir_find(fs, odir, name);
	if (!ode) {
		ret = -ENOENT;
		goto out;
	}
	src = ode->inode;
	nde = memfs_dir_find(fs, ndir, newname);
	dst = nde ? nde->inode : NULL;
	if (exchange && !dst) {
		ret = -ENOENT;
		goto out;
	}
	if ((flags & RENAME_NOREPLACE) && dst) {
		ret = -EEXIST;
		goto out;
	}
	if (dst == src)
		goto out; /* two names of one inode (or one name): nothing to do */
	if (ndir->nlink == 0) {
		ret = -ENOENT;
		goto out;
	}
	if ((S_ISDIR(src->type) && is_ancestor(src, ndir)) ||
	    (exchange && S_ISDIR(dst->type) && is_ancestor(dst, odir))) {
		ret = -EINVAL; /* a directory into its own subtree */
		goto out;
	}
	if (dst && !exchange) {
		if (S_ISDIR(src->type) && !S_ISDIR(dst->type)) {
			ret = -ENOTDIR;
			goto out;
		}
		if (!S_ISDIR(src->type) && S_ISDIR(dst->type)) {
			ret = -EISDIR;
			goto out;
		}
		if (S_ISDIR(dst->type) && dst->dir.nlive) {
			ret = -ENOTEMPTY;
			goto out;
		}
	}
	if (!may_delete(ctx, odir, src) || (dst && !may_delete(ctx, ndir, dst))) {
		ret = -EPERM;
		goto out;
	}
	/* A new entry for the new name, except for EXCHANGE and a move over an
	 * existing name in another directory (that entry is kept). Only a new
	 * entry in another directory needs a slot there. */
	if (!exchange && (!dst || odir == ndir)) {
		if (!dst && odir != ndir) {
			ret = dir_prepare(&ndir->dir);
			if (ret)
				goto out;
		}
		de = dirent_alloc(newname);
		if (!de) {
			ret = -ENOMEM;
			goto out;
		}
	}

	/* Commit: nothing below can fail. */
	memfs_now(&now);
	if (exchange) {
		ode->inode = dst;
		nde->inode = src;
		move_dir(src, odir, ndir);
		move_dir(dst, ndir, odir);
		dst->ctime = now;
	} else if (dst) {
		if (odir == ndir) {
			dir_erase(fs, nde); /* the replaced name goes; src keeps its slot */
			dir_rekey(fs, ode, de);
		} else {
			nde->inode = src;
			dir_erase(fs, ode);
		}
		move_dir(src, odir, ndir);
		if (S_ISDIR(dst->type)) {
			dst->nlink = 0;
			dst->parent = NULL;
			ndir->nlink--;
		} else {
			assert(dst->nlink > 0);
			dst->nlink--;
		}
		dst->ctime = now;
		memfs_inode_reap(fs, dst, &dead);
	} else if (odir == ndir) {
		dir_rekey(fs, ode, de);
	} else {
		dir_erase(fs, ode);
		dir_insert(fs, ndir, de, src);
		move_dir(src, odir, ndir);
	}
	src->ctime = now;
	dir_touch(odir, &now);
	dir_touch(ndir, &now);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	memfs_free_dead(fs, dead);
	return ret;
}

int memfs_link(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t newparent,
	       const char *newname, struct vfs_entry *out)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node, *dir;
	int ret;

	if (strlen(newname) > NAME_MAX)
		return -ENAMETOOLONG;
	pthread_rwlock_wrlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (!node) {
		ret = -ESTALE;
		goto out;
	}
	ret = dir_get(fs, newparent, &dir);
	if (ret)
		goto out;
	if (S_ISDIR(node->type)) {
		ret = -EPERM;
	} else if (node->nlink == 0 || dir->nlink == 0) {
		ret = -ENOENT;
	} else if (ctx->unmapped) {
		ret = -EOVERFLOW;
	} else if (memfs_dir_find(fs, dir, newname)) {
		ret = -EEXIST;
	} else {
		ret = memfs_dir_link_new(fs, dir, newname, node);
		if (!ret) {
			node->ctime = dir->mtime;
			memfs_entry(node, out);
		}
	}
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

static int dir_emit(struct vfs_dirbuf *db, const char *name, uint64_t ino, uint32_t type,
		    uint64_t off)
{
	struct vfs_dirent d = { .name = name, .ino = ino, .type = type, .off = off };

	return vfs_dir_add(db, &d);
}

int memfs_readdir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		  uint64_t off, struct vfs_dirbuf *db)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *dir;
	struct memfs_dir *d;
	int ret;

	(void)ctx;
	(void)fh;
	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = dir_get(fs, ino, &dir);
	if (ret)
		goto out;
	if (off < 1 && dir_emit(db, ".", dir->ino, DT_DIR, 1))
		goto out;
	/* ".." of the root is the root here; vfs fixes it. A removed dir: itself. */
	if (off < 2 && dir_emit(db, "..", dir->parent ? dir->parent->ino : dir->ino, DT_DIR, 2))
		goto out;
	d = &dir->dir;
	for (size_t i = dir_first_after(d, off < 2 ? 2 : off); i < d->nslots; i++) {
		struct memfs_dirent *de = d->slots[i].de;
		struct vfs_dirent vd;
		struct vfs_entry e;

		if (!de)
			continue;
		vd.name = de->name;
		vd.ino = de->inode->ino;
		vd.type = IFTODT(de->inode->type);
		vd.off = de->cookie;
		vd.entry = NULL;
		if (db->plus) {
			/* The reference is taken before the add, as lookup would. */
			memfs_entry(de->inode, &e);
			vd.entry = &e;
		}
		if (vfs_dir_add(db, &vd)) {
			if (db->plus) {
				/* Linked (nlink > 0 under ns_lock): cannot become unused. */
				uint64_t old = atomic_fetch_sub(&de->inode->nlookup, 1);

				assert(old > 0 && de->inode->nlink > 0);
				(void)old;
			}
			break;
		}
	}
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}
