/*
 * tests/unit/test_faulty.c - the fault-injecting wrapper (backends/faulty/)
 * called through its ops table, with no mount and no vfs.
 *
 * Two inner backends: a spy that counts every call and answers success (so
 * "the inner op never ran" is checked for every op), and a real memfs (so a
 * fault is seen to create no state: no file, no changed data, no reference).
 */
#include "testlib.h"

#include "backends/faulty/faulty.h"
#include "config/config.h"
#include "vfs/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct backend_ops memfs_ops;

/* ---- the spy: counts calls per op, answers success ---------------------------------------- */

enum { SPY_FORGET = CONFIG_FAULT_NOPS, SPY_RELEASE, SPY_RELEASEDIR, SPY_DESTROY, SPY_N };

struct spy {
	_Atomic unsigned n[SPY_N];
};

static struct spy *spy_of(struct backend *be)
{
	return (struct spy *)be;
}

static int spy_hit(struct backend *be, unsigned op)
{
	atomic_fetch_add(&spy_of(be)->n[op], 1);
	return 0;
}

static int spy_create(const struct mount_config *c, struct backend **out, char *e, size_t l)
{
	(void)c;
	(void)e;
	(void)l;
	struct spy *s = calloc(1, sizeof(*s));

	*out = (struct backend *)s; /* as every backend: its own struct behind the opaque one */
	return s ? 0 : -ENOMEM;
}
static unsigned spy_destroyed; /* the spy's memory is freed; this remembers destroy ran */
static void spy_destroy(struct backend *be)
{
	spy_destroyed++;
	free(be);
}
static int spy_lookup(struct backend *be, const struct op_ctx *c, uint64_t p, const char *n,
		      struct vfs_entry *o)
{
	(void)c, (void)p, (void)n;
	memset(o, 0, sizeof(*o));
	o->ino = 2;
	return spy_hit(be, CONFIG_FAULT_LOOKUP);
}
static void spy_forget(struct backend *be, uint64_t i, uint64_t n)
{
	(void)i, (void)n;
	spy_hit(be, SPY_FORGET);
}
static int spy_getattr(struct backend *be, const struct op_ctx *c, uint64_t i, bool h, uint64_t f,
		       struct stat *o)
{
	(void)c, (void)i, (void)h, (void)f, (void)o;
	return spy_hit(be, CONFIG_FAULT_GETATTR);
}
static int spy_setattr(struct backend *be, const struct op_ctx *c, uint64_t i,
		       const struct vfs_setattr *in, struct stat *o)
{
	(void)c, (void)i, (void)in, (void)o;
	return spy_hit(be, CONFIG_FAULT_SETATTR);
}
static ssize_t spy_readlink(struct backend *be, const struct op_ctx *c, uint64_t i, char *b,
			    size_t s)
{
	(void)c, (void)i, (void)b, (void)s;
	return spy_hit(be, CONFIG_FAULT_READLINK);
}
static int spy_mknod(struct backend *be, const struct op_ctx *c, uint64_t p, const char *n,
		     mode_t m, dev_t r, struct vfs_entry *o)
{
	(void)c, (void)p, (void)n, (void)m, (void)r, (void)o;
	return spy_hit(be, CONFIG_FAULT_MKNOD);
}
static int spy_mkdir(struct backend *be, const struct op_ctx *c, uint64_t p, const char *n,
		     mode_t m, struct vfs_entry *o)
{
	(void)c, (void)p, (void)n, (void)m, (void)o;
	return spy_hit(be, CONFIG_FAULT_MKDIR);
}
static int spy_symlink(struct backend *be, const struct op_ctx *c, uint64_t p, const char *n,
		       const char *t, struct vfs_entry *o)
{
	(void)c, (void)p, (void)n, (void)t, (void)o;
	return spy_hit(be, CONFIG_FAULT_SYMLINK);
}
static int spy_unlink(struct backend *be, const struct op_ctx *c, uint64_t p, const char *n)
{
	(void)c, (void)p, (void)n;
	return spy_hit(be, CONFIG_FAULT_UNLINK);
}
static int spy_rmdir(struct backend *be, const struct op_ctx *c, uint64_t p, const char *n)
{
	(void)c, (void)p, (void)n;
	return spy_hit(be, CONFIG_FAULT_RMDIR);
}
static int spy_rename(struct backend *be, const struct op_ctx *c, uint64_t p, const char *n,
		      uint64_t np, const char *nn, unsigned f)
{
	(void)c, (void)p, (void)n, (void)np, (void)nn, (void)f;
	return spy_hit(be, CONFIG_FAULT_RENAME);
}
static int spy_link(struct backend *be, const struct op_ctx *c, uint64_t i, uint64_t np,
		    const char *nn, struct vfs_entry *o)
{
	(void)c, (void)i, (void)np, (void)nn, (void)o;
	return spy_hit(be, CONFIG_FAULT_LINK);
}
static int spy_open(struct backend *be, const struct op_ctx *c, uint64_t i, int f,
		    struct vfs_open *o)
{
	(void)c, (void)i, (void)f;
	memset(o, 0, sizeof(*o));
	o->backing_fd = 7; /* offered for kernel passthrough, as passthrough does */
	return spy_hit(be, CONFIG_FAULT_OPEN);
}
static int spy_create_file(struct backend *be, const struct op_ctx *c, uint64_t p, const char *n,
			   mode_t m, int f, struct vfs_entry *o, struct vfs_open *oo)
{
	(void)c, (void)p, (void)n, (void)m, (void)f, (void)o;
	memset(oo, 0, sizeof(*oo));
	oo->backing_fd = 7;
	return spy_hit(be, CONFIG_FAULT_CREATE);
}
static ssize_t spy_read(struct backend *be, uint64_t i, uint64_t fh, void *b, size_t s, off_t o)
{
	(void)i, (void)fh, (void)b, (void)s, (void)o;
	return spy_hit(be, CONFIG_FAULT_READ);
}
static ssize_t spy_write(struct backend *be, const struct op_ctx *c, uint64_t i, uint64_t fh,
			 const void *b, size_t s, off_t o, int f)
{
	(void)c, (void)i, (void)fh, (void)b, (void)s, (void)o, (void)f;
	return spy_hit(be, CONFIG_FAULT_WRITE);
}
static int spy_flush(struct backend *be, uint64_t i, uint64_t fh, uint64_t lo)
{
	(void)i, (void)fh, (void)lo;
	return spy_hit(be, CONFIG_FAULT_FLUSH);
}
static void spy_release(struct backend *be, uint64_t i, uint64_t fh, int f)
{
	(void)i, (void)fh, (void)f;
	spy_hit(be, SPY_RELEASE);
}
static int spy_fsync(struct backend *be, uint64_t i, uint64_t fh, bool d)
{
	(void)i, (void)fh, (void)d;
	return spy_hit(be, CONFIG_FAULT_FSYNC);
}
static int spy_opendir(struct backend *be, const struct op_ctx *c, uint64_t i, int f,
		       struct vfs_open *o)
{
	(void)c, (void)i, (void)f, (void)o;
	return spy_hit(be, CONFIG_FAULT_OPENDIR);
}
static int spy_readdir(struct backend *be, const struct op_ctx *c, uint64_t i, uint64_t fh,
		       uint64_t off, struct vfs_dirbuf *db)
{
	(void)c, (void)i, (void)fh, (void)off, (void)db;
	return spy_hit(be, CONFIG_FAULT_READDIR);
}
static void spy_releasedir(struct backend *be, uint64_t i, uint64_t fh)
{
	(void)i, (void)fh;
	spy_hit(be, SPY_RELEASEDIR);
}
static int spy_fsyncdir(struct backend *be, uint64_t i, uint64_t fh, bool d)
{
	(void)i, (void)fh, (void)d;
	return spy_hit(be, CONFIG_FAULT_FSYNCDIR);
}
static int spy_statfs(struct backend *be, uint64_t i, struct statvfs *o)
{
	(void)i, (void)o;
	return spy_hit(be, CONFIG_FAULT_STATFS);
}
static int spy_access(struct backend *be, const struct op_ctx *c, uint64_t i, int m)
{
	(void)c, (void)i, (void)m;
	return spy_hit(be, CONFIG_FAULT_ACCESS);
}
static int spy_setxattr(struct backend *be, const struct op_ctx *c, uint64_t i, const char *n,
			const void *v, size_t s, int f)
{
	(void)c, (void)i, (void)n, (void)v, (void)s, (void)f;
	return spy_hit(be, CONFIG_FAULT_SETXATTR);
}
static ssize_t spy_getxattr(struct backend *be, const struct op_ctx *c, uint64_t i, const char *n,
			    void *b, size_t s)
{
	(void)c, (void)i, (void)n, (void)b, (void)s;
	return spy_hit(be, CONFIG_FAULT_GETXATTR);
}
static ssize_t spy_listxattr(struct backend *be, const struct op_ctx *c, uint64_t i, char *b,
			     size_t s)
{
	(void)c, (void)i, (void)b, (void)s;
	return spy_hit(be, CONFIG_FAULT_LISTXATTR);
}
static int spy_removexattr(struct backend *be, const struct op_ctx *c, uint64_t i, const char *n)
{
	(void)c, (void)i, (void)n;
	return spy_hit(be, CONFIG_FAULT_REMOVEXATTR);
}
static int spy_fallocate(struct backend *be, const struct op_ctx *c, uint64_t i, uint64_t fh, int m,
			 off_t o, off_t l)
{
	(void)c, (void)i, (void)fh, (void)m, (void)o, (void)l;
	return spy_hit(be, CONFIG_FAULT_FALLOCATE);
}
static off_t spy_lseek(struct backend *be, uint64_t i, uint64_t fh, off_t o, int w)
{
	(void)i, (void)fh, (void)o, (void)w;
	return spy_hit(be, CONFIG_FAULT_LSEEK);
}
static ssize_t spy_cfr(struct backend *be, const struct op_ctx *c, uint64_t a, uint64_t b, off_t c1,
		       uint64_t d, uint64_t e, off_t f, size_t l, unsigned fl)
{
	(void)c, (void)a, (void)b, (void)c1, (void)d, (void)e, (void)f, (void)l, (void)fl;
	return spy_hit(be, CONFIG_FAULT_COPY_FILE_RANGE);
}

