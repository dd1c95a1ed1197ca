/*
 * backends/passthrough/passthrough.c - a host directory as a backend: create,
 * destroy, names (lookup, forget, mknod, mkdir, symlink, unlink, rmdir,
 * rename, link, readlink) and the ops table.
 *
 * Never escaping the source: every host call is made *at() an inode's fd with
 * a single-component name, never following symlinks (openat2 with
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS where the kernel
 * has it, O_NOFOLLOW in any case). A symlink is itself an inode (O_PATH|
 * O_NOFOLLOW), so a lookup "through" it fails with ENOTDIR; ".." of the root
 * is the root, and ".." elsewhere is checked to still lie under the source.
 */
#include "backends/passthrough/passthrough.h"
#include "backends/passthrough/pt_int.h"
#include "server/log.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PT_DOTDOT_DEPTH 4096

static atomic_bool pt_force_pinned;
static atomic_bool pt_no_openat2;

void pt_debug_force_pinned(bool on)
{
	atomic_store(&pt_force_pinned, on);
}

int pt_check_name(const char *name)
{
	size_t n = strlen(name);

	/* The server checks this already; a backend reachable another way checks
	 * again. "." and ".." only mean something to lookup, which handles them
	 * itself; elsewhere ".." of the root fd would name the source's parent. */
	if (n == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* An O_PATH fd for name in dirfd, never following a symlink on the way. */
static int open_beneath(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd, tries = 0;

	if (!atomic_load_explicit(&pt_no_openat2, memory_order_relaxed)) {
		PT_RETRY_OPEN(fd, tries, (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how)));
		if (fd >= 0 || errno != ENOSYS)
			return fd < 0 ? -errno : fd;
		atomic_store(&pt_no_openat2, true);
	}
	PT_RETRY_OPEN(fd, tries, openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
	return fd < 0 ? -errno : fd;
}

static void fill_entry(uint64_t ino, uint32_t gen, const struct stat *st, struct vfs_entry *out)
{
	out->ino = ino;
	out->generation = gen; /* tells a reused derived number apart (pt_int.h) */
	out->attr = *st;
	out->attr.st_ino = ino;
}

/* Intern the object at fd (an O_PATH fd; consumed), found as name in dir (NULL,
 * NULL: not known), as an entry: +1 lookup. */
static int entry_from_fd(struct backend *be, int fd, struct pt_inode *dir, const char *name,
			 struct vfs_entry *out)
{
	struct stat st;
	uint64_t ino;
	uint32_t gen;
	int err;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = pt_inode_intern(be, fd, true, &st, dir, name, &ino, &gen);
	if (err)
		return err;
	fill_entry(ino, gen, &st, out);
	return 0;
}

int pt_lookup_at(struct backend *be, struct pt_held *dir, const char *name, struct vfs_entry *out)
{
	int fd = open_beneath(dir->fd, name);

	if (fd < 0)
		return fd;
	return entry_from_fd(be, fd, dir->inode, name, out);
}

static bool same_object(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * ".." of a directory other than the root: open it, then walk up until the
 * source root (it lies under the source) or the host's "/" (it does not: the
 * host moved the directory out; refuse rather than escape).
 */
static int lookup_dotdot(struct backend *be, int dirfd, struct vfs_entry *out)
{
	struct stat root_st = { .st_dev = be->root->dev, .st_ino = be->root->hino }, st, up_st;
	int fd, up, walk, err, tries = 0;

	PT_RETRY_OPEN(fd, tries,
		      openat(dirfd, "..", O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
	if (fd < 0)
		return -errno;
	PT_RETRY_OPEN(walk, tries, dup(fd));
	if (walk < 0) {
		err = -errno;
		goto out_close;
	}
	if (fstatat(walk, "", &st, AT_EMPTY_PATH) < 0) {
		err = -errno;
		goto out_close_walk;
	}
	for (int depth = 0; !same_object(&st, &root_st); depth++) {
		if (depth >= PT_DOTDOT_DEPTH) {
			err = -ELOOP;
			goto out_close_walk;
		}
		PT_RETRY_OPEN(up, tries,
			      openat(walk, "..", O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
		if (up < 0) {
			err = -errno;
			goto out_close_walk;
		}
		close(walk);
		walk = up;
		if (fstatat(walk, "", &up_st, AT_EMPTY_PATH) < 0) {
			err = -errno;
			goto out_close_walk;
		}
		if (same_object(&up_st, &st)) {
			vlog_once(VLOG_WARN,
				  "passthrough %s: a directory's parent is outside the "
				  "source; refusing \"..\"",
				  be->source);
			err = -EACCES;
			goto out_close_walk;
		}
		st = up_st;
	}
	close(walk);
	return entry_from_fd(be, fd, NULL, NULL, out); /* its name is not known */
out_close_walk:
	close(walk);
out_close:
	close(fd);
	return err;
}

int pt_hold(struct backend *be, uint64_t ino, struct pt_held *h)
{
	int err;

	h->inode = pt_inode_get(be, ino);
	if (!h->inode)
		return -ESTALE;
	err = pt_fd_get(be, h->inode, &h->fd);
	if (err) {
		pt_inode_put(be, h->inode);
		h->inode = NULL;
	}
	return err;
}

void pt_unhold(struct backend *be, struct pt_held *h)
{
	if (!h->inode)
		return;
	pt_fd_put(be, h->inode);
	pt_inode_put(be, h->inode);
	h->inode = NULL;
}

/* An entry for the inode h holds (+1 lookup). */
static int entry_of_held(struct backend *be, const struct pt_held *h, struct vfs_entry *out)
{
	struct stat st;

	if (fstatat(h->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	pt_inode_ref_lookup(be, h->inode);
	fill_entry(h->inode->ino, h->inode->gen, &st, out);
	return 0;
}

/*
 * "." of ino, of any type: the kernel decoding a file handle (backend.h). An
 * ino the kernel forgot is reopened by the handle we kept, and must come back
 * as the same number (else the object behind it is not the one we knew).
 */
static int lookup_dot(struct backend *be, uint64_t ino, struct vfs_entry *out)
{
	struct pt_held h;
	int err, fd;

	err = pt_hold(be, ino, &h);
	if (!err) {
		err = entry_of_held(be, &h, out);
		pt_unhold(be, &h);
		return err;
	}
	if (err != -ESTALE)
		return err;
	err = pt_inode_reopen_forgotten(be, ino, &fd);
	if (err)
		return err;
	err = entry_from_fd(be, fd, NULL, NULL, out); /* found by handle */
	if (!err && out->ino != ino) {
		pt_inode_forget(be, out->ino, 1);
		err = -ESTALE;
	}
	return err;
}

static int pt_lookup(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name, struct vfs_entry *out)
{
	bool dotdot = strcmp(name, "..") == 0;
	struct pt_held dir;
	int err;

	(void)ctx;
	if (strcmp(name, ".") == 0)
		return lookup_dot(be, parent, out);
	if (!dotdot) {
		err = pt_check_name(name);
		if (err)
			return err;
	}
	err = pt_hold(be, parent, &dir);
	if (err)
		return err;
	if (dir.inode->type != S_IFDIR) {
		err = -ENOTDIR;
	} else if (dotdot && dir.inode == be->root) {
		/* The root's ".." stays at the root: never above the source. */
		err = entry_of_held(be, &dir, out);
	} else if (dotdot) {
		err = lookup_dotdot(be, dir.fd, out);
	} else {
		err = pt_lookup_at(be, &dir, name, out);
	}
	pt_unhold(be, &dir);
	return err;
}

static void pt_forget(struct backend *be, uint64_t ino, uint64_t n)
{
	pt_inode_forget(be, ino, n);
}

static ssize_t pt_readlink(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
			   size_t size)
{
	struct pt_held h;
	ssize_t n;
	int err;

	(void)ctx;
	err = pt_hold(be, ino, &h);
	if (err)
		return err;
	if (h.inode->type != S_IFLNK)
		n = -EINVAL;
	else if ((n = readlinkat(h.fd, "", buf, size)) < 0)
		n = -errno;
	pt_unhold(be, &h);
	return n;
}

enum pt_make { PT_MKNOD, PT_MKDIR, PT_SYMLINK };

/* mknod, mkdir, symlink: create as the caller, then look the name up (+1 lookup). */
static int make_node(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name, enum pt_make kind, mode_t mode, dev_t rdev,
		     const char *target, struct vfs_entry *out)
{
	struct pt_cred cred;
	struct pt_held dir;
	bool masked;
	int err, rc;

	err = pt_check_name(name);
	if (err)
		return err;
	err = pt_hold(be, parent, &dir); /* every fd resolved before the fsuid switch */
	if (err)
		return err;
	err = pt_cred_enter(be, ctx, &cred);
	if (err)
		goto out_unhold;
	masked = kind != PT_SYMLINK && pt_umask_enter(ctx, &mode);
	switch (kind) {
	case PT_MKNOD:
		rc = mknodat(dir.fd, name, mode, rdev);
		break;
	case PT_MKDIR:
		rc = mkdirat(dir.fd, name, mode);
		break;
	default:
		rc = symlinkat(target, dir.fd, name);
		break;
	}
	err = rc < 0 ? -errno : 0;
	pt_umask_leave(masked);
	pt_cred_leave(be, &cred);
	if (!err)
		err = pt_lookup_at(be, &dir, name, out);
out_unhold:
	pt_unhold(be, &dir);
	return err;
}

static int pt_mknod(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		    mode_t mode, dev_t rdev, struct vfs_entry *out)
{
	if ((S_ISBLK(mode) || S_ISCHR(mode)) && !be->allow_devices)
		return -EPERM;
	if (S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	return make_node(be, ctx, parent, name, PT_MKNOD, mode, rdev, NULL, out);
}

static int pt_mkdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		    mode_t mode, struct vfs_entry *out)
{
	return make_node(be, ctx, parent, name, PT_MKDIR, mode, 0, NULL, out);
}

static int pt_symlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name, const char *target, struct vfs_entry *out)
{
	return make_node(be, ctx, parent, name, PT_SYMLINK, 0, 0, target, out);
}

static int remove_name(struct backend *be, uint64_t parent, const char *name, int flags)
{
	struct pt_held dir;
	int err;

	err = pt_check_name(name);
	if (err)
		return err;
	err = pt_hold(be, parent, &dir);
	if (err)
		return err;
	if (unlinkat(dir.fd, name, flags) < 0)
		err = -errno;
	pt_unhold(be, &dir);
	return err;
}

static int pt_unlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name)
{
	(void)ctx;
	return remove_name(be, parent, name, 0);
}

static int pt_rmdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name)
{
	(void)ctx;
	return remove_name(be, parent, name, AT_REMOVEDIR);
}

static int pt_rename(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name, uint64_t newparent, const char *newname, unsigned flags)
{
	struct pt_held from, to;
	int err;

	(void)ctx;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	if ((err = pt_check_name(name)) || (err = pt_check_name(newname)))
		return err;
	err = pt_hold(be, parent, &from);
	if (err)
		return err;
	err = pt_hold(be, newparent, &to);
	if (err)
		goto out_from;
	if (renameat2(from.fd, name, to.fd, newname, flags) < 0) {
		err = -errno;
	} else {
		/* Inodes reached by name follow the move (RENAME_EXCHANGE: both). */
		pt_inode_moved(be, to.inode, to.fd, newname);
		if (flags & RENAME_EXCHANGE)
			pt_inode_moved(be, from.inode, from.fd, name);
	}
	pt_unhold(be, &to);
out_from:
	pt_unhold(be, &from);
	return err;
}

static int pt_link(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t newparent,
		   const char *newname, struct vfs_entry *out)
{
	char path[PT_PROC_FD_LEN];
	struct pt_held src, dir;
	int err;

	(void)ctx;
	err = pt_check_name(newname);
	if (err)
		return err;
	err = pt_hold(be, ino, &src);
	if (err)
		return err;
	err = pt_hold(be, newparent, &dir);
	if (err)
		goto out_src;
	if (linkat(src.fd, "", dir.fd, newname, AT_EMPTY_PATH) < 0) {
		err = -errno;
		/* AT_EMPTY_PATH wants CAP_DAC_READ_SEARCH; the magic link does not. It
		 * names our own fd's object, so following it cannot leave the source. */
		if (err == -ENOENT || err == -EPERM) {
			pt_proc_path(path, src.fd);
			err = linkat(AT_FDCWD, path, dir.fd, newname, AT_SYMLINK_FOLLOW) < 0
				  ? -errno
				  : 0;
		}
	}
	if (!err)
		err = pt_lookup_at(be, &dir, newname, out);
	pt_unhold(be, &dir);
out_src:
	pt_unhold(be, &src);
	return err;
}

static size_t nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > (1u << 22))
		return 1u << 22;
	return (size_t)rl.rlim_cur;
}

static void pt_destroy(struct backend *be)
{
	if (!be)
		return;
	pt_inodes_fini(be); /* and this mount's fds in the shared cache */
	pt_cred_fini(be);
	for (int i = 0; i < PT_DIR_LOCKS; i++)
		pthread_mutex_destroy(&be->dir_locks[i]);
	pthread_mutex_destroy(&be->lock);
	free(be->fh_bits);
	free(be->source);
	free(be);
}

static int pt_create(const struct mount_config *cfg, struct backend **out, char *errbuf,
		     size_t errlen)
{
	struct backend *be;
	struct stat st;
	size_t hints;
	int fd, err;

	*out = NULL;
	if (!cfg->source) {
		snprintf(errbuf, errlen, "passthrough needs a source directory");
		return -EINVAL;
	}
	/* The configured path itself may contain symlinks: the admin chose it. */
	fd = open(cfg->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "source %s: %s", cfg->source, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	be = calloc(1, sizeof(*be));
	if (!be || !(be->source = strdup(cfg->source))) {
		free(be);
		close(fd);
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&be->lock, NULL);
	for (int i = 0; i < PT_DIR_LOCKS; i++)
		pthread_mutex_init(&be->dir_locks[i], NULL);
	be->readonly = cfg->readonly;
	be->allow_devices = cfg->allow_devices;
	be->as_root = geteuid() == 0;
	be->no_handles = atomic_load(&pt_force_pinned);
	be->next_ino = PT_INO_ALLOC_BASE;
	be->hints.prev = be->hints.next = &be->hints;

	/* The daemon-wide budget bounds the cache; fd_cache, if set, bounds this
	 * mount's share of it (fd_budget_init raises RLIMIT_NOFILE to its hard limit). */
	fdb_owner_init(&be->fdo, cfg->fd_cache);
	hints = 4 * (size_t)(cfg->fd_cache ? cfg->fd_cache : PT_DEFAULT_FD_CACHE);
	be->hint_max = hints > PT_MIN_HINTS ? hints : PT_MIN_HINTS;

	err = pt_cred_init(be);
	if (err) {
		close(fd);
		goto out_destroy;
	}
	err = pt_table_init(&be->by_ino);
	if (!err)
		err = pt_table_init(&be->by_key);
	if (err) {
		close(fd);
		goto out_destroy;
	}
	err = pt_inode_make_root(be, fd, &st); /* takes fd */
	if (err)
		goto out_destroy;
	be->handles = be->root->fs && be->root->fs->handles;
	be->fh_nbits = nofile_limit();
	be->fh_bits = calloc((be->fh_nbits + 63) / 64, sizeof(*be->fh_bits));
	if (!be->fh_bits) {
		err = -ENOMEM;
		goto out_destroy;
	}
	vlog(VLOG_INFO, "passthrough %s: inodes by %s, fd cache %zu (shared)", be->source,
	     be->handles ? "handles" : "names", fdb_owner_max(&be->fdo));
	*out = be;
	return 0;
out_destroy:
	snprintf(errbuf, errlen, "source %s: %s", cfg->source, strerror(-err));
	pt_destroy(be);
	return err;
}

void pt_debug_stats(struct backend *be, struct pt_stats *out)
{
	struct fdb_owner_stats cs;

	fdb_owner_stats(&be->fdo, &cs);
	pthread_mutex_lock(&be->lock);
	*out = (struct pt_stats){
		.inodes = be->ninodes,
		.hints = be->nhints,
		.buckets = be->by_ino.mask + 1 + be->by_key.mask + 1,
		.cached_fds = cs.cached,
		.cache_max = cs.max,
		.pinned_fds = be->npinned,
		.hits = cs.hits,
		.misses = cs.misses,
		.evictions = cs.evictions,
		.handles = be->handles,
	};
	for (struct pt_fs *fs = be->fs_list; fs; fs = fs->next)
		out->mount_fds += fs->pinned_mfd >= 0;
	pthread_mutex_unlock(&be->lock);
}

size_t pt_debug_open_fds(struct backend *be)
{
	struct pt_stats s;

	pt_debug_stats(be, &s);
	return s.cached_fds + s.pinned_fds + s.mount_fds;
}

void pt_debug_evict_all(struct backend *be)
{
	fdb_owner_evict_all(&be->fdo);
}

/*
 * The source directory was removed on the host: its root has no links left
 * (rmdir and rm -rf leave it so while we hold it). A directory renamed or
 * moved elsewhere keeps its links and stays served. vfs asks only after a
 * sign (vfs.c, "gone"), so the fstat costs nothing on the common paths.
 */
static bool pt_source_gone(struct backend *be)
{
	struct pt_held root;
	struct stat st;
	bool gone;
	int err = pt_hold(be, BACKEND_ROOT_INO, &root);

	if (err)
		return err == -ESTALE;
	gone = fstatat(root.fd, "", &st, AT_EMPTY_PATH) == 0 && st.st_nlink == 0;
	pt_unhold(be, &root);
	return gone;
}

const struct backend_ops passthrough_ops = {
	.type = "passthrough",
	.create = pt_create,
	.destroy = pt_destroy,
	.lookup = pt_lookup, /* +1 lookup on success */
	.forget = pt_forget,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.readlink = pt_readlink,
	.mknod = pt_mknod,     /* +1 lookup */
	.mkdir = pt_mkdir,     /* +1 lookup */
	.symlink = pt_symlink, /* +1 lookup */
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.rename = pt_rename,
	.link = pt_link, /* +1 lookup */
	.open = pt_open,
	.create_file = pt_create_file, /* +1 lookup and an open fh */
	.read = pt_read,
	.write = pt_write,
	.flush = pt_flush,
	.release = pt_release,
	.fsync = pt_fsync,
	.opendir = pt_opendir,
	.readdir = pt_readdir, /* plus mode: +1 lookup per entry placed */
	.releasedir = pt_releasedir,
	.fsyncdir = pt_fsyncdir,
	.statfs = pt_statfs,
	.access = pt_access,
	.setxattr = pt_setxattr,
	.getxattr = pt_getxattr,
	.listxattr = pt_listxattr,
	.removexattr = pt_removexattr,
	.fallocate = pt_fallocate,
	.lseek = pt_lseek,
	.copy_file_range = pt_copy_file_range,
	.source_gone = pt_source_gone,
};
