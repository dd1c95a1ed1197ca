/*
 * backends/passthrough/pt_attr.c - attributes: getattr, setattr, statfs,
 * access and extended attributes.
 *
 * Most calls work on an inode's O_PATH fd with AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW.
 * Calls that refuse O_PATH fds (chmod, xattrs) go through /proc/self/fd/N: a
 * magic link to the daemon's own fd, whose object is fixed; the walk ends on
 * that object (a symlink included) and never follows anything further.
 */
#include "backends/passthrough/pt_int.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif

/*
 * The mount root's attributes when no fd can be had (every fd of the daemon is
 * an open file of some client, the cache has given all of its back): the
 * root is the one inode with a path, the configured source, so stat it by
 * path and accept it only if it is still the same directory. A mount root
 * that answers keeps `ls`, `cd` and `df` working while clients hold every fd.
 */
static int root_stat_by_path(struct backend *be, struct stat *out)
{
	if (stat(be->source, out) < 0)
		return -errno;
	if (out->st_dev != be->root->dev || out->st_ino != be->root->hino)
		return -ESTALE;
	out->st_ino = be->root->ino;
	return 0;
}

int pt_getattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, bool has_fh, uint64_t fh,
	       struct stat *out)
{
	struct pt_held h;
	int fd, err;