static const struct backend_ops spy_ops = {
	.type = "spy",
	.create = spy_create,
	.destroy = spy_destroy,
	.lookup = spy_lookup,
	.forget = spy_forget,
	.getattr = spy_getattr,
	.setattr = spy_setattr,
	.readlink = spy_readlink,
	.mknod = spy_mknod,
	.mkdir = spy_mkdir,
	.symlink = spy_symlink,
	.unlink = spy_unlink,
	.rmdir = spy_rmdir,
	.rename = spy_rename,
	.link = spy_link,
	.open = spy_open,
	.create_file = spy_create_file,
	.read = spy_read,
	.write = spy_write,
	.flush = spy_flush,
	.release = spy_release,
	.fsync = spy_fsync,
	.opendir = spy_opendir,
	.readdir = spy_readdir,
	.releasedir = spy_releasedir,
	.fsyncdir = spy_fsyncdir,
	.statfs = spy_statfs,
	.access = spy_access,
	.setxattr = spy_setxattr,
	.getxattr = spy_getxattr,
	.listxattr = spy_listxattr,
	.removexattr = spy_removexattr,
	.fallocate = spy_fallocate,
	.lseek = spy_lseek,
	.copy_file_range = spy_cfr,
};

/* ---- fixtures ----------------------------------------------------------------------------- */

