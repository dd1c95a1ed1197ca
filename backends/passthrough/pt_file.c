/*
 * backends/passthrough/pt_file.c - open files and directories: open, create,
 * read, write, flush, release, fsync, fallocate, lseek, copy_file_range,
 * opendir, readdir(plus), releasedir, fsyncdir.
 *
 * fh is the real host fd of the open file. The kernel only hands back values
 * we gave it, but a forged or stale fh must not reach some other fd of the
 * daemon (/dev/fuse, another backend's file): be->fh_bits marks the fds this
 * backend issued and every use is checked against it.
 */
#include "backends/passthrough/pt_int.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PT_DENTS_BUF 16384

/*
 * fh 0 means "no open handle": a kernel that stopped sending OPENDIR (see
 * server/dispatch.c, no_opendir) opens every directory with fh 0 and passes
 * that in READDIR/FSYNCDIR. So fd 0 is never issued as a handle: should the
 * daemon run with stdin closed and an open land on fd 0, it is moved up.
 */
int pt_fh_add(struct backend *be, int *fdp)
{
	int fd = *fdp;
	size_t i;

	if (fd == 0) {
		int nfd = fcntl(0, F_DUPFD_CLOEXEC, 1);

		close(0);
		if (nfd < 0)
			return -EMFILE;
		fd = *fdp = nfd;
	}
	i = (size_t)fd;
	if (fd < 0 || i >= be->fh_nbits) {
		if (fd >= 0)
			close(fd);
		return -EMFILE;
	}
	assert(fd > 0);
	atomic_fetch_or(&be->fh_bits[i / 64], UINT64_C(1) << (i % 64));
	fdb_charge(1); /* a client's fd now: the shared cache makes room for it */
	return 0;
}

int pt_fh_fd(struct backend *be, uint64_t fh, int *fd)
{
	if (fh == 0 || fh >= be->fh_nbits || fh > INT_MAX)
		return -EBADF; /* 0 is "no handle", never one we issued */
	if (!(atomic_load(&be->fh_bits[fh / 64]) & (UINT64_C(1) << (fh % 64))))
		return -EBADF;
	*fd = (int)fh;
	return 0;
}

void pt_fh_del(struct backend *be, int fd)
{
	size_t i = (size_t)fd;

	atomic_fetch_and(&be->fh_bits[i / 64], ~(UINT64_C(1) << (i % 64)));
	fdb_charge(-1);
}

/* fs: the file's filesystem (pt_fs.noflush), NULL when not known yet: keep FLUSH. */
static void fill_open(const struct pt_fs *fs, int fd, struct vfs_open *out)
{
	*out = (struct vfs_open){ .fh = (uint64_t)fd, .backing_fd = fd };
	out->noflush = fs && fs->noflush;
}

/* Whether an existing inode of this type may be opened for I/O with flags. */
static int check_open_type(const struct backend *be, mode_t type, int flags)
{
	int acc = flags & O_ACCMODE;

	if (type == S_IFLNK)
		return -ELOOP;
	if (type == S_IFDIR)
		return acc == O_RDONLY ? 0 : -EISDIR;
	if (type != S_IFREG)
		return -EACCES; /* the kernel opens fifos, sockets and devices itself */
	if (be->readonly && (acc != O_RDONLY || (flags & O_TRUNC)))
		return -EROFS;
	return 0;
}

/*
 * True when the file has the mtime and size it had at its last open, so the
 * kernel's cached pages are still right (FOPEN_KEEP_CACHE). Records the
 * current ones for the next open. A change made outside the mount within one
 * second of the last open can hide behind an equal coarse mtime; the kernel
 * also drops pages itself when it sees mtime or size move (AUTO_INVAL_DATA).
 */
static bool unchanged_since_last_open(struct backend *be, struct pt_inode *inode, int fd)
{
	struct stat st;
	bool same;

	if (fstat(fd, &st) < 0)
		return false;
	pthread_mutex_lock(&be->lock);
	same = inode->opened && inode->open_size == st.st_size &&
	       inode->open_mtime.tv_sec == st.st_mtim.tv_sec &&
	       inode->open_mtime.tv_nsec == st.st_mtim.tv_nsec;
	inode->opened = true;
	inode->open_size = st.st_size;
	inode->open_mtime = st.st_mtim;
	pthread_mutex_unlock(&be->lock);
	return same;
}

