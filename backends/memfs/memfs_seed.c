/*
 * backends/memfs/memfs_seed.c - copy a host directory into a new memfs.
 *
 * Runs once, inside create(), before the fs is visible to anyone, so it takes
 * no locks (the "ns_lock write" rule holds trivially: nothing else runs).
 * Copies regular files (all-zero pages are left as holes), directories,
 * symlinks, fifos, sockets and device nodes, with mode, owner, atime, mtime
 * and ctime to the nanosecond, and xattrs in user.*, trusted.* and security.*
 * (others, such as POSIX ACLs, are skipped). Hard links among non-directories
 * are kept: a host (st_dev, st_ino) seen twice becomes one memfs inode.
 * Host symlinks are copied, never followed. Limits apply: a seed larger than
 * size_limit or inode_limit fails with -ENOSPC. Every failure names the path.
 */
#include "memfs_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SEED_CHUNK (64 * 1024)

struct seed_link {
	dev_t dev;
	ino_t ino;
	struct memfs_inode *node;
};

struct seed {
	struct memfs *fs;
	char *err;
	size_t errlen;
	struct seed_link *links; /* host inodes with st_nlink > 1 already copied */
	size_t nlinks, cap;
	char *buf; /* SEED_CHUNK bytes */
};

static int seed_fail(struct seed *sd, const char *path, const char *what, int ret)
{
	snprintf(sd->err, sd->errlen, "seed %s: %s: %s", path, what, strerror(-ret));
	return ret;
}

static bool xattr_copied(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0 ||
	       strncmp(name, "security.", 9) == 0;
}

static int seed_xattrs(struct seed *sd, const char *path, struct memfs_inode *node)
{
	ssize_t len = llistxattr(path, NULL, 0);
	char *names, *value = NULL;
	int ret = 0;

	if (len < 0)
		return errno == ENOTSUP ? 0 : seed_fail(sd, path, "listxattr", -errno);
	if (len == 0)
		return 0;
	names = malloc((size_t)len);
	value = malloc(MEMFS_XATTR_SIZE_MAX);
	if (!names || !value) {
		ret = seed_fail(sd, path, "xattrs", -ENOMEM);
		goto out;
	}
	len = llistxattr(path, names, (size_t)len);
	if (len < 0) {
		ret = seed_fail(sd, path, "listxattr", -errno);
		goto out;
	}
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		ssize_t vlen;

		if (!xattr_copied(n))
			continue;
		vlen = lgetxattr(path, n, value, MEMFS_XATTR_SIZE_MAX);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue; /* removed meanwhile */
			ret = seed_fail(sd, path, n, -errno);
			goto out;
		}
		ret = memfs_xattr_set_locked(node, n, value, (size_t)vlen, 0);
		if (ret) {
			ret = seed_fail(sd, path, n, ret);
			goto out;
		}
	}
out:
	free(value);
	free(names);
	return ret;
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int seed_data(struct seed *sd, const char *path, struct memfs_inode *node, off_t size)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	off_t off = 0;
	int ret = 0;

	if (fd < 0)
		return seed_fail(sd, path, "open", -errno);
	for (;;) {
		ssize_t n = pread(fd, sd->buf, SEED_CHUNK, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = seed_fail(sd, path, "read", -errno);
			goto out;
		}
		if (n == 0)
			break;
		/* Page by page, leaving all-zero pages as holes. */
		for (ssize_t at = 0; at < n; at += (ssize_t)MEMFS_PAGE_SIZE) {
			size_t len =
			    (size_t)(n - at) < MEMFS_PAGE_SIZE ? (size_t)(n - at) : MEMFS_PAGE_SIZE;
			ssize_t w;

			if (all_zero(sd->buf + at, len))
				continue;
			w = memfs_write_locked(sd->fs, node, sd->buf + at, len, off + at);
			if (w < 0) {
				ret = seed_fail(sd, path, "copy", (int)w);
				goto out;
			}
		}
		off += n;
	}
	if (off < size)
		off = size; /* shrank while we read: the stat size wins, as zeros */
	if (node->size < off)
		node->size = off;
out:
	close(fd);
	return ret;
}

/* Mode, owner, times and xattrs; done last so adding children cannot touch them. */
static int seed_attrs(struct seed *sd, const char *path, struct memfs_inode *node,
		      const struct stat *st, bool mode, bool owner)
{
	if (mode)
		node->mode = node->type | (st->st_mode & 07777);
	if (owner) {
		node->uid = st->st_uid;
		node->gid = st->st_gid;
	}
	node->atime = st->st_atim;
	node->mtime = st->st_mtim;
	node->ctime = st->st_ctim;
	return seed_xattrs(sd, path, node);
}