static const struct op_ctx ctx = { .uid = 0, .gid = 0 };
static struct backend *inner;	       /* the spy or memfs, owned by the wrapper once wrapped */
static struct spy *spy;		       /* inner as a spy (its counters), or NULL */
static const struct backend_ops *fops; /* the wrapper's ops */
static struct backend *fbe;	       /* the wrapper */

static struct config_faults faults(double rate, int e1, int e2)
{
	struct config_faults f = {
		.enabled = true, .rate = rate, .seed = 42, .ops = CONFIG_FAULT_OPS_ALL
	};

	f.errors[f.nerrors++] = e1;
	if (e2)
		f.errors[f.nerrors++] = e2;
	return f;
}

static void wrap_spy_ops(const struct backend_ops *inner_ops, const struct config_faults *f)
{
	char err[128];

	ck_assert_int_eq(inner_ops->create(NULL, &inner, err, sizeof(err)), 0);
	spy = spy_of(inner);
	ck_assert_int_eq(faulty_wrap(inner_ops, inner, f, &fops, &fbe), 0);
	ck_assert_ptr_nonnull(fops);
	ck_assert_ptr_nonnull(fbe);
}

static void wrap_spy(const struct config_faults *f)
{
	wrap_spy_ops(&spy_ops, f);
}

static void wrap_memfs(const struct config_faults *f)
{
	struct mount_config c = { .type = (char *)"memfs" };
	char err[256] = "";

	ck_assert_msg(memfs_ops.create(&c, &inner, err, sizeof(err)) == 0, "memfs: %s", err);
	spy = NULL;
	ck_assert_int_eq(faulty_wrap(&memfs_ops, inner, f, &fops, &fbe), 0);
}

static void teardown(void)
{
	if (fbe)
		fops->destroy(fbe); /* destroys inner too (ASan checks nothing leaks) */
	fbe = NULL;
	inner = NULL;
	spy = NULL;
}

