/*
 * backends/memfs/memfs_data.c - contents of memfs regular files: open, read,
 * write, truncate, fallocate, SEEK_DATA/SEEK_HOLE and copy_file_range.
 *
 * Data lives in the sparse page store (memfs_pages.c). Every page present is
 * charged to fs->used_pages. A write (or fallocate) first counts the pages it
 * lacks, reserves them against the limit, allocates and inserts them, and only
 * then copies: a failure (-ENOSPC, -ENOMEM) at any step undoes the earlier
 * steps, so the file is exactly as before, size included.
 */
#include "memfs_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMFS_PAGE_MASK	 ((uint64_t)MEMFS_PAGE_SIZE - 1)
#define MEMFS_COPY_CHUNK (64 * 1024)

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/* Remove and free every page with index >= from; returns how many. */
static uint64_t pages_drop_from(struct memfs_pages *p, uint64_t from)
{
	uint64_t idx, n = 0;

	while (memfs_pages_next(p, from, &idx)) {
		free(memfs_pages_remove(p, idx));
		n++;
		from = idx + 1;
	}
	return n;
}

void memfs_truncate_locked(struct memfs *fs, struct memfs_inode *node, off_t size)
{
	uint64_t usize = (uint64_t)size;

	assert(size >= 0);
	if (size < node->size) {
		uint64_t tail = usize & MEMFS_PAGE_MASK;

		/* Keep "bytes past EOF are zero" for the partial last page. */
		if (tail) {
			char *page = memfs_pages_get(&node->pages, usize >> MEMFS_PAGE_SHIFT);

			if (page)
				memset(page + tail, 0, MEMFS_PAGE_SIZE - tail);
		}
		/* Pages wholly past the new size go, fallocated KEEP_SIZE ones too. */
		memfs_unreserve(fs, pages_drop_from(&node->pages,
						    (usize + MEMFS_PAGE_MASK) >> MEMFS_PAGE_SHIFT));
	}
	/* Growing exposes only zeros: holes, or page bytes kept zero past EOF. */
	node->size = size;
}

/*
 * Make every page in [first, last] present, all or nothing. Reserves against
 * the limit first. 0, -ENOSPC or -ENOMEM (then nothing changed).
 * cap_unlimited: without a size limit, still refuse more pages than statfs
 * shows free (fallocate can ask for terabytes in one call; a write cannot).
 */
static int pages_fill(struct memfs *fs, struct memfs_inode *node, uint64_t first, uint64_t last,
		      bool cap_unlimited)
{
	uint64_t missing = last - first + 1, idx, at = first, done = 0;
	uint64_t *added;
	int ret;

	/* Count what is already there (sparse walk, not per index). */
	while (at <= last && memfs_pages_next(&node->pages, at, &idx) && idx <= last) {
		missing--;
		at = idx + 1;
	}
	if (!missing)
		return 0;
	if (missing > SIZE_MAX / sizeof(*added) ||
	    (cap_unlimited && !fs->size_limited && missing > memfs_free_pages(fs)))
		return -ENOSPC;
	ret = memfs_reserve(fs, missing);
	if (ret)
		return ret;
	added = malloc(missing * sizeof(*added)); /* what to undo on failure */
	if (!added) {
		ret = -ENOMEM;
		goto out_unreserve;
	}
	for (idx = first; done < missing; idx++) {
		void *page;

		if (memfs_pages_get(&node->pages, idx))
			continue;
		page = calloc(1, MEMFS_PAGE_SIZE);
		if (!page) {
			ret = -ENOMEM;
			goto out_undo;
		}
		if (memfs_pages_insert(&node->pages, idx, page)) {
			free(page);
			ret = -ENOMEM;
			goto out_undo;
		}
		added[done++] = idx;
	}
	free(added);
	return 0;

out_undo:
	while (done--)
		free(memfs_pages_remove(&node->pages, added[done]));
	free(added);
out_unreserve:
	memfs_unreserve(fs, missing);
	return ret;
}

static size_t read_locked(struct memfs_inode *node, void *buf, size_t size, off_t off)
{
	uint64_t pos = (uint64_t)off, end;
	char *out = buf;

	if (off >= node->size)
		return 0;
	end = (uint64_t)node->size;
	if (size < end - pos)
		end = pos + size;
	while (pos < end) {
		uint64_t in = pos & MEMFS_PAGE_MASK;
		size_t n = MEMFS_PAGE_SIZE - in;
		const char *page = memfs_pages_get(&node->pages, pos >> MEMFS_PAGE_SHIFT);

		if (n > end - pos)
			n = end - pos;
		if (page)
			memcpy(out, page + in, n);
		else
			memset(out, 0, n); /* a hole */
		out += n;
		pos += n;
	}
	return (size_t)(out - (char *)buf);
}

