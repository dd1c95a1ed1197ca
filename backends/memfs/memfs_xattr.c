/*
 * backends/memfs/memfs_xattr.c - extended attributes of memfs inodes.
 *
 * Namespaces user.*, trusted.* and security.* are kept, and the two POSIX
 * ACLs (memfs_acl.c: setting one changes the mode); any other name gives
 * -EOPNOTSUPP. As on tmpfs,
 * user.* is only for regular files and directories (-EPERM elsewhere), and
 * trusted.* is invisible to non-root callers. A per-inode list: inodes carry
 * few attributes. Values are not charged to size_limit.
 */
#include "memfs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

void memfs_xattrs_free(struct memfs_xattr *x)
{
	while (x) {
		struct memfs_xattr *next = x->next;

		free(x->value);
		free(x);
		x = next;
	}
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Name checks common to all four ops. */
static int xattr_check(const struct memfs_inode *node, const struct op_ctx *ctx, const char *name,
		       bool modify)
{
	size_t len = strlen(name);
	bool is_default;

	if (len == 0 || len > MEMFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (memfs_acl_name(name, &is_default))
		return 0;
	if (has_prefix(name, "user.")) {
		if (!S_ISREG(node->type) && !S_ISDIR(node->type))
			return modify ? -EPERM : -ENODATA;
	} else if (has_prefix(name, "trusted.")) {
		if (ctx && ctx->uid != 0)
			return modify ? -EPERM : -ENODATA;
	} else if (!has_prefix(name, "security.")) {
		return -EOPNOTSUPP;
	}
	/* the bare prefix is not a name */
	if (!strchr(name, '.')[1])
		return -EINVAL;
	return 0;
}

struct memfs_xattr **memfs_xattr_find(struct memfs_inode *node, const char *name)
{
	struct memfs_xattr **pp = &node->xattrs;

	while (*pp && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

int memfs_xattr_set_locked(struct memfs_inode *node, const char *name, const void *value,
			   size_t size, int flags)
{
	struct memfs_xattr **pp = memfs_xattr_find(node, name), *x;
	char *copy = NULL;

	if (size > MEMFS_XATTR_SIZE_MAX)
		return -E2BIG;
	if ((flags & XATTR_CREATE) && *pp)
		return -EEXIST;
	if ((flags & XATTR_REPLACE) && !*pp)
		return -ENODATA;
	if (size) {
		copy = malloc(size);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, value, size);
	}
	if (*pp) {
		x = *pp;
		free(x->value);
	} else {
		size_t len = strlen(name);

		x = calloc(1, sizeof(*x) + len + 1);
		if (!x) {
			free(copy);
			return -ENOMEM;
		}
		memcpy(x->name, name, len + 1);
		x->next = node->xattrs;
		node->xattrs = x;
	}
	x->value = copy;
	x->size = size;
	return 0;
}

bool memfs_xattr_drop_locked(struct memfs_inode *node, const char *name)
{
	struct memfs_xattr **pp = memfs_xattr_find(node, name), *x = *pp;

	if (!x)
		return false;
	*pp = x->next;
	free(x->value);
	free(x);
	return true;
}

/* Find ino and lock it for the op: ns_lock read, inode lock (write if modify). */
static int xattr_begin(struct memfs *fs, uint64_t ino, bool modify, struct memfs_inode **out)
{
	struct memfs_inode *node;

	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (!node) {
		pthread_rwlock_unlock(&fs->ns_lock);
		return -ESTALE;
	}
	if (modify)
		pthread_rwlock_wrlock(&node->lock);
	else
		pthread_rwlock_rdlock(&node->lock);
	*out = node;
	return 0;
}

static void xattr_end(struct memfs *fs, struct memfs_inode *node)
{
	pthread_rwlock_unlock(&node->lock);
	pthread_rwlock_unlock(&fs->ns_lock);
}

int memfs_setxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		   const void *value, size_t size, int flags)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	bool is_default;
	int ret;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE | VFS_XATTR_KILL_SGID))
		return -EINVAL;
	ret = xattr_begin(fs, ino, true, &node);
	if (ret)
		return ret;
	ret = xattr_check(node, ctx, name, true);
	if (!ret && has_prefix(name, "user.") && ctx->uid != 0 && ctx->uid != node->uid &&
	    (node->mode & S_ISVTX) && S_ISDIR(node->type))
		ret = -EPERM; /* sticky dirs: only the owner sets user.* (as the kernel) */
	if (!ret && memfs_acl_name(name, &is_default))
		ret = memfs_acl_set_locked(node, ctx, name, value, size, flags);
	else if (!ret)
		ret = memfs_xattr_set_locked(node, name, value, size,
					     flags & (XATTR_CREATE | XATTR_REPLACE));
	if (!ret)
		memfs_now(&node->ctime);
	xattr_end(fs, node);
	return ret;
}

ssize_t memfs_getxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		       void *buf, size_t size)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	struct memfs_xattr *x;
	ssize_t ret;

	ret = xattr_begin(fs, ino, false, &node);
	if (ret)
		return ret;
	ret = xattr_check(node, ctx, name, false);
	if (ret)
		goto out;
	x = *memfs_xattr_find(node, name);
	if (!x)
		ret = -ENODATA;
	else if (size == 0)
		ret = (ssize_t)x->size; /* the size probe */
	else if (size < x->size)
		ret = -ERANGE;
	else {
		if (x->size)
			memcpy(buf, x->value, x->size);
		ret = (ssize_t)x->size;
	}
out:
	xattr_end(fs, node);
	return ret;
}

ssize_t memfs_listxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
			size_t size)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	size_t need = 0;
	ssize_t ret;

	ret = xattr_begin(fs, ino, false, &node);
	if (ret)
		return ret;
	for (struct memfs_xattr *x = node->xattrs; x; x = x->next) {
		size_t len = strlen(x->name) + 1;

		if (has_prefix(x->name, "trusted.") && ctx->uid != 0)
			continue;
		if (size && need + len <= size)
			memcpy(buf + need, x->name, len);
		need += len;
	}
	if (size && need > size)
		ret = -ERANGE;
	else
		ret = (ssize_t)need;
	xattr_end(fs, node);
	return ret;
}

int memfs_removexattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	int ret;

	ret = xattr_begin(fs, ino, true, &node);
	if (ret)
		return ret;
	ret = xattr_check(node, ctx, name, true);
	if (ret)
		goto out;
	if (!memfs_xattr_drop_locked(node, name)) {
		ret = -ENODATA;
		goto out;
	}
	memfs_now(&node->ctime);
out:
	xattr_end(fs, node);
	return ret;
}