/* Call every faultable op once through ops/be; rets[op] gets each answer. */
static void call_all(const struct backend_ops *o, struct backend *b, long rets[CONFIG_FAULT_NOPS])
{
	struct vfs_entry e;
	struct vfs_open oo;
	struct vfs_setattr sa = { 0 };
	struct stat st;
	struct statvfs sv;
	char buf[64];

	rets[CONFIG_FAULT_LOOKUP] = o->lookup(b, &ctx, 1, "x", &e);
	rets[CONFIG_FAULT_GETATTR] = o->getattr(b, &ctx, 1, false, 0, &st);
	rets[CONFIG_FAULT_SETATTR] = o->setattr(b, &ctx, 1, &sa, &st);
	rets[CONFIG_FAULT_READLINK] = o->readlink(b, &ctx, 1, buf, sizeof(buf));
	rets[CONFIG_FAULT_MKNOD] = o->mknod(b, &ctx, 1, "x", S_IFREG | 0644, 0, &e);
	rets[CONFIG_FAULT_MKDIR] = o->mkdir(b, &ctx, 1, "x", 0755, &e);
	rets[CONFIG_FAULT_SYMLINK] = o->symlink(b, &ctx, 1, "x", "t", &e);
	rets[CONFIG_FAULT_UNLINK] = o->unlink(b, &ctx, 1, "x");
	rets[CONFIG_FAULT_RMDIR] = o->rmdir(b, &ctx, 1, "x");
	rets[CONFIG_FAULT_RENAME] = o->rename(b, &ctx, 1, "x", 1, "y", 0);
	rets[CONFIG_FAULT_LINK] = o->link(b, &ctx, 2, 1, "y", &e);
	rets[CONFIG_FAULT_OPEN] = o->open(b, &ctx, 2, O_RDONLY, &oo);
	rets[CONFIG_FAULT_CREATE] = o->create_file(b, &ctx, 1, "x", 0644, O_CREAT, &e, &oo);
	rets[CONFIG_FAULT_READ] = o->read(b, 2, 0, buf, sizeof(buf), 0);
	rets[CONFIG_FAULT_WRITE] = o->write(b, &ctx, 2, 0, buf, sizeof(buf), 0, O_RDWR);
	rets[CONFIG_FAULT_FLUSH] = o->flush(b, 2, 0, 0);
	rets[CONFIG_FAULT_FSYNC] = o->fsync(b, 2, 0, false);
	rets[CONFIG_FAULT_OPENDIR] = o->opendir(b, &ctx, 1, O_RDONLY, &oo);
	rets[CONFIG_FAULT_READDIR] = o->readdir(b, &ctx, 1, 0, 0, NULL);
	rets[CONFIG_FAULT_FSYNCDIR] = o->fsyncdir(b, 1, 0, false);
	rets[CONFIG_FAULT_STATFS] = o->statfs(b, 1, &sv);
	rets[CONFIG_FAULT_ACCESS] = o->access(b, &ctx, 1, R_OK);
	rets[CONFIG_FAULT_SETXATTR] = o->setxattr(b, &ctx, 1, "user.a", "v", 1, 0);
	rets[CONFIG_FAULT_GETXATTR] = o->getxattr(b, &ctx, 1, "user.a", buf, sizeof(buf));
	rets[CONFIG_FAULT_LISTXATTR] = o->listxattr(b, &ctx, 1, buf, sizeof(buf));
	rets[CONFIG_FAULT_REMOVEXATTR] = o->removexattr(b, &ctx, 1, "user.a");
	rets[CONFIG_FAULT_FALLOCATE] = o->fallocate(b, &ctx, 2, 0, 0, 0, 10);
	rets[CONFIG_FAULT_LSEEK] = o->lseek(b, 2, 0, 0, SEEK_DATA);
	rets[CONFIG_FAULT_COPY_FILE_RANGE] = o->copy_file_range(b, &ctx, 2, 0, 0, 2, 0, 10, 5, 0);
}

/* The non-faultable ops, once each. */
static void call_never_failing(void)
{
	fops->forget(fbe, 2, 1);
	fops->release(fbe, 2, 0, O_RDONLY);
	fops->releasedir(fbe, 1, 0);
}

/* ---- tests -------------------------------------------------------------------------------- */

START_TEST(rate_one_fails_every_op_without_calling_inner)
{
	struct config_faults f = faults(1.0, EIO, ENOSPC);
	long rets[CONFIG_FAULT_NOPS];
	bool seen_eio = false, seen_enospc = false;
	struct faulty_stats fs;

	wrap_spy(&f);
	for (int round = 0; round < 20; round++) {
		call_all(fops, fbe, rets);
		for (unsigned op = 0; op < CONFIG_FAULT_NOPS; op++) {
			ck_assert_msg(rets[op] == -EIO || rets[op] == -ENOSPC, "%s answered %ld",
				      config_fault_op_name(op), rets[op]);
			ck_assert_msg(spy->n[op] == 0, "inner %s ran", config_fault_op_name(op));
			seen_eio |= rets[op] == -EIO;
			seen_enospc |= rets[op] == -ENOSPC;
		}
	}
	ck_assert(seen_eio && seen_enospc); /* both configured errnos are drawn */
	faulty_get_stats(fbe, &fs);
	ck_assert_uint_eq(fs.calls, 20 * CONFIG_FAULT_NOPS);
	ck_assert_uint_eq(fs.injected, 20 * CONFIG_FAULT_NOPS);
}
END_TEST