ssize_t memfs_write_locked(struct memfs *fs, struct memfs_inode *node, const void *buf, size_t size,
			   off_t off)
{
	uint64_t pos = (uint64_t)off, end;
	const char *in = buf;
	int ret;

	if (off < 0)
		return -EINVAL;
	if (size == 0)
		return 0;
	if (size > (uint64_t)MEMFS_MAX_FILESIZE - pos)
		return -EFBIG;
	if (size > SSIZE_MAX)
		size = SSIZE_MAX;
	end = pos + size;
	ret = pages_fill(fs, node, pos >> MEMFS_PAGE_SHIFT, (end - 1) >> MEMFS_PAGE_SHIFT, false);
	if (ret)
		return ret;
	/* From here nothing fails. */
	while (pos < end) {
		uint64_t at = pos & MEMFS_PAGE_MASK;
		size_t n = MEMFS_PAGE_SIZE - at;
		char *page = memfs_pages_get(&node->pages, pos >> MEMFS_PAGE_SHIFT);

		assert(page);
		if (n > end - pos)
			n = end - pos;
		memcpy(page + at, in, n);
		in += n;
		pos += n;
	}
	if ((off_t)end > node->size)
		node->size = (off_t)end;
	return (ssize_t)size;
}

/*
 * The file's data changed (write, fallocate, copy_file_range), inode lock held
 * for writing. As on tmpfs: a writer other than root drops setuid/setgid, and
 * any writer drops the file's capabilities. The kernel drops capabilities
 * itself before every change but a direct write (see memfs_open_direct()), so
 * for the others this finds nothing to do; one rule for all keeps it simple.
 */
static void data_changed(struct memfs_inode *node, const struct op_ctx *ctx)
{
	if (!ctx || ctx->uid != 0)
		memfs_drop_suidgid(node, false); /* the group rule came with the kernel's flag */
	(void)memfs_xattr_drop_locked(node, "security.capability");
}

/* ns_lock read held: the regular file ino. */
static int file_get(struct memfs *fs, uint64_t ino, struct memfs_inode **out)
{
	struct memfs_inode *node = memfs_inode_find(fs, ino);

	if (!node)
		return -ESTALE;
	if (S_ISDIR(node->type))
		return -EISDIR;
	if (!S_ISREG(node->type))
		return -EINVAL;
	*out = node;
	return 0;
}

/*
 * A write-only open bypasses the kernel's page cache (FOPEN_DIRECT_IO), for
 * three reasons:
 *  - nothing can map a write-only fd, and the kernel keeps cached pages of
 *    other opens right: it drops the range a direct write covers;
 *  - what the page cache would keep is a second copy of what memfs holds,
 *    and the next open drops it anyway (FUSE_AUTO_INVAL_DATA sees the new
 *    mtime), so a read after the write costs the same READ either way;
 *  - the cached path asks for security.capability (a GETXATTR round trip)
 *    on the first write after every attribute refresh, i.e. once per newly
 *    written file. The direct path leaves privilege removal to the server:
 *    setuid/setgid by FUSE_WRITE_KILL_SUIDGID (dispatch), file capabilities
 *    by data_changed(). It saves one round trip in five per small file created.
 * O_RDWR and O_RDONLY opens keep the page cache: reads and mmap need it.
 */
bool memfs_open_direct(int flags)
{
	return (flags & O_ACCMODE) == O_WRONLY;
}

int memfs_open(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
	       struct vfs_open *out)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	int ret = 0;

	(void)ctx;
	pthread_rwlock_rdlock(&fs->ns_lock);
	node = memfs_inode_find(fs, ino);
	if (!node) {
		ret = -ESTALE;
		goto out;
	}
	if (S_ISDIR(node->type)) {
		ret = -EISDIR;
		goto out;
	}
	if ((flags & O_TRUNC) && S_ISREG(node->type)) {
		/* FUSE_ATOMIC_O_TRUNC: the kernel sends no SETATTR for this. */
		struct timespec now;

		memfs_now(&now);
		pthread_rwlock_wrlock(&node->lock);
		memfs_truncate_locked(fs, node, 0);
		node->mtime = node->ctime = now;
		pthread_rwlock_unlock(&node->lock);
	}
	atomic_fetch_add(&node->nopen, 1);
	memset(out, 0, sizeof(*out));
	out->fh = ino;
	out->backing_fd = -1;
	/* Data changes only through the kernel's own writes: its pages stay right. */
	out->keep_cache = true;
	out->noflush = true; /* memory has nothing to write back at close(2) */
	out->direct_io = memfs_open_direct(flags);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

