/*
 * backends/faulty/faulty.c - TESTING ONLY: inject failures in front of a real backend.
 *
 * See faulty.h for the contract. Every wrapper op has the same shape:
 *   e = faulty_draw(fy, op);      delay, then decide - before the inner call
 *   if (e) return e;              the inner op never ran: no state created
 *   return inner op(...);         its answer, unchanged
 * so a fault can never leave a lookup reference or an fh behind. forget,
 * release and releasedir pass straight through (they free state the kernel
 * has already dropped and nobody waits for their answer), as does destroy.
 */
#include "backends/faulty/faulty.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAULTY_MAGIC 0x6661756c74793031ull /* "faulty01": faulty_get_stats checks it */

struct faulty {
	uint64_t magic;
	const struct backend_ops *inner_ops; /* static, borrowed */
	struct backend *inner;		     /* owned: destroyed with the wrapper */
	/* This instance's table: an op the inner backend leaves NULL stays NULL,
	 * so vfs keeps answering for it exactly as without faults. */
	struct backend_ops ops;
	struct config_faults f;	   /* copied and checked by faulty_wrap */
	_Atomic uint64_t calls;	   /* faultable calls drawn for; also the draw's input */
	_Atomic uint64_t injected; /* of those, answered with an injected errno */
};

struct backend; /* = struct faulty (opaque to vfs) */

static inline struct faulty *faulty_of(struct backend *be)
{
	return (struct faulty *)be;
}

/* splitmix64's finalizer: a good 64-bit mix, so consecutive call numbers
 * give independent-looking draws. */
static uint64_t faulty_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static void faulty_sleep_ms(uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	/* A signal cuts the sleep short: sleep the rest (the delay is bounded). */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* 0 to call the inner op, or the injected -errno. Delays first when op is selected. */
static int faulty_draw(struct faulty *fy, enum config_fault_op op)
{
	uint64_t n, h;
	double u;
	int e;

	if (!(fy->f.ops & (UINT64_C(1) << op)))
		return 0;
	if (fy->f.delay_ms)
		faulty_sleep_ms(fy->f.delay_ms);
	n = atomic_fetch_add_explicit(&fy->calls, 1, memory_order_relaxed);
	if (fy->f.rate <= 0.0)
		return 0;
	h = faulty_mix(fy->f.seed + (n + 1) * 0x9e3779b97f4a7c15ull);
	u = (double)(h >> 11) * 0x1p-53; /* uniform in [0, 1) */
	if (u >= fy->f.rate)
		return 0;
	e = fy->f.errors[faulty_mix(h) % fy->f.nerrors];
	atomic_fetch_add_explicit(&fy->injected, 1, memory_order_relaxed);
	return -e;
}

/* ---- ops -------------------------------------------------------------------------------- */

static int fy_create(const struct mount_config *cfg, struct backend **out, char *err, size_t errlen)
{
	(void)cfg;
	*out = NULL;
	snprintf(err, errlen, "faulty backends are made by faulty_wrap(), not from a config");
	return -EINVAL;
}

static void fy_destroy(struct backend *be)
{
	struct faulty *fy = faulty_of(be);

	if (fy->inner_ops->destroy)
		fy->inner_ops->destroy(fy->inner);
	fy->magic = 0;
	free(fy);
}

static int fy_lookup(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name, struct vfs_entry *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_LOOKUP);

	return e ?: fy->inner_ops->lookup(fy->inner, ctx, parent, name, out);
}

/* Never faulted: the kernel has already dropped these references. */
static void fy_forget(struct backend *be, uint64_t ino, uint64_t n)
{
	struct faulty *fy = faulty_of(be);

	fy->inner_ops->forget(fy->inner, ino, n);
}

static int fy_getattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, bool has_fh,
		      uint64_t fh, struct stat *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_GETATTR);

	return e ?: fy->inner_ops->getattr(fy->inner, ctx, ino, has_fh, fh, out);
}

static int fy_setattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
		      const struct vfs_setattr *in, struct stat *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_SETATTR);

	return e ?: fy->inner_ops->setattr(fy->inner, ctx, ino, in, out);
}

static ssize_t fy_readlink(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
			   size_t size)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_READLINK);

	return e ?: fy->inner_ops->readlink(fy->inner, ctx, ino, buf, size);
}

static int fy_mknod(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		    mode_t mode, dev_t rdev, struct vfs_entry *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_MKNOD);

	return e ?: fy->inner_ops->mknod(fy->inner, ctx, parent, name, mode, rdev, out);
}

static int fy_mkdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		    mode_t mode, struct vfs_entry *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_MKDIR);

	return e ?: fy->inner_ops->mkdir(fy->inner, ctx, parent, name, mode, out);
}

static int fy_symlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name, const char *target, struct vfs_entry *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_SYMLINK);

	return e ?: fy->inner_ops->symlink(fy->inner, ctx, parent, name, target, out);
}