START_TEST(rate_zero_passes_every_op)
{
	struct config_faults f = faults(0.0, EIO, 0);
	long rets[CONFIG_FAULT_NOPS];
	struct faulty_stats fs;

	wrap_spy(&f);
	call_all(fops, fbe, rets);
	for (unsigned op = 0; op < CONFIG_FAULT_NOPS; op++) {
		ck_assert_msg(rets[op] == 0, "%s answered %ld", config_fault_op_name(op), rets[op]);
		ck_assert_msg(spy->n[op] == 1, "inner %s ran %u times", config_fault_op_name(op),
			      spy->n[op]);
	}
	faulty_get_stats(fbe, &fs);
	ck_assert_uint_eq(fs.injected, 0);
}
END_TEST

START_TEST(forget_release_releasedir_always_pass_through)
{
	struct config_faults f = faults(1.0, EIO, 0);

	f.delay_ms = 1000; /* would show as a slow test if these were delayed */
	wrap_spy(&f);
	for (int i = 0; i < 5; i++)
		call_never_failing();
	ck_assert_uint_eq(spy->n[SPY_FORGET], 5);
	ck_assert_uint_eq(spy->n[SPY_RELEASE], 5);
	ck_assert_uint_eq(spy->n[SPY_RELEASEDIR], 5);
}
END_TEST

START_TEST(destroy_destroys_inner)
{
	struct config_faults f = faults(1.0, EIO, 0);
	unsigned before = spy_destroyed;

	wrap_spy(&f);
	fops->destroy(fbe);
	fbe = NULL;
	ck_assert_uint_eq(spy_destroyed, before + 1);
}
END_TEST

START_TEST(ops_filter_faults_only_listed_ops)
{
	struct config_faults f = faults(1.0, EROFS, 0);
	long rets[CONFIG_FAULT_NOPS];

	f.ops = (UINT64_C(1) << CONFIG_FAULT_READ) | (UINT64_C(1) << CONFIG_FAULT_WRITE);
	wrap_spy(&f);
	call_all(fops, fbe, rets);
	for (unsigned op = 0; op < CONFIG_FAULT_NOPS; op++) {
		bool listed = op == CONFIG_FAULT_READ || op == CONFIG_FAULT_WRITE;

		ck_assert_msg(rets[op] == (listed ? -EROFS : 0), "%s answered %ld",
			      config_fault_op_name(op), rets[op]);
		ck_assert_uint_eq(spy->n[op], listed ? 0 : 1);
	}
}
END_TEST

/*
 * With READ or WRITE faults, a file must not be offered for kernel passthrough
 * (the kernel would do its I/O without asking us); otherwise the inner
 * backend's offer stands.
 */
START_TEST(io_faults_withhold_kernel_passthrough)
{
	static const uint64_t sets[] = { UINT64_C(1) << CONFIG_FAULT_READ,
					 UINT64_C(1) << CONFIG_FAULT_WRITE,
					 UINT64_C(1) << CONFIG_FAULT_LOOKUP };
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		struct config_faults f = faults(0.0, EIO, 0);
		struct vfs_open o;
		struct vfs_entry e;
		int want = sets[i] == (UINT64_C(1) << CONFIG_FAULT_LOOKUP) ? 7 : -1;

		f.ops = sets[i];
		wrap_spy(&f);
		ck_assert_int_eq(fops->open(fbe, &ctx, 2, O_RDWR, &o), 0);
		ck_assert_int_eq(o.backing_fd, want);
		ck_assert_int_eq(
		    fops->create_file(fbe, &ctx, 1, "n", S_IFREG | 0644, O_RDWR | O_CREAT, &e, &o),
		    0);
		ck_assert_int_eq(o.backing_fd, want);
		fops->destroy(fbe);
		fbe = NULL;
	}
}
END_TEST

static const struct backend_ops spy_sparse_ops = {
	.type = "spy",
	.create = spy_create,
	.destroy = spy_destroy,
	.lookup = spy_lookup,
	.forget = spy_forget,
	.getattr = spy_getattr,
	.read = spy_read,
};

START_TEST(null_inner_ops_stay_null)
{
	struct config_faults f = faults(0.5, EIO, 0);

	wrap_spy_ops(&spy_sparse_ops, &f);
	ck_assert_str_eq(fops->type, "spy");
	ck_assert_ptr_nonnull(fops->lookup);
	ck_assert_ptr_nonnull(fops->read);
	/* vfs answers for these itself (never ENOSYS): the wrapper must not hide that. */
	ck_assert_ptr_null(fops->write);
	ck_assert_ptr_null(fops->release);
	ck_assert_ptr_null(fops->fsync);
	ck_assert_ptr_null(fops->setxattr);
	ck_assert_ptr_null(fops->copy_file_range);
	ck_assert_ptr_null(fops->readdir);
}
END_TEST