	(void)ctx;
	if (has_fh) {
		err = pt_fh_fd(be, fh, &fd);
		if (err)
			return err;
		if (fstat(fd, out) < 0)
			return -errno;
		out->st_ino = ino;
		return 0;
	}
	err = pt_hold(be, ino, &h);
	if ((err == -EMFILE || err == -ENFILE) && be->root && ino == be->root->ino)
		return root_stat_by_path(be, out);
	if (err)
		return err;
	if (fstatat(h.fd, "", out, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	else
		out->st_ino = ino;
	pt_unhold(be, &h);
	return err;
}

static int set_mode(struct pt_held *h, int fhfd, mode_t mode)
{
	char path[PT_PROC_FD_LEN];

	if (fhfd >= 0)
		return fchmod(fhfd, mode) < 0 ? -errno : 0;
	if (h->inode->type == S_IFLNK)
		return -EOPNOTSUPP; /* Linux symlinks have no mode of their own */
	pt_proc_path(path, h->fd);
	return chmod(path, mode) < 0 ? -errno : 0;
}

static int set_size(struct backend *be, struct pt_held *h, int fhfd, off_t size)
{
	int fd, err = 0;

	if (fhfd >= 0)
		return ftruncate(fhfd, size) < 0 ? -errno : 0;
	if (h->inode->type == S_IFDIR)
		return -EISDIR;
	if (h->inode->type != S_IFREG)
		return -EINVAL; /* never open a symlink, fifo or device to truncate it */
	fd = pt_inode_reopen(be, h->inode, O_WRONLY);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, size) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int set_times(struct pt_held *h, int fhfd, const struct vfs_setattr *in)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (in->valid & VFS_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (in->valid & VFS_SET_ATIME)
		ts[0] = in->atime;
	if (in->valid & VFS_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (in->valid & VFS_SET_MTIME)
		ts[1] = in->mtime;
	if (fhfd >= 0)
		return futimens(fhfd, ts) < 0 ? -errno : 0;
	return utimensat(h->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* FATTR_KILL_SUIDGID: a root daemon's truncate or chown keeps the bits, so drop
 * them: setuid, and setgid with group execute or when the caller is outside
 * the file's group (sgid_too, VFS_SET_KILL_SGID). */
static int kill_suidgid(struct pt_held *h, int fhfd, bool sgid_too)
{
	struct stat st;
	mode_t m, kill;

	if (fstatat(h->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	m = st.st_mode & 07777;
	kill = S_ISUID | (((m & S_IXGRP) || sgid_too) ? S_ISGID : 0);
	if (!S_ISREG(st.st_mode) || !(m & kill))
		return 0;
	/* setgid without group execute, for a group member, marks mandatory
	 * locking, not "run as group": it stays */
	return set_mode(h, fhfd, m & ~kill);
}

int pt_setattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
	       const struct vfs_setattr *in, struct stat *out)
{
	uint32_t v = in->valid;
	struct pt_held h;
	int fhfd = -1, err;

	(void)ctx;
	if (in->has_fh) {
		err = pt_fh_fd(be, in->fh, &fhfd);
		if (err)
			return err;
	}
	err = pt_hold(be, ino, &h);
	if (err)
		return err;
	/* The order of chmod, chown, truncate, utimes as a local setattr would apply them. */
	if (v & VFS_SET_MODE)
		err = set_mode(&h, fhfd, in->mode);
	if (!err && (v & (VFS_SET_UID | VFS_SET_GID))) {
		uid_t uid = (v & VFS_SET_UID) ? in->uid : (uid_t)-1;
		gid_t gid = (v & VFS_SET_GID) ? in->gid : (gid_t)-1;

		if (fchownat(h.fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
	}
	if (!err && (v & VFS_SET_SIZE))
		err = set_size(be, &h, fhfd, in->size);
	if (!err && (v & VFS_SET_KILL_SUIDGID) && !(v & VFS_SET_MODE))
		err = kill_suidgid(&h, fhfd, (v & VFS_SET_KILL_SGID) != 0);
	if (!err && (v & (VFS_SET_ATIME | VFS_SET_MTIME | VFS_SET_ATIME_NOW | VFS_SET_MTIME_NOW)))
		err = set_times(&h, fhfd, in);
	/* VFS_SET_CTIME: the host sets ctime itself on every change above. */
	if (!err && fstatat(h.fd, "", out, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	if (!err)
		out->st_ino = ino;
	pt_unhold(be, &h);
	return err;
}

int pt_statfs(struct backend *be, uint64_t ino, struct statvfs *out)
{
	struct pt_held h;
	int err;

	err = pt_hold(be, ino, &h);
	if (err)
		return err;
	if (fstatvfs(h.fd, out) < 0)
		err = -errno;
	pt_unhold(be, &h);
	return err;
}

/*
 * With default_permissions the kernel checks before asking; without it, ask
 * the host as the caller: faccessat2(AT_EACCESS) checks with the fsuid/fsgid
 * pt_cred_enter set (ACLs included). The fd is resolved first.
 */
int pt_access(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int mask)
{
	struct pt_cred cred;
	struct pt_held h;
	int err;

	if ((mask & W_OK) && be->readonly)
		return -EROFS;
	err = pt_hold(be, ino, &h);
	if (err)
		return err;
	err = pt_cred_enter(be, ctx, &cred);
	if (!err) {
		if (syscall(SYS_faccessat2, h.fd, "", mask, AT_EMPTY_PATH | AT_EACCESS) < 0)
			err = -errno;
		if (err == -ENOSYS) { /* before 5.8: the magic link, same check */
			char path[PT_PROC_FD_LEN];

			pt_proc_path(path, h.fd);
			err = faccessat(AT_FDCWD, path, mask, AT_EACCESS) < 0 ? -errno : 0;
		}
		pt_cred_leave(be, &cred);
	}
	pt_unhold(be, &h);
	return err;
}

/*
 * As root the host keeps setgid when an access ACL is set; a caller outside
 * the file's group would lose it (VFS_XATTR_KILL_SGID, from the kernel), as
 * with chmod. The host sets the mode from the ACL itself.
 */
int pt_setxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		const void *value, size_t size, int flags)
{
	char path[PT_PROC_FD_LEN];
	struct pt_held h;
	struct stat st;
	int err;

	(void)ctx;
	err = pt_hold(be, ino, &h);
	if (err)
		return err;
	pt_proc_path(path, h.fd);
	if (setxattr(path, name, value, size, flags & ~VFS_XATTR_KILL_SGID) < 0)
		err = -errno;
	if (!err && (flags & VFS_XATTR_KILL_SGID) && strcmp(name, "system.posix_acl_access") == 0) {
		if (fstatat(h.fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
		else if (st.st_mode & S_ISGID)
			err = set_mode(&h, -1, st.st_mode & 07777 & ~(mode_t)S_ISGID);
	}
	pt_unhold(be, &h);
	return err;
}

ssize_t pt_getxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		    void *buf, size_t size)
{
	char path[PT_PROC_FD_LEN];
	struct pt_held h;
	ssize_t n;
	int err;

	(void)ctx;
	err = pt_hold(be, ino, &h);
	if (err)
		return err;
	pt_proc_path(path, h.fd);
	/* size 0 asks for the size; too small a buffer gives -ERANGE. */
	n = getxattr(path, name, size ? buf : NULL, size);
	if (n < 0)
		n = -errno;
	pt_unhold(be, &h);
	return n;
}

ssize_t pt_listxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
		     size_t size)
{
	char path[PT_PROC_FD_LEN];
	struct pt_held h;
	ssize_t n;
	int err;

	(void)ctx;
	err = pt_hold(be, ino, &h);
	if (err)
		return err;
	pt_proc_path(path, h.fd);
	n = listxattr(path, size ? buf : NULL, size);
	if (n < 0)
		n = -errno;
	pt_unhold(be, &h);
	return n;
}

int pt_removexattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name)
{
	char path[PT_PROC_FD_LEN];
	struct pt_held h;
	int err;

	(void)ctx;
	err = pt_hold(be, ino, &h);
	if (err)
		return err;
	pt_proc_path(path, h.fd);
	if (removexattr(path, name) < 0)
		err = -errno;
	pt_unhold(be, &h);
	return err;
}