ssize_t memfs_read(struct backend *be, uint64_t ino, uint64_t fh, void *buf, size_t size, off_t off)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	struct timespec now;
	bool touch;
	ssize_t ret;

	(void)fh;
	if (off < 0)
		return -EINVAL;
	if (size > SSIZE_MAX)
		size = SSIZE_MAX;
	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = file_get(fs, ino, &node);
	if (ret)
		goto out;
	pthread_rwlock_rdlock(&node->lock);
	ret = (ssize_t)read_locked(node, buf, size, off);
	/* relatime, tmpfs's default: only when atime is not newer than mtime or
	 * ctime, or is a day old. Checked under the read lock, so the write lock
	 * is rarely needed. */
	memfs_now(&now);
	touch = ts_cmp(&node->atime, &node->mtime) <= 0 ||
		ts_cmp(&node->atime, &node->ctime) <= 0 || now.tv_sec - node->atime.tv_sec >= 86400;
	pthread_rwlock_unlock(&node->lock);
	if (touch) {
		pthread_rwlock_wrlock(&node->lock);
		node->atime = now;
		pthread_rwlock_unlock(&node->lock);
	}
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

ssize_t memfs_write(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		    const void *buf, size_t size, off_t off, int open_flags)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	ssize_t ret;

	(void)fh;
	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = file_get(fs, ino, &node);
	if (ret)
		goto out;
	pthread_rwlock_wrlock(&node->lock);
	if (open_flags & O_APPEND)
		off = node->size; /* the true end, even if the kernel's size was stale */
	ret = memfs_write_locked(fs, node, buf, size, off);
	if (ret > 0) {
		struct timespec now;

		memfs_now(&now);
		node->mtime = node->ctime = now;
		data_changed(node, ctx);
	}
	pthread_rwlock_unlock(&node->lock);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

/* Zero [from, to) within one page, if the page exists. */
static void zero_in_page(struct memfs_inode *node, uint64_t from, uint64_t to)
{
	char *page = memfs_pages_get(&node->pages, from >> MEMFS_PAGE_SHIFT);

	if (page && to > from)
		memset(page + (from & MEMFS_PAGE_MASK), 0, to - from);
}

static void punch_hole_locked(struct memfs *fs, struct memfs_inode *node, uint64_t start,
			      uint64_t end)
{
	uint64_t first_full = (start + MEMFS_PAGE_MASK) >> MEMFS_PAGE_SHIFT;
	uint64_t end_full = end >> MEMFS_PAGE_SHIFT; /* exclusive */
	uint64_t idx, n = 0, at = first_full;

	if ((start >> MEMFS_PAGE_SHIFT) == ((end - 1) >> MEMFS_PAGE_SHIFT) &&
	    (start & MEMFS_PAGE_MASK || end & MEMFS_PAGE_MASK)) {
		zero_in_page(node, start, end); /* inside one page */
		return;
	}
	if (start & MEMFS_PAGE_MASK)
		zero_in_page(node, start, (start | MEMFS_PAGE_MASK) + 1);
	if (end & MEMFS_PAGE_MASK)
		zero_in_page(node, end & ~MEMFS_PAGE_MASK, end);
	while (at < end_full && memfs_pages_next(&node->pages, at, &idx) && idx < end_full) {
		free(memfs_pages_remove(&node->pages, idx));
		n++;
		at = idx + 1;
	}
	memfs_unreserve(fs, n);
}

int memfs_fallocate(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		    int mode, off_t off, off_t len)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	struct timespec now;
	uint64_t end;
	int ret;

	(void)fh;
	if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE &&
	    mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (len > MEMFS_MAX_FILESIZE - off)
		return -EFBIG;
	end = (uint64_t)off + (uint64_t)len;
	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = file_get(fs, ino, &node);
	if (ret == -EINVAL)
		ret = -ENODEV; /* as fallocate(2) on a non-regular file */
	if (ret)
		goto out;
	pthread_rwlock_wrlock(&node->lock);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		punch_hole_locked(fs, node, (uint64_t)off, end);
	} else {
		uint64_t first = (uint64_t)off >> MEMFS_PAGE_SHIFT;
		uint64_t last = (end - 1) >> MEMFS_PAGE_SHIFT;

		ret = pages_fill(fs, node, first, last, true);
		if (!ret && !(mode & FALLOC_FL_KEEP_SIZE) && (off_t)end > node->size)
			node->size = (off_t)end;
	}
	if (!ret) {
		memfs_now(&now);
		node->mtime = node->ctime = now;
		data_changed(node, ctx);
	}
	pthread_rwlock_unlock(&node->lock);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

