/*
 * backends/passthrough/pt_fdcache.c - a bounded LRU cache of O_PATH fds for
 * inodes identified by file handles.
 *
 * fd use must not grow with the number of inodes the kernel remembers: an
 * inode in handle mode holds no fd of its own; an op pins the cached fd while
 * it uses it (pt_fd_get/pt_fd_put) and a miss reopens it with
 * open_by_handle_at. Only unpinned fds sit on be->lru and only they are
 * evicted, so ncached can pass cache_max by at most the number of ops in
 * flight; it shrinks back as they finish.
 */
#include "backends/passthrough/pt_int.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

static struct pt_inode *lru_inode(struct pt_list *e)
{
	return (struct pt_inode *)((char *)e - offsetof(struct pt_inode, link));
}

/* Evict the least recently used unpinned fd if over the bound; returns it or -1. */
static int evict_one_locked(struct backend *be)
{
	struct pt_inode *victim;
	int fd;

	if (be->ncached <= be->cache_max || be->lru.prev == &be->lru)
		return -1;
	victim = lru_inode(be->lru.prev);
	assert(victim->cfd >= 0 && victim->pins == 0);
	pt_list_del(&victim->link);
	fd = victim->cfd;
	victim->cfd = -1;
	be->ncached--;
	be->evictions++;
	return fd;
}

int pt_fdcache_donate_locked(struct backend *be, struct pt_inode *inode, int fd)
{
	if (fd < 0)
		return -1;
	if (inode->cfd >= 0 || !inode->handle)
		return fd; /* already cached, or not a handle-mode inode */
	inode->cfd = fd;
	inode->pins = 0;
	pt_list_add(&be->lru, &inode->link);
	be->ncached++;
	return evict_one_locked(be);
}

int pt_fdcache_drop_locked(struct backend *be, struct pt_inode *inode)
{
	int fd = inode->cfd;

	if (fd < 0)
		return -1;
	assert(inode->pins == 0);
	pt_list_del(&inode->link);
	inode->cfd = -1;
	be->ncached--;
	return fd;
}

int pt_fd_get(struct backend *be, struct pt_inode *inode, int *fd)
{
	int nfd, victim = -1;

	if (inode->pinned_fd >= 0) { /* immutable while the caller holds a ref */
		*fd = inode->pinned_fd;
		return 0;
	}
	pthread_mutex_lock(&be->lock);
	if (inode->cfd >= 0) {
		if (inode->pins++ == 0)
			pt_list_del(&inode->link);
		be->hits++;
		*fd = inode->cfd;
		pthread_mutex_unlock(&be->lock);
		return 0;
	}
	be->misses++;
	pthread_mutex_unlock(&be->lock);

	assert(inode->handle && inode->fs && inode->fs->mount_fd >= 0);
	nfd = open_by_handle_at(inode->fs->mount_fd, inode->handle, O_PATH | O_CLOEXEC);
	if (nfd < 0)
		return -errno; /* ESTALE for a deleted object; EMFILE/ENFILE unchanged */

	pthread_mutex_lock(&be->lock);
	if (inode->cfd >= 0) {
		/* Another thread reopened it meanwhile: use theirs. */
		if (inode->pins++ == 0)
			pt_list_del(&inode->link);
		victim = nfd;
	} else {
		inode->cfd = nfd;
		inode->pins = 1;
		be->ncached++;
		victim = evict_one_locked(be);
	}
	*fd = inode->cfd;
	pthread_mutex_unlock(&be->lock);
	if (victim >= 0)
		close(victim);
	return 0;
}

void pt_fd_put(struct backend *be, struct pt_inode *inode)
{
	int victim = -1;

	if (inode->pinned_fd >= 0)
		return;
	pthread_mutex_lock(&be->lock);
	assert(inode->cfd >= 0 && inode->pins > 0);
	if (--inode->pins == 0) {
		pt_list_add(&be->lru, &inode->link);
		victim = evict_one_locked(be);
	}
	pthread_mutex_unlock(&be->lock);
	if (victim >= 0)
		close(victim);
}

int pt_inode_reopen(struct backend *be, struct pt_inode *inode, int flags)
{
	char path[PT_PROC_FD_LEN];
	int fd, pfd, err;

	flags |= O_CLOEXEC;
	if (inode->handle) {
		/* One call, no fd of the cache needed; a handle never changes type. */
		fd = open_by_handle_at(inode->fs->mount_fd, inode->handle, flags | O_NOFOLLOW);
		return fd < 0 ? -errno : fd;
	}
	/* Pinned mode: reopen our own O_PATH fd through its magic link. */
	err = pt_fd_get(be, inode, &pfd);
	if (err)
		return err;
	pt_proc_path(path, pfd);
	fd = open(path, flags & ~O_NOFOLLOW);
	err = fd < 0 ? -errno : fd;
	pt_fd_put(be, inode);
	return err;
}

void pt_proc_path(char buf[PT_PROC_FD_LEN], int fd)
{
	snprintf(buf, PT_PROC_FD_LEN, "/proc/self/fd/%d", fd);
}