int pt_open(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
	    struct vfs_open *out)
{
	struct pt_inode *inode;
	int fd, err;

	(void)ctx;
	inode = pt_inode_get(be, ino);
	if (!inode)
		return -ESTALE;
	err = check_open_type(be, inode->type, flags);
	if (err)
		goto out_put;
	if (inode->type == S_IFDIR)
		flags |= O_DIRECTORY;
	/* O_TRUNC stays (ATOMIC_O_TRUNC); creation flags do not belong here. */
	fd = pt_inode_reopen(be, inode, flags & ~(O_CREAT | O_EXCL | O_NOCTTY));
	if (fd < 0) {
		err = fd;
		goto out_put;
	}
	err = pt_fh_add(be, &fd);
	if (!err) {
		fill_open(inode->fs, fd, out);
		out->keep_cache = unchanged_since_last_open(be, inode, fd);
	}
out_put:
	pt_inode_put(be, inode);
	return err;
}

int pt_create_file(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		   mode_t mode, int flags, struct vfs_entry *out, struct vfs_open *oout)
{
	struct pt_cred cred;
	struct pt_held dir;
	struct stat st;
	uint64_t ino;
	bool masked;
	uint32_t gen;
	int fd, err, tries = 0;

	err = pt_check_name(name);
	if (err)
		return err;
	err = pt_hold(be, parent, &dir); /* before the fsuid switch */
	if (err)
		return err;
	err = pt_cred_enter(be, ctx, &cred);
	if (err)
		goto out_unhold;
	masked = pt_umask_enter(ctx, &mode);
	/* O_NOFOLLOW: a symlink planted at name is not followed out of the source.
	 * O_NONBLOCK: a fifo planted there must not block a worker in open. */
	PT_RETRY_OPEN(fd, tries,
		      openat(dir.fd, name,
			     (flags & ~O_NOCTTY) | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
			     mode));
	err = fd < 0 ? -errno : 0;
	pt_umask_leave(masked);
	pt_cred_leave(be, &cred);
	if (err)
		goto out_unhold;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EEXIST; /* the kernel accepts only a regular file from CREATE */
		goto out_close;
	}
	if (!(flags & O_NONBLOCK)) {
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
			err = -errno;
			goto out_close;
		}
	}
	err = pt_inode_intern(be, fd, false, &st, dir.inode, name, &ino, &gen);
	if (err)
		goto out_close;
	err = pt_fh_add(be, &fd); /* closes fd on failure */
	if (err) {
		pt_inode_forget(be, ino, 1);
		goto out_unhold;
	}
	out->ino = ino;
	out->generation = gen;
	out->attr = st;
	out->attr.st_ino = ino;
	fill_open(dir.inode->fs, fd, oout); /* a new file is on its directory's filesystem */
	pt_unhold(be, &dir);
	return 0;
out_close:
	close(fd);
out_unhold:
	pt_unhold(be, &dir);
	return err;
}

