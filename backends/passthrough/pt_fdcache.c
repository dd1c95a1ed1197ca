/*
 * backends/passthrough/pt_fdcache.c - the O_PATH fds of inodes identified by
 * file handles, kept in the daemon's one shared fd cache (vfs/fd_budget.h).
 *
 * fd use must not grow with the number of inodes the kernel remembers: an
 * inode in handle mode holds no fd of its own; an op pins the cached fd while
 * it uses it (pt_fd_get/pt_fd_put) and a miss reopens it with
 * open_by_handle_at. Only unpinned fds are evicted, so the cache can pass its
 * bound by the fds ops in flight pin; it shrinks back as they finish. Every
 * open here that meets EMFILE/ENFILE first makes the cache give fds back and
 * retries (PT_RETRY_OPEN), so the daemon's own caching never costs a client
 * an EMFILE.
 */
#include "backends/passthrough/pt_int.h"
#include "server/log.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

int pt_fdcache_donate_locked(struct backend *be, struct pt_inode *inode, int fd)
{
	(void)be;
	if (inode->reach == PT_PINNED)
		return fd; /* it has its pinned fd */
	return fdb_donate(&inode->fde, fd);
}

int pt_fdcache_drop_locked(struct backend *be, struct pt_inode *inode)
{
	(void)be;
	return fdb_drop(&inode->fde);
}

/*
 * Open the source directory again with flags (O_PATH or O_RDONLY, with
 * O_DIRECTORY): through the root's cached fd when there is one (that follows
 * the directory even if its path has changed since), else by the configured
 * path as create opened it (symlinks on the way are the admin's choice),
 * checked to be the root still. An fd, or -errno (-ESTALE when gone).
 */
static int source_open(struct backend *be, int flags)
{
	char path[PT_PROC_FD_LEN];
	int fd, rfd, err, tries = 0;

	rfd = fdb_get(&be->root->fde);
	if (rfd >= 0) {
		pt_proc_path(path, rfd);
		PT_RETRY_OPEN(fd, tries, open(path, flags | O_CLOEXEC));
		err = fd < 0 ? -errno : 0;
		fdb_put(&be->root->fde);
	} else {
		PT_RETRY_OPEN(fd, tries, open(be->source, flags | O_CLOEXEC));
		err = fd < 0 ? -errno : 0;
	}
	if (err)
		return err == -ENOENT || err == -ENOTDIR ? -ESTALE : err;
	if (!pt_inode_is(be->root, fd)) {
		close(fd);
		vlog_once(VLOG_WARN,
			  "passthrough %s: the path no longer leads to the served directory",
			  be->source);
		return -ESTALE;
	}
	return fd;
}

/* Thread's depth of name_open calls: a parent chain made circular by host
 * renames (records are refreshed lazily) ends in ELOOP, not a stack overflow. */
static _Thread_local int walk_depth;

/* BY_NAME: reopen inode's O_PATH fd from its parent's by its name; an fd or -errno. */
static int name_open(struct backend *be, struct pt_inode *inode)
{
	char name[NAME_MAX + 1];
	struct pt_inode *parent;
	int pfd, fd = -1, err, tries = 0;

	if (inode == be->root)
		return source_open(be, O_PATH | O_DIRECTORY);
	pthread_mutex_lock(&be->lock);
	parent = inode->parent;
	if (parent) {
		parent->refs++; /* the inode's own reference may move by a rename */
		snprintf(name, sizeof(name), "%s", inode->name);
	}
	pthread_mutex_unlock(&be->lock);
	if (!parent)
		return -ESTALE;
	if (walk_depth >= PT_WALK_DEPTH) {
		err = -ELOOP;
	} else {
		walk_depth++;
		err = pt_fd_get(be, parent, &pfd);
		walk_depth--;
	}
	if (!err) {
		PT_RETRY_OPEN(fd, tries, openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
		err = fd < 0 ? -errno : 0;
		pt_fd_put(be, parent);
	}
	pt_inode_put(be, parent);
	if (err)
		return err == -ENOENT || err == -ENOTDIR ? -ESTALE : err;
	if (!pt_inode_is(inode, fd)) {
		close(fd); /* another object has the name now */
		return -ESTALE;
	}
	return fd;
}

/* fs's mount fd in *fd, pinned until mount_fd_put; 0 or -errno. */
static int mount_fd_get(struct backend *be, struct pt_fs *fs, int *fd)
{
	int nfd;

	if (!fs->by_source) {
		*fd = fs->pinned_mfd;
		return 0;
	}
	nfd = fdb_get(&fs->mfd);
	if (nfd < 0) {
		nfd = source_open(be, O_RDONLY | O_DIRECTORY);
		if (nfd < 0)
			return nfd;
		nfd = fdb_install(&fs->mfd, nfd);
	}
	*fd = nfd;
	return 0;
}

static void mount_fd_put(struct pt_fs *fs)
{
	if (fs->by_source)
		fdb_put(&fs->mfd);
}

int pt_handle_open(struct backend *be, struct pt_fs *fs, struct file_handle *h, int flags)
{
	int mfd, fd, err, tries = 0;

	assert(fs && fs->handles);
	err = mount_fd_get(be, fs, &mfd);
	if (err)
		return err;
	PT_RETRY_OPEN(fd, tries, open_by_handle_at(mfd, h, flags));
	err = fd < 0 ? -errno : fd; /* ESTALE for a deleted object */
	mount_fd_put(fs);
	return err;
}

/* open_by_handle_at of inode (handle mode) with flags: an fd or -errno. */
static int handle_open(struct backend *be, struct pt_inode *inode, int flags)
{
	assert(inode->reach == PT_BY_HANDLE);
	return pt_handle_open(be, inode->fs, inode->handle, flags);
}

int pt_fd_get(struct backend *be, struct pt_inode *inode, int *fd)
{
	int nfd;

	if (inode->pinned_fd >= 0) { /* immutable while the caller holds a ref */
		*fd = inode->pinned_fd;
		return 0;
	}
	nfd = fdb_get(&inode->fde);
	if (nfd < 0) {
		nfd = inode->reach == PT_BY_HANDLE ? handle_open(be, inode, O_PATH | O_CLOEXEC)
						   : name_open(be, inode);
		if (nfd < 0)
			return nfd;
		nfd = fdb_install(&inode->fde, nfd);
	}
	*fd = nfd;
	return 0;
}

void pt_fd_put(struct backend *be, struct pt_inode *inode)
{
	(void)be;
	if (inode->pinned_fd >= 0)
		return;
	fdb_put(&inode->fde);
}

int pt_inode_reopen(struct backend *be, struct pt_inode *inode, int flags)
{
	char path[PT_PROC_FD_LEN];
	int fd, pfd, err, tries = 0;

	flags |= O_CLOEXEC;
	if (inode->reach == PT_BY_HANDLE) {
		/* One call, no O_PATH fd needed; a handle never changes type. */
		return handle_open(be, inode, flags | O_NOFOLLOW);
	}
	/* Otherwise: reopen our own O_PATH fd through its magic link. */
	err = pt_fd_get(be, inode, &pfd);
	if (err)
		return err;
	pt_proc_path(path, pfd);
	PT_RETRY_OPEN(fd, tries, open(path, flags & ~O_NOFOLLOW));
	err = fd < 0 ? -errno : fd;
	pt_fd_put(be, inode);
	return err;
}

void pt_proc_path(char buf[PT_PROC_FD_LEN], int fd)
{
	snprintf(buf, PT_PROC_FD_LEN, "/proc/self/fd/%d", fd);
}