/* Rate 0.3 over many calls: near 30% fail, and the same seed gives the same faults. */
START_TEST(rate_is_respected_and_seed_reproduces)
{
	struct config_faults f = faults(0.3, EIO, ENOSPC);
	enum { N = 20000 };
	static long first[N];
	struct stat st;
	unsigned failed = 0;

	wrap_spy(&f);
	for (int i = 0; i < N; i++) {
		first[i] = fops->getattr(fbe, &ctx, 1, false, 0, &st);
		failed += first[i] != 0;
	}
	ck_assert_msg(failed > N * 27 / 100 && failed < N * 33 / 100, "%u of %d failed", failed, N);
	ck_assert_uint_eq(spy->n[CONFIG_FAULT_GETATTR], N - failed);
	teardown();

	wrap_spy(&f);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(fops->getattr(fbe, &ctx, 1, false, 0, &st), first[i]);
	teardown();

	f.seed = 43; /* another seed, another sequence */
	wrap_spy(&f);
	failed = 0;
	for (int i = 0; i < N; i++)
		failed += fops->getattr(fbe, &ctx, 1, false, 0, &st) != first[i];
	ck_assert_uint_gt(failed, N / 10);
}
END_TEST

START_TEST(delay_applies_before_faultable_calls)
{
	struct config_faults f = faults(0.0, EIO, 0);
	struct timespec a, b;
	struct stat st;
	double ms;

	f.delay_ms = 30;
	wrap_spy(&f);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(fops->getattr(fbe, &ctx, 1, false, 0, &st), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	ck_assert_msg(ms >= 29.0, "getattr took %.1f ms", ms);
}
END_TEST

START_TEST(bad_config_is_refused_and_inner_stays_callers)
{
	struct config_faults bad[5];
	char err[64];

	bad[0] = faults(1.5, EIO, 0);
	bad[1] = faults(0.5, ENOSYS, 0); /* the kernel would turn ops off */
	bad[2] = faults(0.5, 600, 0);	 /* the kernel rejects errors <= -512 */
	bad[3] = faults(0.5, EIO, 0);
	bad[3].nerrors = 0;
	bad[4] = faults(0.5, EIO, 0);
	bad[4].delay_ms = CONFIG_FAULT_DELAY_MAX_MS + 1;
	ck_assert_int_eq(spy_ops.create(NULL, &inner, err, sizeof(err)), 0);
	for (int i = 0; i < 5; i++) {
		fops = NULL;
		fbe = NULL;
		ck_assert_int_eq(faulty_wrap(&spy_ops, inner, &bad[i], &fops, &fbe), -EINVAL);
		ck_assert_ptr_null(fbe);
		ck_assert_ptr_null(fops);
	}
	spy_ops.destroy(inner); /* still ours */
	inner = NULL;
}
END_TEST

struct hammer {
	unsigned ok, failed;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	struct stat st;

	for (int i = 0; i < 20000; i++) {
		int r = fops->getattr(fbe, &ctx, 1, false, 0, &st);

		if (r == 0)
			h->ok++;
		else if (r == -EIO)
			h->failed++;
	}
	return NULL;
}

START_TEST(concurrent_calls_are_counted_exactly)
{
	struct config_faults f = faults(0.5, EIO, 0);
	struct hammer h[4] = { { 0 } };
	pthread_t t[4];
	unsigned ok = 0, failed = 0;
	struct faulty_stats fs;

	wrap_spy(&f);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ok += h[i].ok;
		failed += h[i].failed;
	}
	ck_assert_uint_eq(ok + failed, 80000);
	ck_assert_uint_eq(spy->n[CONFIG_FAULT_GETATTR], ok); /* inner ran exactly for the passes */
	faulty_get_stats(fbe, &fs);
	ck_assert_uint_eq(fs.calls, 80000);
	ck_assert_uint_eq(fs.injected, failed);
	ck_assert_uint_gt(failed, 80000 * 45 / 100);
	ck_assert_uint_lt(failed, 80000 * 55 / 100);
}
END_TEST