ssize_t pt_read(struct backend *be, uint64_t ino, uint64_t fh, void *buf, size_t size, off_t off)
{
	size_t done = 0;
	int fd, err;

	(void)ino;
	err = pt_fh_fd(be, fh, &fd);
	if (err)
		return err;
	/* Short only at EOF: the kernel zero-fills a short read. */
	while (done < size) {
		ssize_t n = pread(fd, (char *)buf + done, size - done, off + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return done ? (ssize_t)done : -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t pt_write(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		 const void *buf, size_t size, off_t off, int open_flags)
{
	size_t done = 0;
	int fd, err;

	(void)ctx;
	(void)ino;
	(void)open_flags;
	err = pt_fh_fd(be, fh, &fd);
	if (err)
		return err;
	while (done < size) {
		ssize_t n = pwrite(fd, (const char *)buf + done, size - done, off + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return done ? (ssize_t)done : -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int pt_flush(struct backend *be, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	int fd, dupfd, err;

	(void)ino;
	(void)lock_owner;
	err = pt_fh_fd(be, fh, &fd);
	if (err)
		return err;
	/* close() of a duplicate: lets a network source report write-back errors
	 * at close(2) as it would locally, while fh stays open. */
	dupfd = dup(fd);
	if (dupfd < 0) {
		/* The daemon being out of fds is no error of the caller's close(2);
		 * only the early write-back report is lost (fsync still has it). */
		if (errno == EMFILE || errno == ENFILE)
			return 0;
		return -errno;
	}
	return close(dupfd) < 0 ? -errno : 0;
}

void pt_release(struct backend *be, uint64_t ino, uint64_t fh, int flags)
{
	int fd;

	(void)ino;
	(void)flags;
	if (pt_fh_fd(be, fh, &fd))
		return;
	pt_fh_del(be, fd);
	close(fd);
}

int pt_fsync(struct backend *be, uint64_t ino, uint64_t fh, bool datasync)
{
	int fd, err;

	(void)ino;
	err = pt_fh_fd(be, fh, &fd);
	if (err)
		return err;
	return (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
}

int pt_fallocate(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh, int mode,
		 off_t off, off_t len)
{
	int fd, err;

	(void)ctx;
	(void)ino;
	err = pt_fh_fd(be, fh, &fd);
	if (err)
		return err;
	return fallocate(fd, mode, off, len) < 0 ? -errno : 0;
}

off_t pt_lseek(struct backend *be, uint64_t ino, uint64_t fh, off_t off, int whence)
{
	off_t r;
	int fd, err;

	(void)ino;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	err = pt_fh_fd(be, fh, &fd);
	if (err)
		return err;
	/* The fd's position is unused (I/O is pread/pwrite), so moving it is harmless. */
	r = lseek(fd, off, whence);
	return r < 0 ? -errno : r;
}

ssize_t pt_copy_file_range(struct backend *be, const struct op_ctx *ctx, uint64_t ino_in,
			   uint64_t fh_in, off_t off_in, uint64_t ino_out, uint64_t fh_out,
			   off_t off_out, size_t len, unsigned flags)
{
	int fd_in, fd_out, err;
	ssize_t n;

	(void)ctx;
	(void)ino_in;
	(void)ino_out;
	if ((err = pt_fh_fd(be, fh_in, &fd_in)) || (err = pt_fh_fd(be, fh_out, &fd_out)))
		return err;
	n = copy_file_range(fd_in, &off_in, fd_out, &off_out, len, flags);
	if (n < 0)
		/* An old host's ENOSYS would switch the op off for every mount. */
		return errno == ENOSYS ? -EOPNOTSUPP : -errno;
	return n;
}

int pt_opendir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
	       struct vfs_open *out)
{
	struct pt_inode *inode;
	int fd, err = 0;

	(void)ctx;
	(void)flags;
	inode = pt_inode_get(be, ino);
	if (!inode)
		return -ESTALE;
	if (inode->type != S_IFDIR) {
		err = -ENOTDIR;
		goto out_put;
	}
	fd = pt_inode_reopen(be, inode, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		err = fd;
		goto out_put;
	}
	err = pt_fh_add(be, &fd);
	if (!err) {
		*out = (struct vfs_open){ .fh = (uint64_t)fd }; /* no FLUSH for directories */
		out->backing_fd = -1; /* directories are never passed through */
		/*
		 * Let the kernel cache listings: it checks the directory's mtime
		 * (refreshed per the attr timeout, AUTO_INVAL_DATA) before reusing
		 * one, and drops it on any change made through the mount.
		 */
		out->cache_dir = true;
		out->keep_cache = true;
	}
out_put:
	pt_inode_put(be, inode);
	return err;
}

static bool is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/*
 * The directory fd one READDIR/FSYNCDIR works on: the open handle fh, or with
 * fh 0 ("no handle": the kernel opened the directory without OPENDIR) a fresh
 * fd of the directory that the caller closes before replying (*own = true),
 * so fd use stays bounded by the number of requests in flight. A directory
 * removed on the host gives -ESTALE (handle) or -ENOENT here or at getdents.
 */
static int dir_fd(struct backend *be, struct pt_inode *dir, uint64_t fh, int *fd, bool *own)
{
	*own = false;
	if (fh != 0)
		return pt_fh_fd(be, fh, fd);
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	*fd = pt_inode_reopen(be, dir, O_RDONLY | O_DIRECTORY);
	if (*fd < 0)
		return *fd;
	*own = true;
	return 0;
}

/*
 * Fill db from the host's own directory cookies: off is a d_off the host gave
 * (0 = start), so lseek() to it resumes exactly after the last entry placed,
 * whatever changed in between. Those cookies also hold across separate opens
 * of the directory (ext4, xfs, btrfs and tmpfs keep them stable, as NFS
 * servers rely on), which is what lets fh 0 open the directory per call.
 * The stripe lock keeps lseek+getdents of one shared fh together; it is held
 * across the per-entry lookups of plus mode, which only block requests on the
 * same fh (or a colliding stripe). A per-call fd is ours alone: no lock.
 */
int pt_readdir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
	       uint64_t off, struct vfs_dirbuf *db)
{
	struct pt_inode *dir;
	pthread_mutex_t *lock = NULL;
	int fd, err, added = 0;
	bool own;
	char *buf;

	(void)ctx;
	if (off > INT64_MAX)
		return -EINVAL;
	dir = pt_inode_get(be, ino);
	if (!dir)
		return -ESTALE;
	buf = malloc(PT_DENTS_BUF);
	if (!buf) {
		err = -ENOMEM;
		goto out_put;
	}
	err = dir_fd(be, dir, fh, &fd, &own);
	if (err)
		goto out_free;
	if (!own) {
		lock = &be->dir_locks[(unsigned)fd % PT_DIR_LOCKS];
		pthread_mutex_lock(lock);
	}
	if (lseek(fd, (off_t)off, SEEK_SET) < 0) {
		err = -errno;
		goto out_unlock;
	}
	for (;;) {
		ssize_t n = getdents64(fd, buf, PT_DENTS_BUF);

		if (n < 0) {
			err = added ? 0 : -errno;
			goto out_unlock;
		}
		if (n == 0)
			break;
		for (ssize_t pos = 0; pos < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			struct vfs_dirent de = { .name = d->d_name,
						 .type = d->d_type,
						 .off = (uint64_t)d->d_off };
			struct vfs_entry e;

			pos += d->d_reclen;
			if (strcmp(d->d_name, ".") == 0 ||
			    (dir == be->root && strcmp(d->d_name, "..") == 0)) {
				de.ino = dir->ino; /* vfs fixes the root's ".." */
			} else if (db->plus && !is_dot(d->d_name)) {
				struct pt_held at = { .inode = dir, .fd = fd };

				err = pt_lookup_at(be, &at, d->d_name, &e);
				if (err == -ENOENT) {
					err = 0; /* removed since getdents: skip it */
					continue;
				}
				if (err) {
					if (added)
						err = 0; /* report what we have; the next call
							    retries */
					goto out_unlock;
				}
				de.ino = e.ino;
				de.type = IFTODT(e.attr.st_mode);
				de.entry = &e; /* one lookup taken: dropped below if not placed */
			} else {
				de.ino = pt_inode_hint(be, dir->dev, d->d_ino);
				if (!de.ino) {
					err = added ? 0 : -ENOMEM;
					goto out_unlock;
				}
			}
			if (vfs_dir_add(db, &de)) {
				if (de.entry)
					pt_inode_forget(be, de.ino, 1);
				goto out_unlock;
			}
			added++;
		}
	}
out_unlock:
	if (lock)
		pthread_mutex_unlock(lock);
	if (own)
		close(fd);
out_free:
	free(buf);
out_put:
	pt_inode_put(be, dir);
	return err;
}

void pt_releasedir(struct backend *be, uint64_t ino, uint64_t fh)
{
	pt_release(be, ino, fh, 0);
}

int pt_fsyncdir(struct backend *be, uint64_t ino, uint64_t fh, bool datasync)
{
	struct pt_inode *dir;
	int fd, err;
	bool own;

	if (fh != 0)
		return pt_fsync(be, ino, fh, datasync);
	dir = pt_inode_get(be, ino);
	if (!dir)
		return -ESTALE;
	err = dir_fd(be, dir, 0, &fd, &own);
	if (!err) {
		assert(own);
		err = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
		close(fd);
	}
	pt_inode_put(be, dir);
	return err;
}