static int fy_unlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_UNLINK);

	return e ?: fy->inner_ops->unlink(fy->inner, ctx, parent, name);
}

static int fy_rmdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_RMDIR);

	return e ?: fy->inner_ops->rmdir(fy->inner, ctx, parent, name);
}

static int fy_rename(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name, uint64_t newparent, const char *newname, unsigned flags)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_RENAME);

	return e ?: fy->inner_ops->rename(fy->inner, ctx, parent, name, newparent, newname, flags);
}

static int fy_link(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t newparent,
		   const char *newname, struct vfs_entry *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_LINK);

	return e ?: fy->inner_ops->link(fy->inner, ctx, ino, newparent, newname, out);
}

/*
 * Kernel passthrough would take reads and writes past us: with READ or WRITE
 * faults configured, the file is not offered for it.
 */
static void faulty_keep_io(const struct faulty *fy, struct vfs_open *o)
{
	uint64_t io = (UINT64_C(1) << CONFIG_FAULT_READ) | (UINT64_C(1) << CONFIG_FAULT_WRITE);

	if (fy->f.ops & io)
		o->backing_fd = -1;
}

static int fy_open(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
		   struct vfs_open *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_OPEN);

	if (!e)
		e = fy->inner_ops->open(fy->inner, ctx, ino, flags, out);
	if (!e)
		faulty_keep_io(fy, out);
	return e;
}

static int fy_create_file(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
			  const char *name, mode_t mode, int flags, struct vfs_entry *out,
			  struct vfs_open *oout)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_CREATE);

	if (e)
		return e;
	e = fy->inner_ops->create_file(fy->inner, ctx, parent, name, mode, flags, out, oout);
	if (!e)
		faulty_keep_io(fy, oout);
	return e;
}

static ssize_t fy_read(struct backend *be, uint64_t ino, uint64_t fh, void *buf, size_t size,
		       off_t off)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_READ);

	return e ?: fy->inner_ops->read(fy->inner, ino, fh, buf, size, off);
}

static ssize_t fy_write(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
			const void *buf, size_t size, off_t off, int open_flags)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_WRITE);

	return e ?: fy->inner_ops->write(fy->inner, ctx, ino, fh, buf, size, off, open_flags);
}

static int fy_flush(struct backend *be, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_FLUSH);

	return e ?: fy->inner_ops->flush(fy->inner, ino, fh, lock_owner);
}

/* Never faulted: the last close of fh; the kernel does not wait for it. */
static void fy_release(struct backend *be, uint64_t ino, uint64_t fh, int flags)
{
	struct faulty *fy = faulty_of(be);

	fy->inner_ops->release(fy->inner, ino, fh, flags);
}

static int fy_fsync(struct backend *be, uint64_t ino, uint64_t fh, bool datasync)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_FSYNC);

	return e ?: fy->inner_ops->fsync(fy->inner, ino, fh, datasync);
}

static int fy_opendir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
		      struct vfs_open *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_OPENDIR);

	return e ?: fy->inner_ops->opendir(fy->inner, ctx, ino, flags, out);
}

static int fy_readdir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		      uint64_t off, struct vfs_dirbuf *db)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_READDIR);

	/* Failing here, before any entry is added, takes no plus-mode references. */
	return e ?: fy->inner_ops->readdir(fy->inner, ctx, ino, fh, off, db);
}

/* Never faulted, like release. */
static void fy_releasedir(struct backend *be, uint64_t ino, uint64_t fh)
{
	struct faulty *fy = faulty_of(be);

	fy->inner_ops->releasedir(fy->inner, ino, fh);
}

static int fy_fsyncdir(struct backend *be, uint64_t ino, uint64_t fh, bool datasync)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_FSYNCDIR);

	return e ?: fy->inner_ops->fsyncdir(fy->inner, ino, fh, datasync);
}

static int fy_statfs(struct backend *be, uint64_t ino, struct statvfs *out)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_STATFS);

	return e ?: fy->inner_ops->statfs(fy->inner, ino, out);
}

static int fy_access(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int mask)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_ACCESS);

	return e ?: fy->inner_ops->access(fy->inner, ctx, ino, mask);
}

static int fy_setxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		       const void *value, size_t size, int flags)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_SETXATTR);

	return e ?: fy->inner_ops->setxattr(fy->inner, ctx, ino, name, value, size, flags);
}

static ssize_t fy_getxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			   const char *name, void *buf, size_t size)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_GETXATTR);

	return e ?: fy->inner_ops->getxattr(fy->inner, ctx, ino, name, buf, size);
}

static ssize_t fy_listxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
			    size_t size)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_LISTXATTR);

	return e ?: fy->inner_ops->listxattr(fy->inner, ctx, ino, buf, size);
}

static int fy_removexattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			  const char *name)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_REMOVEXATTR);

	return e ?: fy->inner_ops->removexattr(fy->inner, ctx, ino, name);
}