/* Over memfs: a faulted create leaves no file, a faulted write leaves the data as it was. */
START_TEST(memfs_faults_create_no_state)
{
	struct config_faults f = faults(1.0, ENOSPC, 0);
	struct vfs_entry e;
	struct vfs_open o;
	char buf[16] = "";
	uint64_t ino;

	wrap_memfs(&f);
	ck_assert_int_eq(fops->create_file(fbe, &ctx, 1, "f", 0644, O_CREAT | O_RDWR, &e, &o),
			 -ENOSPC);
	ck_assert_int_eq(fops->mkdir(fbe, &ctx, 1, "d", 0755, &e), -ENOSPC);
	/* The inner backend, asked directly, has neither. */
	ck_assert_int_eq(memfs_ops.lookup(inner, &ctx, 1, "f", &e), -ENOENT);
	ck_assert_int_eq(memfs_ops.lookup(inner, &ctx, 1, "d", &e), -ENOENT);

	/* A file made behind the wrapper's back: faulted writes do not touch it. */
	ck_assert_int_eq(memfs_ops.create_file(inner, &ctx, 1, "g", 0644, O_CREAT | O_RDWR, &e, &o),
			 0);
	ino = e.ino;
	ck_assert_int_eq(memfs_ops.write(inner, &ctx, ino, o.fh, "hello", 5, 0, O_RDWR), 5);
	ck_assert_int_eq(fops->write(fbe, &ctx, ino, o.fh, "XXXXXXXX", 8, 0, O_RDWR), -ENOSPC);
	ck_assert_int_eq(fops->read(fbe, ino, o.fh, buf, sizeof(buf), 0), -ENOSPC);
	ck_assert_int_eq(memfs_ops.read(inner, ino, o.fh, buf, sizeof(buf), 0), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	/* release and forget go through even at rate 1 (ASan: no handle or inode leaks). */
	fops->release(fbe, ino, o.fh, O_RDWR);
	fops->forget(fbe, ino, 1);
}
END_TEST

START_TEST(memfs_rate_zero_round_trip)
{
	struct config_faults f = faults(0.0, EIO, 0);
	struct vfs_entry e, e2;
	struct vfs_open o;
	char buf[16] = "";

	wrap_memfs(&f);
	ck_assert_int_eq(fops->create_file(fbe, &ctx, 1, "f", 0644, O_CREAT | O_RDWR, &e, &o), 0);
	ck_assert_int_eq(fops->write(fbe, &ctx, e.ino, o.fh, "data", 4, 0, O_RDWR), 4);
	ck_assert_int_eq(fops->read(fbe, e.ino, o.fh, buf, sizeof(buf), 0), 4);
	ck_assert_int_eq(memcmp(buf, "data", 4), 0);
	fops->release(fbe, e.ino, o.fh, O_RDWR);
	ck_assert_int_eq(fops->lookup(fbe, &ctx, 1, "f", &e2), 0);
	ck_assert_uint_eq(e2.ino, e.ino);
	fops->forget(fbe, e.ino, 2);
}
END_TEST

/* A vfs_dirbuf sink taking 4 entries per call, recording into a struct seen. */
struct seen_rec {
	int n;
	uint64_t off, ino[16];
	char name[16][8];
};
struct chunk_rec {
	struct seen_rec *s;
	int got;
};

static int chunk_add(struct vfs_dirbuf *db, const struct vfs_dirent *d)
{
	struct chunk_rec *c = db->data;

	if (c->got == 4)
		return 1;
	ck_assert_int_lt(c->s->n, 16);
	ck_assert_uint_ne(d->off, 0);
	snprintf(c->s->name[c->s->n], sizeof(c->s->name[0]), "%s", d->name);
	c->s->ino[c->s->n++] = d->ino;
	c->s->off = d->off;
	c->got++;
	return 0;
}

/* fh 0 ("no open handle", the kernel's no_opendir) passes through to memfs. */
START_TEST(memfs_readdir_without_handle_passes_through)
{
	struct config_faults f = faults(0.0, EIO, 0);
	struct vfs_entry e;
	struct seen_rec seen = { 0 };
	char name[8];

	wrap_memfs(&f);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_int_eq(fops->mkdir(fbe, &ctx, 1, name, 0755, &e), 0);
		fops->forget(fbe, e.ino, 1);
	}
	for (;;) {
		struct chunk_rec c = { &seen, 0 };
		struct vfs_dirbuf db = { .plus = false, .data = &c };

		db.add = chunk_add;
		ck_assert_int_eq(fops->readdir(fbe, &ctx, 1, 0, seen.off, &db), 0);
		if (!c.got)
			break;
	}
	ck_assert_int_eq(seen.n, 12);
	for (int i = 0; i < 10; i++) {
		int found = 0;

		snprintf(name, sizeof(name), "n%d", i);
		for (int k = 0; k < seen.n; k++) {
			if (strcmp(seen.name[k], name) == 0) {
				found++;
				ck_assert_int_eq(fops->lookup(fbe, &ctx, 1, name, &e), 0);
				ck_assert_uint_eq(seen.ino[k], e.ino);
				fops->forget(fbe, e.ino, 1);
			}
		}
		ck_assert_int_eq(found, 1);
	}
	ck_assert_int_eq(fops->fsyncdir(fbe, 1, 0, false), 0);
}
END_TEST

/* ---- the `faults:` config key ----------------------------------------------------------- */

static struct vfsmux_config *load(const char *text, struct config_errors *errs)
{
	struct vfsmux_config *cfg = NULL;

	memset(errs, 0, sizeof(*errs));
	config_load_buffer("t.yaml", text, strlen(text), &cfg, errs);
	return cfg;
}