static int seed_link_add(struct seed *sd, const char *path, const struct stat *st,
			 struct memfs_inode *node)
{
	if (sd->nlinks == sd->cap) {
		size_t cap = sd->cap ? sd->cap * 2 : 16;
		struct seed_link *l = realloc(sd->links, cap * sizeof(*l));

		if (!l)
			return seed_fail(sd, path, "hard links", -ENOMEM);
		sd->links = l;
		sd->cap = cap;
	}
	sd->links[sd->nlinks++] = (struct seed_link){ st->st_dev, st->st_ino, node };
	return 0;
}

static struct memfs_inode *seed_link_find(struct seed *sd, const struct stat *st)
{
	for (size_t i = 0; i < sd->nlinks; i++)
		if (sd->links[i].dev == st->st_dev && sd->links[i].ino == st->st_ino)
			return sd->links[i].node;
	return NULL;
}

static int seed_dir(struct seed *sd, const char *path, struct memfs_inode *dir);

static int seed_entry(struct seed *sd, const char *path, const char *name, struct memfs_inode *dir)
{
	struct memfs_inode *node;
	struct stat st;
	int ret;

	if (lstat(path, &st) < 0)
		return seed_fail(sd, path, "lstat", -errno);
	if (strlen(name) > NAME_MAX)
		return seed_fail(sd, path, "name", -ENAMETOOLONG);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		node = seed_link_find(sd, &st);
		if (node) {
			ret = memfs_dir_link_new(sd->fs, dir, name, node);
			return ret ? seed_fail(sd, path, "link", ret) : 0;
		}
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		return seed_fail(sd, path, "file type", -EINVAL);
	}
	ret = memfs_inode_new(sd->fs, st.st_mode, st.st_uid, st.st_gid,
			      S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? st.st_rdev : 0, &node);
	if (ret)
		return seed_fail(sd, path, "create", ret);
	ret = memfs_dir_link_new(sd->fs, dir, name, node);
	if (ret) {
		/* Not linked: reap it now, the destroy walk would see nlink 0 too. */
		struct memfs_inode *dead = NULL;

		memfs_inode_reap(sd->fs, node, &dead);
		memfs_free_dead(sd->fs, dead);
		return seed_fail(sd, path, "create", ret);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[MEMFS_SYMLINK_MAX + 2];
		ssize_t n = readlink(path, target, sizeof(target));

		if (n < 0)
			return seed_fail(sd, path, "readlink", -errno);
		if (n == 0 || n > MEMFS_SYMLINK_MAX)
			return seed_fail(sd, path, "readlink", -ENAMETOOLONG);
		node->target = strndup(target, (size_t)n);
		if (!node->target)
			return seed_fail(sd, path, "readlink", -ENOMEM);
		node->size = n;
	} else if (S_ISREG(st.st_mode)) {
		ret = seed_data(sd, path, node, st.st_size);
		if (ret)
			return ret;
	} else if (S_ISDIR(st.st_mode)) {
		ret = seed_dir(sd, path, node);
		if (ret)
			return ret;
	}
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		ret = seed_link_add(sd, path, &st, node);
		if (ret)
			return ret;
	}
	return seed_attrs(sd, path, node, &st, true, true);
}

static int seed_dir(struct seed *sd, const char *path, struct memfs_inode *dir)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char *child = NULL;
	int ret = 0;

	if (!d)
		return seed_fail(sd, path, "opendir", -errno);
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno)
				ret = seed_fail(sd, path, "readdir", -errno);
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (asprintf(&child, "%s/%s", path, e->d_name) < 0) {
			child = NULL;
			ret = seed_fail(sd, path, "path", -ENOMEM);
			break;
		}
		ret = seed_entry(sd, child, e->d_name, dir);
		free(child);
		child = NULL;
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

int memfs_seed(struct memfs *fs, const char *src, bool keep_root_mode, bool keep_root_owner,
	       char *err, size_t errlen)
{
	struct seed sd = { .fs = fs, .err = err, .errlen = errlen };
	struct stat st;
	int ret;

	if (stat(src, &st) < 0)
		return seed_fail(&sd, src, "stat", -errno);
	if (!S_ISDIR(st.st_mode))
		return seed_fail(&sd, src, "source", -ENOTDIR);
	sd.buf = malloc(SEED_CHUNK);
	if (!sd.buf)
		return seed_fail(&sd, src, "seed", -ENOMEM);
	ret = seed_dir(&sd, src, fs->root);
	if (!ret)
		ret = seed_attrs(&sd, src, fs->root, &st, !keep_root_mode, !keep_root_owner);
	free(sd.links);
	free(sd.buf);
	return ret;
}