off_t memfs_lseek(struct backend *be, uint64_t ino, uint64_t fh, off_t off, int whence)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *node;
	uint64_t idx;
	off_t ret;
	int err;

	(void)fh;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	pthread_rwlock_rdlock(&fs->ns_lock);
	err = file_get(fs, ino, &node);
	if (err) {
		ret = err;
		goto out;
	}
	pthread_rwlock_rdlock(&node->lock);
	if (off < 0 || off >= node->size) {
		ret = -ENXIO;
	} else if (whence == SEEK_DATA) {
		/* Page granularity: a present page is data, fallocated ones too. */
		if (memfs_pages_next(&node->pages, (uint64_t)off >> MEMFS_PAGE_SHIFT, &idx) &&
		    idx < ((uint64_t)node->size + MEMFS_PAGE_MASK) >> MEMFS_PAGE_SHIFT) {
			ret = (off_t)(idx << MEMFS_PAGE_SHIFT);
			if (ret < off)
				ret = off;
		} else {
			ret = -ENXIO;
		}
	} else {
		idx = (uint64_t)off >> MEMFS_PAGE_SHIFT;
		while ((off_t)(idx << MEMFS_PAGE_SHIFT) < node->size &&
		       memfs_pages_get(&node->pages, idx))
			idx++;
		ret = (off_t)(idx << MEMFS_PAGE_SHIFT);
		if (ret < off)
			ret = off;
		if (ret > node->size)
			ret = node->size; /* the virtual hole at EOF */
	}
	pthread_rwlock_unlock(&node->lock);
out:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

ssize_t memfs_copy_file_range(struct backend *be, const struct op_ctx *ctx, uint64_t ino_in,
			      uint64_t fh_in, off_t off_in, uint64_t ino_out, uint64_t fh_out,
			      off_t off_out, size_t len, unsigned flags)
{
	struct memfs *fs = memfs_of(be);
	struct memfs_inode *in, *out;
	size_t done = 0;
	ssize_t ret = 0;
	char *buf;

	(void)fh_in;
	(void)fh_out;
	if (flags)
		return -EINVAL;
	if (off_in < 0 || off_out < 0)
		return -EINVAL;
	buf = malloc(MEMFS_COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	/* Chunk by chunk, one inode lock at a time (the lock order rule). */
	while (done < len) {
		size_t chunk = len - done < MEMFS_COPY_CHUNK ? len - done : MEMFS_COPY_CHUNK;
		size_t n;

		pthread_rwlock_rdlock(&fs->ns_lock);
		ret = file_get(fs, ino_in, &in);
		if (!ret)
			ret = file_get(fs, ino_out, &out);
		if (ret) {
			pthread_rwlock_unlock(&fs->ns_lock);
			break;
		}
		pthread_rwlock_rdlock(&in->lock);
		if (done == 0 && in == out) {
			/* Overlapping ranges within one file are refused, as the kernel does. */
			uint64_t avail = off_in < in->size ? (uint64_t)(in->size - off_in) : 0;
			uint64_t l = len < avail ? len : avail;

			if ((uint64_t)off_in < (uint64_t)off_out + l &&
			    (uint64_t)off_out < (uint64_t)off_in + l)
				ret = -EINVAL;
		}
		n = ret ? 0 : read_locked(in, buf, chunk, off_in + (off_t)done);
		pthread_rwlock_unlock(&in->lock);
		if (ret || n == 0) {
			pthread_rwlock_unlock(&fs->ns_lock);
			break;
		}
		pthread_rwlock_wrlock(&out->lock);
		ret = memfs_write_locked(fs, out, buf, n, off_out + (off_t)done);
		if (ret > 0) {
			struct timespec now;

			memfs_now(&now);
			out->mtime = out->ctime = now;
			data_changed(out, ctx);
		}
		pthread_rwlock_unlock(&out->lock);
		pthread_rwlock_unlock(&fs->ns_lock);
		if (ret < 0)
			break;
		done += (size_t)ret;
		ret = 0;
		if (n < chunk)
			break; /* end of the source */
	}
	free(buf);
	if (done)
		return (ssize_t)done;
	return ret;
}