START_TEST(config_faults_parsed_into_mount_config)
{
	struct config_errors errs;
	struct vfsmux_config *cfg =
	    load("mounts:\n"
		 "  - path: /a\n"
		 "    type: memfs\n"
		 "    faults: {rate: 0.25, errors: [ENOSPC, EDQUOT], delay_ms: 5,\n"
		 "             seed: 99, ops: [read, create]}\n"
		 "  - {path: /b, type: memfs}\n",
		 &errs);
	const struct config_faults *f;

	ck_assert_msg(cfg, "%s", errs.n ? errs.v[0].msg : "?");
	f = &cfg->mounts[0].faults;
	ck_assert(f->enabled);
	ck_assert(f->rate == 0.25);
	ck_assert_uint_eq(f->nerrors, 2);
	ck_assert_int_eq(f->errors[0], ENOSPC);
	ck_assert_int_eq(f->errors[1], EDQUOT);
	ck_assert_uint_eq(f->delay_ms, 5);
	ck_assert_uint_eq(f->seed, 99);
	ck_assert_uint_eq(f->ops, (UINT64_C(1) << CONFIG_FAULT_READ) |
				      (UINT64_C(1) << CONFIG_FAULT_CREATE));
	ck_assert(!cfg->mounts[1].faults.enabled); /* no key, no wrapper */
	config_free(cfg);
	config_errors_fini(&errs);

	cfg = load("mounts: [{path: /a, type: memfs, faults: {}}]\n", &errs);
	ck_assert_ptr_nonnull(cfg);
	f = &cfg->mounts[0].faults; /* defaults: on, rate 0, EIO, every faultable op */
	ck_assert(f->enabled && f->rate == 0.0 && f->nerrors == 1 && f->errors[0] == EIO);
	ck_assert_uint_eq(f->ops, CONFIG_FAULT_OPS_ALL);
	config_free(cfg);
	config_errors_fini(&errs);
}
END_TEST

START_TEST(config_faults_errors_have_positions)
{
	struct config_errors errs;
	struct vfsmux_config *cfg = load("mounts:\n"
					 "  - path: /a\n"
					 "    type: memfs\n"
					 "    faults:\n"
					 "      rate: 1.5\n"
					 "      errors: [EIO, ENOSYS, EIO]\n"
					 "      delay_ms: 3600001\n"
					 "      ops: [release, frobnicate]\n"
					 "      when: now\n",
					 &errs);
	static const struct {
		int line, column;
		const char *key, *text;
	} want[] = {
		{ 5, 13, "mounts[0].faults.rate", "between 0 and 1" },
		{ 6, 21, "mounts[0].faults.errors[1]", "ENOSYS" },
		{ 6, 29, "mounts[0].faults.errors[2]", "twice" },
		{ 7, 17, "mounts[0].faults.delay_ms", "at most 3600000" },
		{ 8, 13, "mounts[0].faults.ops[0]", "never fails" },
		{ 8, 22, "mounts[0].faults.ops[1]", "unknown op" },
		{ 9, 7, "mounts[0].faults.when", "unknown key" },
	};

	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < errs.n; i++) {
		ck_assert_int_eq(errs.v[i].loc.line, want[i].line);
		ck_assert_int_eq(errs.v[i].loc.column, want[i].column);
		ck_assert_str_eq(errs.v[i].key, want[i].key);
		ck_assert_msg(strstr(errs.v[i].msg, want[i].text), "%s", errs.v[i].msg);
	}
	config_errors_fini(&errs);
}
END_TEST

static Suite *faulty_suite(void)
{
	Suite *s = suite_create("faulty");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, rate_one_fails_every_op_without_calling_inner);
	tcase_add_test(tc, rate_zero_passes_every_op);
	tcase_add_test(tc, forget_release_releasedir_always_pass_through);
	tcase_add_test(tc, destroy_destroys_inner);
	tcase_add_test(tc, ops_filter_faults_only_listed_ops);
	tcase_add_test(tc, io_faults_withhold_kernel_passthrough);
	tcase_add_test(tc, null_inner_ops_stay_null);
	tcase_add_test(tc, rate_is_respected_and_seed_reproduces);
	tcase_add_test(tc, delay_applies_before_faultable_calls);
	tcase_add_test(tc, bad_config_is_refused_and_inner_stays_callers);
	tcase_add_test(tc, concurrent_calls_are_counted_exactly);
	tcase_add_test(tc, memfs_faults_create_no_state);
	tcase_add_test(tc, memfs_rate_zero_round_trip);
	tcase_add_test(tc, memfs_readdir_without_handle_passes_through);
	tcase_add_test(tc, config_faults_parsed_into_mount_config);
	tcase_add_test(tc, config_faults_errors_have_positions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(faulty_suite());
}