static int fy_fallocate(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
			int mode, off_t off, off_t len)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_FALLOCATE);

	return e ?: fy->inner_ops->fallocate(fy->inner, ctx, ino, fh, mode, off, len);
}

static off_t fy_lseek(struct backend *be, uint64_t ino, uint64_t fh, off_t off, int whence)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_LSEEK);

	return e ?: fy->inner_ops->lseek(fy->inner, ino, fh, off, whence);
}

static ssize_t fy_copy_file_range(struct backend *be, const struct op_ctx *ctx, uint64_t ino_in,
				  uint64_t fh_in, off_t off_in, uint64_t ino_out, uint64_t fh_out,
				  off_t off_out, size_t len, unsigned flags)
{
	struct faulty *fy = faulty_of(be);
	int e = faulty_draw(fy, CONFIG_FAULT_COPY_FILE_RANGE);

	if (e)
		return e;
	return fy->inner_ops->copy_file_range(fy->inner, ctx, ino_in, fh_in, off_in, ino_out,
					      fh_out, off_out, len, flags);
}

/* ---- wrapping --------------------------------------------------------------------------- */

/* The errnos a fault may carry are plain ones the kernel accepts, never ENOSYS (backend.h). */
static bool faulty_config_ok(const struct config_faults *f)
{
	if (!(f->rate >= 0.0 && f->rate <= 1.0)) /* also false for NaN */
		return false;
	if (f->nerrors < 1 || f->nerrors > CONFIG_FAULT_ERRORS_MAX)
		return false;
	if (f->delay_ms > CONFIG_FAULT_DELAY_MAX_MS)
		return false;
	for (uint32_t i = 0; i < f->nerrors; i++)
		if (f->errors[i] <= 0 || f->errors[i] >= 512 || f->errors[i] == ENOSYS)
			return false;
	return true;
}

/* Each wrapper op is set only where the inner op exists (NULLs stay vfs's to answer). */
#define FY_SET(name, fn)                                                                           \
	do {                                                                                       \
		if (in->name)                                                                      \
			t->name = fn;                                                              \
	} while (0)

static void faulty_fill_ops(struct backend_ops *t, const struct backend_ops *in)
{
	memset(t, 0, sizeof(*t));
	t->type = in->type; /* messages keep naming the real type */
	t->create = fy_create;
	t->destroy = fy_destroy;
	FY_SET(lookup, fy_lookup);
	FY_SET(forget, fy_forget);
	FY_SET(getattr, fy_getattr);
	FY_SET(setattr, fy_setattr);
	FY_SET(readlink, fy_readlink);
	FY_SET(mknod, fy_mknod);
	FY_SET(mkdir, fy_mkdir);
	FY_SET(symlink, fy_symlink);
	FY_SET(unlink, fy_unlink);
	FY_SET(rmdir, fy_rmdir);
	FY_SET(rename, fy_rename);
	FY_SET(link, fy_link);
	FY_SET(open, fy_open);
	FY_SET(create_file, fy_create_file);
	FY_SET(read, fy_read);
	FY_SET(write, fy_write);
	FY_SET(flush, fy_flush);
	FY_SET(release, fy_release);
	FY_SET(fsync, fy_fsync);
	FY_SET(opendir, fy_opendir);
	FY_SET(readdir, fy_readdir);
	FY_SET(releasedir, fy_releasedir);
	FY_SET(fsyncdir, fy_fsyncdir);
	FY_SET(statfs, fy_statfs);
	FY_SET(access, fy_access);
	FY_SET(setxattr, fy_setxattr);
	FY_SET(getxattr, fy_getxattr);
	FY_SET(listxattr, fy_listxattr);
	FY_SET(removexattr, fy_removexattr);
	FY_SET(fallocate, fy_fallocate);
	FY_SET(lseek, fy_lseek);
	FY_SET(copy_file_range, fy_copy_file_range);
}

#undef FY_SET

int faulty_wrap(const struct backend_ops *inner_ops, struct backend *inner,
		const struct config_faults *f, const struct backend_ops **ops_out,
		struct backend **out)
{
	struct faulty *fy;

	if (!inner_ops || !inner || !faulty_config_ok(f))
		return -EINVAL;
	fy = calloc(1, sizeof(*fy));
	if (!fy)
		return -ENOMEM;
	fy->magic = FAULTY_MAGIC;
	fy->inner_ops = inner_ops;
	fy->inner = inner;
	fy->f = *f;
	faulty_fill_ops(&fy->ops, inner_ops);
	atomic_init(&fy->calls, 0);
	atomic_init(&fy->injected, 0);
	*ops_out = &fy->ops;
	*out = (struct backend *)fy;
	return 0;
}

void faulty_get_stats(struct backend *be, struct faulty_stats *out)
{
	struct faulty *fy = faulty_of(be);

	assert(fy->magic == FAULTY_MAGIC);
	out->calls = atomic_load_explicit(&fy->calls, memory_order_relaxed);
	out->injected = atomic_load_explicit(&fy->injected, memory_order_relaxed);
}
