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

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

int pt_fdcache_donate_locked(struct backend *be, struct pt_inode *inode, int fd)
{
	(void)be;
	if (!inode->handle)
		return fd; /* not a handle-mode inode: nothing to cache */
	return fdb_donate(&inode->fde, fd);
}

int pt_fdcache_drop_locked(struct backend *be, struct pt_inode *inode)
{
	(void)be;
	return fdb_drop(&inode->fde);
}

int pt_fd_get(struct backend *be, struct pt_inode *inode, int *fd)
{
	int nfd, tries = 0;

	(void)be;
	if (inode->pinned_fd >= 0) { /* immutable while the caller holds a ref */
		*fd = inode->pinned_fd;
		return 0;
	}
	nfd = fdb_get(&inode->fde);
	if (nfd >= 0) {
		*fd = nfd;
		return 0;
	}
	assert(inode->handle && inode->fs && inode->fs->mount_fd >= 0);
	PT_RETRY_OPEN(nfd, tries,
		      open_by_handle_at(inode->fs->mount_fd, inode->handle, O_PATH | O_CLOEXEC));
	if (nfd < 0)
		return -errno; /* ESTALE for a deleted object */
	*fd = fdb_install(&inode->fde, nfd);
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
	if (inode->handle) {
		/* One call, no fd of the cache needed; a handle never changes type. */
		PT_RETRY_OPEN(
		    fd, tries,
		    open_by_handle_at(inode->fs->mount_fd, inode->handle, flags | O_NOFOLLOW));
		return fd < 0 ? -errno : fd;
	}
	/* Pinned mode: reopen our own O_PATH fd through its magic link. */
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
