/*
 * vfs/vfs.c - every FUSE operation by kernel nodeid, routed to the pseudofs or a backend.
 *
 * Identifiers (see vfs.h and backend.h):
 *   nodeid  what the kernel holds: (index << 48) | ino; 0 = negative entry
 *   index   0 = the pseudofs (ino is then a pseudofs ino, 1 = root);
 *           1..65535 = a mount (position in cfg->mounts + 1)
 *   ino     a backend ino in [1, 2^48), 1 = that backend's root
 *   st_ino  rewritten to the nodeid in every reply
 *
 * A mount point is a name in a pseudo directory; looking it up answers with
 * the backend's root (index, 1), and ".." of that root answers with the
 * pseudo directory again, without asking the backend.
 *
 * Each request resolves its nodeid(s) to a referenced struct mount
 * (mount_table.h) and drops it at the end, so a mount detached meanwhile is
 * never freed under a request.
 *
 * What vfs answers itself, before or instead of a backend:
 *   -ESTALE     unknown index, ino 0, or a pseudofs ino that names no directory
 *   -EROFS      mutations in the pseudofs and on read-only mounts (open with
 *               O_WRONLY/O_RDWR/O_TRUNC, access W_OK included)
 *   -EXDEV      rename, link, copy_file_range across two indexes
 *   -EOVERFLOW  mknod, mkdir, symlink, link, create by a caller with no id mapping
 *   NULL ops    never -ENOSYS for an op the kernel remembers (DESIGN §6):
 *               flush/fsync/fsyncdir/access 0; release/releasedir nothing;
 *               open/opendir 0 with fh 0; xattrs, fallocate, copy_file_range
 *               -EOPNOTSUPP; lseek emulated from getattr's size (the kernel's
 *               own generic answer: all data, one hole at EOF); readlink -EINVAL;
 *               read -EINVAL; readdir -EOPNOTSUPP; mutations -EPERM; statfs
 *               zeros with bsize 4096 and namemax 255.
 *   backend answers > 0 or <= -512 (the kernel would reject the reply) become
 *   -EIO, and -ENOSYS becomes -EOPNOTSUPP; each logged once.
 *   -ESTALE     LOOKUP of "." answering an object with no links left: the
 *               kernel asks "." only to decode a file handle for a nodeid it
 *               forgot (FUSE_EXPORT_SUPPORT), and a handle of a removed file
 *               is stale (as on ext4), even while someone still has it open.
 *
 * Gone sources: a backend whose source disappeared under it (a passthrough
 * source directory removed on the host) would answer ENOENT to everything and
 * list nothing, not even ".". When a backend answers ENOENT or ESTALE, lists
 * nothing at all from the start of a directory, or shows its root with no
 * links, vfs asks ops->source_gone; on yes the mount is marked gone for good
 * (logged once) and every request on it answers ESTALE, except I/O on handles
 * already open (read, write, flush, fsync, lseek, release, getattr
 * of an open file), which keeps
 * working as an open file outlives its name. A new directory at the same
 * path is another directory: the mount stays gone until the daemon restarts.
 */
#include "vfs/vfs.h"

#include "backends/faulty/faulty.h"
#include "config/config.h"
#include "pseudofs/pseudofs.h"
#include "server/log.h"
#include "vfs/idmap.h"
#include "vfs/mount_table.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vfs {
	const struct vfsmux_config *cfg; /* borrowed; outlives the vfs */
	struct pseudofs *ps;
	struct mount_table *mt;
};

/* One nodeid resolved for the length of a request. */
struct vfs_target {
	uint16_t index;	 /* 0 = pseudofs */
	uint64_t ino;	 /* pseudofs ino or backend ino */
	struct mount *m; /* referenced (mount_put at the end); NULL for the pseudofs */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static int vfs_stale(uint64_t nodeid)
{
	vlog_once(VLOG_WARN, "vfs: stale or unknown nodeid 0x%" PRIx64 "; answering ESTALE",
		  nodeid);
	return -ESTALE;
}

/*
 * nodeid -> target. Pseudofs inos are checked by the pseudofs calls themselves.
 * A gone mount (see the top of this file) answers -ESTALE unless open_io.
 */
static int vfs_resolve_as(struct vfs *vfs, uint64_t nodeid, bool open_io, struct vfs_target *t)
{
	t->index = vfs_nodeid_index(nodeid);
	t->ino = vfs_nodeid_ino(nodeid);
	t->m = NULL;
	if (t->ino == 0)
		return vfs_stale(nodeid);
	if (t->index == 0)
		return 0;
	t->m = mtab_get(vfs->mt, t->index);
	if (!t->m)
		return vfs_stale(nodeid);
	if (!open_io && atomic_load_explicit(&t->m->gone, memory_order_relaxed)) {
		mount_put(t->m);
		t->m = NULL;
		return -ESTALE;
	}
	return 0;
}

/* Every request but I/O on an open handle. */
static int vfs_resolve(struct vfs *vfs, uint64_t nodeid, struct vfs_target *t)
{
	return vfs_resolve_as(vfs, nodeid, false, t);
}

/* I/O on a handle already open (read, write, flush, fsync, lseek, release; getattr
 * with a handle uses vfs_resolve_as). */
static int vfs_resolve_io(struct vfs *vfs, uint64_t nodeid, struct vfs_target *t)
{
	return vfs_resolve_as(vfs, nodeid, true, t);
}

/* 0 when nodeid names something live (a pseudo directory or a mounted index). */
static int vfs_check_live(struct vfs *vfs, uint64_t nodeid)
{
	struct vfs_target t;
	struct stat st;
	int err = vfs_resolve(vfs, nodeid, &t);

	if (err)
		return err;
	if (!t.m)
		err = pseudofs_getattr(vfs->ps, t.ino, &st);
	mount_put(t.m);
	return err;
}

/* A pseudofs target that names no directory is stale; otherwise answer `err`. */
static int vfs_pseudo_answer(struct vfs *vfs, const struct vfs_target *t, int err)
{
	struct stat st;

	if (pseudofs_getattr(vfs->ps, t->ino, &st))
		return vfs_stale(t->ino);
	return err;
}

/*
 * Is m's source gone? Asks the backend (which may stat its source) and marks
 * the mount gone for good on yes, logging it once. Called only after a sign
 * (ENOENT, ESTALE, an empty listing, a root with no links), never per request.
 */
static bool vfs_source_gone(struct mount *m)
{
	bool was = false;

	if (atomic_load_explicit(&m->gone, memory_order_relaxed))
		return true;
	if (!m->ops->source_gone || !m->ops->source_gone(m->be))
		return false;
	if (atomic_compare_exchange_strong(&m->gone, &was, true))
		vlog(VLOG_ERR,
		     "vfs: mount %s: %s source %s was removed while mounted; answering ESTALE "
		     "to every request but I/O on open files until vfsmux is restarted",
		     m->cfg->path, m->ops->type, m->cfg->source ? m->cfg->source : "(none)");
	return true;
}

/* Keep a backend's answer within what the kernel accepts. */
static int vfs_errno(struct mount *m, const char *op, int ret)
{
	if (ret == 0)
		return 0;
	if ((ret == -ENOENT || ret == -ESTALE) && vfs_source_gone(m))
		return -ESTALE; /* not ENOENT: the mount point itself is still there */
	if (ret > 0 || ret <= -512) {
		vlog_once(VLOG_ERR, "vfs: mount %u: backend %s returned %d; answering EIO",
			  m->index, op, ret);
		return -EIO;
	}
	if (ret == -ENOSYS) {
		/* The kernel would turn the op off for every mount of the connection. */
		vlog_once(VLOG_ERR,
			  "vfs: mount %u: backend %s returned ENOSYS; answering EOPNOTSUPP",
			  m->index, op);
		return -EOPNOTSUPP;
	}
	return ret;
}

/* Same for a byte count that must be <= max. */
static ssize_t vfs_ssize(struct mount *m, const char *op, ssize_t ret, size_t max)
{
	if (ret >= 0) {
		if ((size_t)ret > max) {
			vlog_once(
			    VLOG_ERR,
			    "vfs: mount %u: backend %s returned %zd for %zu bytes; answering EIO",
			    m->index, op, ret, max);
			return -EIO;
		}
		return ret;
	}
	if (ret <= -512)
		return vfs_errno(m, op, -512);
	return vfs_errno(m, op, (int)ret);
}

/* Subtract n from *c without going below 0; returns what was subtracted. */
static uint64_t vfs_counter_sub(_Atomic uint64_t *c, uint64_t n)
{
	uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
	uint64_t take;

	do {
		take = n > cur ? cur : n;
	} while (!atomic_compare_exchange_weak_explicit(c, &cur, cur - take, memory_order_relaxed,
							memory_order_relaxed));
	return take;
}

/* The caller as the backend sees it: ids mapped outside -> inside. vfs may be NULL
 * (then perm_checked is false: the caller only reads attributes). */
static void vfs_ctx(const struct vfs *vfs, const struct mount *m, const struct vfs_caller *c,
		    struct op_ctx *ctx)
{
	bool uid_ok, gid_ok;

	memset(ctx, 0, sizeof(*ctx));
	uid_ok = idmap_to_inside(&m->cfg->uid_map, c->uid, &ctx->uid);
	gid_ok = idmap_to_inside(&m->cfg->gid_map, c->gid, &ctx->gid);
	ctx->pid = c->pid;
	ctx->umask = c->umask;
	if (c->has_supp_gid)
		ctx->has_supp_gid = idmap_to_inside(&m->cfg->gid_map, c->supp_gid, &ctx->supp_gid);
	ctx->unmapped = !uid_ok || !gid_ok;
	ctx->kill_suidgid = c->kill_suidgid;
	ctx->perm_checked = vfs && vfs->cfg->fuse.default_permissions;
}

/* Backend attributes -> the kernel's: st_ino = nodeid, owner inside -> outside. */
static void vfs_attr_out(const struct mount *m, uint64_t ino, struct stat *st)
{
	st->st_ino = vfs_nodeid(m->index, ino);
	st->st_uid = idmap_to_outside(&m->cfg->uid_map, st->st_uid);
	st->st_gid = idmap_to_outside(&m->cfg->gid_map, st->st_gid);
}

/* A backend entry (which holds a lookup reference) -> the kernel's. Does not count. */
static int vfs_entry_out(const struct mount *m, const struct vfs_entry *be,
			 struct vfs_entry_reply *out)
{
	if (be->ino == 0 || be->ino > BACKEND_INO_MAX) {
		vlog_once(VLOG_ERR,
			  "vfs: mount %u: backend entry with ino %" PRIu64
			  " out of range; answering EIO",
			  m->index, be->ino);
		return -EIO;
	}
	out->e = *be;
	out->e.ino = vfs_nodeid(m->index, be->ino);
	/* 32 bits: all the kernel keeps (i_generation, and in a file handle). */
	out->e.generation = (uint32_t)(be->generation + m->generation);
	vfs_attr_out(m, be->ino, &out->e.attr);
	out->entry_timeout = m->cfg->timeouts.entry;
	out->attr_timeout = m->cfg->timeouts.attr;
	return 0;
}

/* One more kernel reference to (m, ino): an entry reply that reached the kernel. */
static void vfs_count_lookup(struct mount *m, uint64_t ino)
{
	assert(ino != 0 && ino <= BACKEND_INO_MAX); /* checked by vfs_entry_out */
	if (ino == BACKEND_ROOT_INO)
		atomic_fetch_add_explicit(&m->root_lookups, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&m->ino_lookups, 1, memory_order_relaxed);
}

/* vfs_entry_out, then count: for ops whose entry reply always reaches the kernel. */
static int vfs_entry_reply(struct mount *m, const struct vfs_entry *be, struct vfs_entry_reply *out)
{
	int err = vfs_entry_out(m, be, out);

	if (err)
		return err; /* the backend's reference on a bad ino cannot be returned */
	vfs_count_lookup(m, be->ino);
	return 0;
}

static void vfs_pseudo_reply(struct vfs *vfs, uint64_t ino, const struct stat *attr,
			     struct vfs_entry_reply *out)
{
	memset(out, 0, sizeof(*out));
	out->e.ino = ino;
	out->e.attr = *attr;
	out->entry_timeout = vfs->cfg->timeouts.entry;
	out->attr_timeout = vfs->cfg->timeouts.attr;
}

/* The entry of m's root (backend ino 1), not counted. */
static int vfs_root_entry(const struct vfs_caller *c, struct mount *m, struct vfs_entry_reply *out)
{
	struct vfs_entry e;
	struct op_ctx ctx;
	int err;

	memset(&e, 0, sizeof(e));
	if (atomic_load_explicit(&m->gone, memory_order_relaxed))
		return -ESTALE;
	e.ino = BACKEND_ROOT_INO;
	vfs_ctx(NULL, m, c, &ctx);
	err = vfs_errno(m, "getattr",
			m->ops->getattr(m->be, &ctx, BACKEND_ROOT_INO, false, 0, &e.attr));
	if (!err && e.attr.st_nlink == 0 && vfs_source_gone(m))
		err = -ESTALE;
	if (err)
		return err;
	return vfs_entry_out(m, &e, out);
}

/*
 * Start a namespace change in directory nodeid: the pseudofs and read-only
 * mounts give -EROFS; a creating op by an unmapped caller gives -EOVERFLOW.
 * On 0, t->m is referenced and *ctx filled.
 */
static int vfs_begin_change(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid,
			    bool creating, struct vfs_target *t, struct op_ctx *ctx)
{
	int err = vfs_resolve(vfs, nodeid, t);

	if (err)
		return err;
	if (!t->m)
		return vfs_pseudo_answer(vfs, t, -EROFS);
	if (t->m->cfg->readonly) {
		err = -EROFS;
		goto out_put;
	}
	vfs_ctx(vfs, t->m, c, ctx);
	if (creating && ctx->unmapped) {
		err = -EOVERFLOW;
		goto out_put;
	}
	return 0;
out_put:
	mount_put(t->m);
	t->m = NULL;
	return err;
}

/* The same for an op naming two nodeids (rename, link): they must share an index. */
static int vfs_begin_change2(struct vfs *vfs, const struct vfs_caller *c, uint64_t a, uint64_t b,
			     bool creating, struct vfs_target *t, struct op_ctx *ctx)
{
	int err;

	t->m = NULL; /* every early return leaves no reference behind */
	if (vfs_nodeid_index(a) != vfs_nodeid_index(b)) {
		/* A stale nodeid stays ESTALE; two live ones in two places are EXDEV. */
		err = vfs_check_live(vfs, a);
		if (!err)
			err = vfs_check_live(vfs, b);
		return err ? err : -EXDEV;
	}
	if (vfs_nodeid_ino(b) == 0)
		return vfs_stale(b);
	return vfs_begin_change(vfs, c, a, creating, t, ctx);
}

/* ---- life ------------------------------------------------------------------------------- */

void vfs_destroy(struct vfs *vfs)
{
	if (!vfs)
		return;
	mtab_destroy(vfs->mt); /* destroys each backend with its last reference */
	pseudofs_destroy(vfs->ps);
	free(vfs);
}

static const char *vfs_add_mount_reason(int err)
{
	switch (err) {
	case -EEXIST:
		return "path already used by another mount";
	case -EINVAL:
		return "bad path, or a mount inside another mount (nested mounts are not "
		       "supported yet)";
	case -ENAMETOOLONG:
		return "path component longer than 255 bytes";
	default:
		return strerror(-err);
	}
}

int vfs_create_custom(const struct vfsmux_config *cfg,
		      const struct backend_ops *(*find)(const char *type), struct vfs **out,
		      char *err, size_t errlen)
{
	char reason[256];
	struct vfs *vfs;
	int ret;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (cfg->nmounts > VFS_INDEX_MAX) {
		snprintf(err, errlen, "mounts: %zu mounts, at most %d", cfg->nmounts,
			 VFS_INDEX_MAX);
		return -EINVAL;
	}
	vfs = calloc(1, sizeof(*vfs));
	if (!vfs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vfs->cfg = cfg;
	ret = pseudofs_create(&cfg->pseudofs, &vfs->ps);
	if (ret)
		goto out_nomem;
	ret = mtab_create(&vfs->mt);
	if (ret)
		goto out_nomem;
	for (size_t i = 0; i < cfg->nmounts; i++) {
		const struct mount_config *mc = &cfg->mounts[i];
		uint16_t index = (uint16_t)(i + 1);
		const struct backend_ops *ops = mc->type ? find(mc->type) : NULL;
		struct mount *m;
		uint64_t parent;

		if (!ops) {
			snprintf(err, errlen, "mounts[%zu] (%s): unknown type \"%s\"", i, mc->path,
				 mc->type);
			ret = -EINVAL;
			goto out_destroy;
		}
		if (!ops->create || !ops->lookup || !ops->getattr) {
			snprintf(err, errlen, "mounts[%zu] (%s): type %s lacks a mandatory op", i,
				 mc->path, mc->type);
			ret = -EINVAL;
			goto out_destroy;
		}
		ret = pseudofs_add_mount(vfs->ps, mc->path, index, &parent);
		if (ret) {
			snprintf(err, errlen, "mounts[%zu] (%s): %s", i, mc->path,
				 vfs_add_mount_reason(ret));
			goto out_destroy;
		}
		ret = mount_create(ops, mc, index, parent, &m, reason, sizeof(reason));
		if (ret) {
			snprintf(err, errlen, "mounts[%zu] (%s): %s", i, mc->path, reason);
			goto out_destroy;
		}
		/* Testing only (`faults:`): put the fault injector in front of the
		 * backend. It then owns the backend, and m->ops->destroy frees both. */
		if (mc->faults.enabled) {
			ret = faulty_wrap(m->ops, m->be, &mc->faults, &m->ops, &m->be);
			if (ret) {
				mount_put(m);
				snprintf(err, errlen, "mounts[%zu] (%s): faults: %s", i, mc->path,
					 strerror(-ret));
				goto out_destroy;
			}
			vlog(VLOG_WARN, "vfs: mount %s: fault injection on (testing only)",
			     mc->path);
		}
		ret = mtab_install(vfs->mt, m);
		if (ret) {
			mount_put(m);
			snprintf(err, errlen, "mounts[%zu] (%s): %s", i, mc->path, strerror(-ret));
			goto out_destroy;
		}
	}
	*out = vfs;
	return 0;
out_nomem:
	snprintf(err, errlen, "out of memory");
out_destroy:
	vfs_destroy(vfs);
	return ret;
}

int vfs_create(const struct vfsmux_config *cfg, struct vfs **out, char *err, size_t errlen)
{
	return vfs_create_custom(cfg, backend_find, out, err, errlen);
}

/* ---- names ------------------------------------------------------------------------------ */

/* Lookup in a pseudo directory; a mount point answers with its backend root. */
static int vfs_lookup_pseudo(struct vfs *vfs, const struct vfs_caller *c, uint64_t dir,
			     const char *name, struct vfs_entry_reply *out)
{
	struct pseudofs_entry pe;
	struct mount *m;
	int err;

	err = pseudofs_lookup(vfs->ps, dir, name, &pe);
	if (err)
		return err == -ESTALE ? vfs_stale(dir) : err;
	if (!pe.mount) {
		vfs_pseudo_reply(vfs, pe.ino, &pe.attr, out);
		return 0;
	}
	m = mtab_get(vfs->mt, pe.mount);
	if (!m)
		return -ENOENT; /* detached meanwhile */
	err = vfs_root_entry(c, m, out);
	if (!err)
		vfs_count_lookup(m, BACKEND_ROOT_INO);
	mount_put(m);
	return err;
}

/*
 * LOOKUP "." found an object with no links: a handle of a removed file, or a
 * root whose source is gone. Gives back the backend's reference; -ESTALE.
 */
static int vfs_lookup_dot_unlinked(struct mount *m, const struct vfs_entry *e)
{
	if (e->ino != BACKEND_ROOT_INO) {
		if (m->ops->forget)
			m->ops->forget(m->be, e->ino, 1);
	} else {
		(void)vfs_source_gone(m); /* the root: vfs keeps its count, nothing taken */
	}
	return -ESTALE;
}

int vfs_lookup(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
	       struct vfs_entry_reply *out)
{
	const struct config_timeouts *to = &vfs->cfg->timeouts;
	struct vfs_target t;
	struct vfs_entry e;
	struct op_ctx ctx;
	int err;

	memset(out, 0, sizeof(*out));
	err = vfs_resolve(vfs, parent, &t);
	if (err)
		return err;
	if (!t.m) {
		err = vfs_lookup_pseudo(vfs, c, t.ino, name, out);
	} else if (t.ino == BACKEND_ROOT_INO && strcmp(name, "..") == 0) {
		/* Above a backend root is the pseudo directory holding the mount point. */
		err = vfs_lookup_pseudo(vfs, c, t.m->parent, ".", out);
	} else {
		to = &t.m->cfg->timeouts;
		memset(&e, 0, sizeof(e));
		vfs_ctx(vfs, t.m, c, &ctx);
		err = vfs_errno(t.m, "lookup", t.m->ops->lookup(t.m->be, &ctx, t.ino, name, &e));
		if (!err && strcmp(name, ".") == 0 && e.attr.st_nlink == 0)
			err = vfs_lookup_dot_unlinked(t.m, &e);
		if (!err)
			err = vfs_entry_reply(t.m, &e, out);
	}
	if (err == -ENOENT && to->negative > 0) {
		/* A negative entry: nodeid 0, cached for the negative timeout, not counted. */
		memset(out, 0, sizeof(*out));
		out->entry_timeout = to->negative;
		err = 0;
	}
	mount_put(t.m);
	return err;
}

void vfs_forget(struct vfs *vfs, uint64_t nodeid, uint64_t n)
{
	uint16_t index = vfs_nodeid_index(nodeid);
	uint64_t ino = vfs_nodeid_ino(nodeid);
	uint64_t took;
	struct mount *m;

	if (ino == 0) {
		vlog_once(VLOG_WARN, "vfs: forget for nodeid 0x%" PRIx64 "; ignored", nodeid);
		return;
	}
	if (index == 0) {
		pseudofs_forget(vfs->ps, ino, n);
		return;
	}
	m = mtab_get(vfs->mt, index);
	if (!m) {
		vlog_once(VLOG_WARN, "vfs: forget for unknown nodeid 0x%" PRIx64 "; ignored",
			  nodeid);
		return;
	}
	if (ino == BACKEND_ROOT_INO) {
		/* vfs keeps the root's count; the backend never sees it (backend.h). */
		took = vfs_counter_sub(&m->root_lookups, n);
		if (took < n)
			vlog_once(VLOG_WARN,
				  "vfs: mount %u: forget %" PRIu64 " of the root > %" PRIu64
				  " held; clamped",
				  m->index, n, took);
	} else {
		/* Exact per inode only in the backend, which clamps too. */
		took = vfs_counter_sub(&m->ino_lookups, n);
		if (took < n)
			vlog_once(VLOG_WARN,
				  "vfs: mount %u: forget %" PRIu64 " > %" PRIu64
				  " lookups outstanding; clamped",
				  m->index, n, took);
		if (m->ops->forget)
			m->ops->forget(m->be, ino, n);
	}
	mount_put(m);
}

int vfs_getattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, bool has_fh,
		uint64_t fh, struct stat *out, double *attr_timeout)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	memset(out, 0, sizeof(*out));
	*attr_timeout = 0;
	err = vfs_resolve_as(vfs, nodeid, has_fh, &t); /* fstat of an open file: I/O */
	if (err)
		return err;
	if (!t.m) {
		err = pseudofs_getattr(vfs->ps, t.ino, out);
		if (err)
			return vfs_stale(nodeid);
		*attr_timeout = vfs->cfg->timeouts.attr;
		return 0;
	}
	vfs_ctx(vfs, t.m, c, &ctx);
	err = vfs_errno(t.m, "getattr", t.m->ops->getattr(t.m->be, &ctx, t.ino, has_fh, fh, out));
	if (!err && t.ino == BACKEND_ROOT_INO && out->st_nlink == 0 && vfs_source_gone(t.m))
		err = -ESTALE;
	if (!err) {
		vfs_attr_out(t.m, t.ino, out);
		*attr_timeout = t.m->cfg->timeouts.attr;
	}
	mount_put(t.m);
	return err;
}

int vfs_setattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid,
		const struct vfs_setattr *in, struct stat *out, double *attr_timeout)
{
	struct vfs_setattr sa = *in;
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	memset(out, 0, sizeof(*out));
	*attr_timeout = 0;
	err = vfs_begin_change(vfs, c, nodeid, false, &t, &ctx);
	if (err)
		return err;
	/* A chown to an id with no inside form cannot be stored. */
	if ((sa.valid & VFS_SET_UID) && !idmap_to_inside(&t.m->cfg->uid_map, in->uid, &sa.uid)) {
		err = -EINVAL;
		goto out_put;
	}
	if ((sa.valid & VFS_SET_GID) && !idmap_to_inside(&t.m->cfg->gid_map, in->gid, &sa.gid)) {
		err = -EINVAL;
		goto out_put;
	}
	if (!t.m->ops->setattr) {
		err = -EPERM;
		goto out_put;
	}
	err = vfs_errno(t.m, "setattr", t.m->ops->setattr(t.m->be, &ctx, t.ino, &sa, out));
	if (!err) {
		vfs_attr_out(t.m, t.ino, out);
		*attr_timeout = t.m->cfg->timeouts.attr;
	}
out_put:
	mount_put(t.m);
	return err;
}

ssize_t vfs_readlink(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, char *buf,
		     size_t size)
{
	struct vfs_target t;
	struct op_ctx ctx;
	ssize_t ret;
	int err;

	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, -EINVAL); /* directories only */
	if (!t.m->ops->readlink) {
		ret = -EINVAL;
		goto out_put;
	}
	vfs_ctx(vfs, t.m, c, &ctx);
	ret = vfs_ssize(t.m, "readlink", t.m->ops->readlink(t.m->be, &ctx, t.ino, buf, size), size);
out_put:
	mount_put(t.m);
	return ret;
}

int vfs_mknod(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
	      mode_t mode, dev_t rdev, struct vfs_entry_reply *out)
{
	struct vfs_target t;
	struct vfs_entry e;
	struct op_ctx ctx;
	int err;

	memset(out, 0, sizeof(*out));
	err = vfs_begin_change(vfs, c, parent, true, &t, &ctx);
	if (err)
		return err;
	if (!t.m->ops->mknod) {
		err = -EPERM;
		goto out_put;
	}
	memset(&e, 0, sizeof(e));
	err = vfs_errno(t.m, "mknod", t.m->ops->mknod(t.m->be, &ctx, t.ino, name, mode, rdev, &e));
	if (!err)
		err = vfs_entry_reply(t.m, &e, out);
out_put:
	mount_put(t.m);
	return err;
}

int vfs_mkdir(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
	      mode_t mode, struct vfs_entry_reply *out)
{
	struct vfs_target t;
	struct vfs_entry e;
	struct op_ctx ctx;
	int err;

	memset(out, 0, sizeof(*out));
	err = vfs_begin_change(vfs, c, parent, true, &t, &ctx);
	if (err)
		return err;
	if (!t.m->ops->mkdir) {
		err = -EPERM;
		goto out_put;
	}
	memset(&e, 0, sizeof(e));
	err = vfs_errno(t.m, "mkdir", t.m->ops->mkdir(t.m->be, &ctx, t.ino, name, mode, &e));
	if (!err)
		err = vfs_entry_reply(t.m, &e, out);
out_put:
	mount_put(t.m);
	return err;
}

int vfs_symlink(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
		const char *target, struct vfs_entry_reply *out)
{
	struct vfs_target t;
	struct vfs_entry e;
	struct op_ctx ctx;
	int err;

	memset(out, 0, sizeof(*out));
	err = vfs_begin_change(vfs, c, parent, true, &t, &ctx);
	if (err)
		return err;
	if (!t.m->ops->symlink) {
		err = -EPERM;
		goto out_put;
	}
	memset(&e, 0, sizeof(e));
	err = vfs_errno(t.m, "symlink", t.m->ops->symlink(t.m->be, &ctx, t.ino, name, target, &e));
	if (!err)
		err = vfs_entry_reply(t.m, &e, out);
out_put:
	mount_put(t.m);
	return err;
}

int vfs_unlink(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	err = vfs_begin_change(vfs, c, parent, false, &t, &ctx);
	if (err)
		return err;
	err = t.m->ops->unlink
		  ? vfs_errno(t.m, "unlink", t.m->ops->unlink(t.m->be, &ctx, t.ino, name))
		  : -EPERM;
	mount_put(t.m);
	return err;
}

int vfs_rmdir(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	err = vfs_begin_change(vfs, c, parent, false, &t, &ctx);
	if (err)
		return err;
	err = t.m->ops->rmdir ? vfs_errno(t.m, "rmdir", t.m->ops->rmdir(t.m->be, &ctx, t.ino, name))
			      : -EPERM;
	mount_put(t.m);
	return err;
}

int vfs_rename(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
	       uint64_t newparent, const char *newname, unsigned flags)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	/* A mount point is a pseudofs name: renaming it, or into it, is EROFS or EXDEV here. */
	err = vfs_begin_change2(vfs, c, parent, newparent, false, &t, &ctx);
	if (err)
		return err;
	err = t.m->ops->rename
		  ? vfs_errno(t.m, "rename",
			      t.m->ops->rename(t.m->be, &ctx, t.ino, name,
					       vfs_nodeid_ino(newparent), newname, flags))
		  : -EPERM;
	mount_put(t.m);
	return err;
}

int vfs_link(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, uint64_t newparent,
	     const char *newname, struct vfs_entry_reply *out)
{
	struct vfs_target t;
	struct vfs_entry e;
	struct op_ctx ctx;
	int err;

	memset(out, 0, sizeof(*out));
	err = vfs_begin_change2(vfs, c, newparent, nodeid, true, &t, &ctx);
	if (err)
		return err;
	if (!t.m->ops->link) {
		err = -EPERM;
		goto out_put;
	}
	memset(&e, 0, sizeof(e));
	err = vfs_errno(t.m, "link",
			t.m->ops->link(t.m->be, &ctx, vfs_nodeid_ino(nodeid), t.ino, newname, &e));
	if (!err)
		err = vfs_entry_reply(t.m, &e, out);
out_put:
	mount_put(t.m);
	return err;
}

/* ---- files ------------------------------------------------------------------------------ */

static bool vfs_open_writes(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/*
 * With FUSE_WRITEBACK_CACHE the kernel may read pages of a file opened
 * write-only (to fill a partly written page), so the backend gets O_RDWR
 * (backend.h). The read-only check runs on the caller's flags first.
 */
static int vfs_backend_open_flags(const struct vfs *vfs, int flags)
{
	if (vfs->cfg->fuse.writeback_cache && (flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags;
}

static void vfs_open_init(struct vfs_open *o)
{
	memset(o, 0, sizeof(*o));
	o->backing_fd = -1;
}

int vfs_open(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, int flags,
	     struct vfs_open *out)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	vfs_open_init(out);
	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, -EISDIR); /* directories use OPENDIR */
	if (t.m->cfg->readonly && vfs_open_writes(flags)) {
		err = -EROFS;
		goto out_put;
	}
	if (t.m->ops->open) {
		vfs_ctx(vfs, t.m, c, &ctx);
		err = vfs_errno(
		    t.m, "open",
		    t.m->ops->open(t.m->be, &ctx, t.ino, vfs_backend_open_flags(vfs, flags), out));
	}
	if (!err)
		atomic_fetch_add_explicit(&t.m->handles, 1, memory_order_relaxed);
	else
		vfs_open_init(out);
out_put:
	mount_put(t.m);
	return err;
}

int vfs_create_file(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
		    mode_t mode, int flags, struct vfs_entry_reply *out, struct vfs_open *oout)
{
	struct vfs_target t;
	struct vfs_entry e;
	struct op_ctx ctx;
	int err;

	memset(out, 0, sizeof(*out));
	vfs_open_init(oout);
	err = vfs_begin_change(vfs, c, parent, true, &t, &ctx);
	if (err)
		return err;
	if (!t.m->ops->create_file) {
		err = -EPERM;
		goto out_put;
	}
	memset(&e, 0, sizeof(e));
	err = vfs_errno(t.m, "create",
			t.m->ops->create_file(t.m->be, &ctx, t.ino, name, mode,
					      vfs_backend_open_flags(vfs, flags), &e, oout));
	if (err) {
		vfs_open_init(oout);
		goto out_put;
	}
	err = vfs_entry_reply(t.m, &e, out);
	if (err) {
		/* The kernel will never release a handle it did not get. */
		if (t.m->ops->release)
			t.m->ops->release(t.m->be, e.ino, oout->fh, flags);
		vfs_open_init(oout);
		goto out_put;
	}
	atomic_fetch_add_explicit(&t.m->handles, 1, memory_order_relaxed);
out_put:
	mount_put(t.m);
	return err;
}

ssize_t vfs_read(struct vfs *vfs, uint64_t nodeid, uint64_t fh, void *buf, size_t size, off_t off)
{
	struct vfs_target t;
	ssize_t ret;
	int err;

	err = vfs_resolve_io(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, -EISDIR);
	ret = t.m->ops->read
		  ? vfs_ssize(t.m, "read", t.m->ops->read(t.m->be, t.ino, fh, buf, size, off), size)
		  : -EINVAL;
	mount_put(t.m);
	return ret;
}

ssize_t vfs_write(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, uint64_t fh,
		  const void *buf, size_t size, off_t off, int open_flags)
{
	struct vfs_target t;
	struct op_ctx ctx;
	ssize_t ret;
	int err;

	err = vfs_resolve_io(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, -EROFS);
	if (t.m->cfg->readonly) {
		ret = -EROFS;
		goto out_put;
	}
	if (!t.m->ops->write) {
		ret = -EPERM;
		goto out_put;
	}
	vfs_ctx(vfs, t.m, c, &ctx);
	ret =
	    vfs_ssize(t.m, "write",
		      t.m->ops->write(t.m->be, &ctx, t.ino, fh, buf, size, off, open_flags), size);
out_put:
	mount_put(t.m);
	return ret;
}

int vfs_flush(struct vfs *vfs, uint64_t nodeid, uint64_t fh, uint64_t lock_owner)
{
	struct vfs_target t;
	int err;

	err = vfs_resolve_io(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, 0);
	if (t.m->ops->flush)
		err = vfs_errno(t.m, "flush", t.m->ops->flush(t.m->be, t.ino, fh, lock_owner));
	mount_put(t.m);
	return err;
}

/* -1 handle on m (RELEASE, RELEASEDIR), clamped at 0. */
static void vfs_handle_put(struct mount *m)
{
	if (vfs_counter_sub(&m->handles, 1) == 0)
		vlog_once(VLOG_WARN, "vfs: mount %u: release with no handle outstanding", m->index);
}

void vfs_release(struct vfs *vfs, uint64_t nodeid, uint64_t fh, int flags)
{
	struct vfs_target t;

	if (vfs_resolve_io(vfs, nodeid, &t) || !t.m)
		return; /* stale logged by resolve; the pseudofs hands out no file handles */
	vfs_handle_put(t.m);
	if (t.m->ops->release)
		t.m->ops->release(t.m->be, t.ino, fh, flags);
	mount_put(t.m);
}

int vfs_fsync(struct vfs *vfs, uint64_t nodeid, uint64_t fh, bool datasync)
{
	struct vfs_target t;
	int err;

	err = vfs_resolve_io(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, 0);
	if (t.m->ops->fsync)
		err = vfs_errno(t.m, "fsync", t.m->ops->fsync(t.m->be, t.ino, fh, datasync));
	mount_put(t.m);
	return err;
}

/* ---- directories ------------------------------------------------------------------------ */

int vfs_opendir(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, int flags,
		struct vfs_open *out)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	vfs_open_init(out);
	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, 0); /* fh 0: the listing needs no state */
	if (t.m->ops->opendir) {
		vfs_ctx(vfs, t.m, c, &ctx);
		err =
		    vfs_errno(t.m, "opendir", t.m->ops->opendir(t.m->be, &ctx, t.ino, flags, out));
	}
	if (!err)
		atomic_fetch_add_explicit(&t.m->handles, 1, memory_order_relaxed);
	else
		vfs_open_init(out);
	mount_put(t.m);
	return err;
}

/* State of one READDIR(PLUS), shared by the pseudofs and backend sinks below. */
struct vfs_readdir {
	struct vfs *vfs;
	const struct vfs_caller *c;
	struct mount *m; /* backend dirs: the listed dir's mount (referenced by the caller) */
	uint64_t dir;	 /* ino of the listed directory (pseudofs or backend) */
	bool plus;
	vfs_fill_fn fill;
	void *data;
	size_t offered; /* entries the backend passed to vfs_dir_add, placed or not */
};

static bool vfs_is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* The server's fill: 0 placed, anything else "full, stop". */
static int vfs_fill(struct vfs_readdir *rd, const char *name, uint64_t nodeid, uint32_t type,
		    uint64_t off, const struct vfs_entry_reply *e)
{
	return rd->fill(rd->data, name, nodeid, type, off, e) == 0 ? 0 : 1;
}

/* A mount point in a pseudo directory shows its backend root. */
static int vfs_readdir_mount(struct vfs_readdir *rd, const struct pseudofs_dirent *d)
{
	uint64_t nodeid = vfs_nodeid(d->mount, BACKEND_ROOT_INO);
	struct vfs_entry_reply r;
	struct mount *m;
	int placed;

	m = mtab_get(rd->vfs->mt, d->mount);
	if (!m)
		return 0; /* detached meanwhile: no longer listed */
	if (!rd->plus) {
		placed = vfs_fill(rd, d->name, nodeid, DT_DIR, d->off, NULL);
	} else {
		/* A root that cannot answer getattr is listed by name only (nodeid 0). */
		if (vfs_root_entry(rd->c, m, &r))
			memset(&r, 0, sizeof(r));
		placed = vfs_fill(rd, d->name, nodeid, DT_DIR, d->off, &r);
		if (placed == 0 && r.e.ino)
			vfs_count_lookup(m, BACKEND_ROOT_INO);
	}
	mount_put(m);
	return placed;
}

static int vfs_readdir_pseudo_add(void *data, const struct pseudofs_dirent *d)
{
	struct vfs_readdir *rd = data;
	struct vfs_entry_reply r;
	struct stat st;
	int placed;

	if (d->mount)
		return vfs_readdir_mount(rd, d);
	if (!rd->plus || vfs_is_dot_or_dotdot(d->name))
		return vfs_fill(rd, d->name, d->ino, DT_DIR, d->off, NULL);
	if (pseudofs_getattr(rd->vfs->ps, d->ino, &st))
		return -EIO; /* cannot happen: the tree is static */
	vfs_pseudo_reply(rd->vfs, d->ino, &st, &r);
	placed = vfs_fill(rd, d->name, d->ino, DT_DIR, d->off, &r);
	if (placed == 0)
		pseudofs_ref(rd->vfs->ps, d->ino);
	return placed;
}

/* The vfs_dirbuf sink a backend fills: backend inos -> nodeids, counts placed plus entries. */
static int vfs_readdir_backend_add(struct vfs_dirbuf *db, const struct vfs_dirent *d)
{
	struct vfs_readdir *rd = db->data;
	struct mount *m = rd->m;
	struct vfs_entry_reply r;
	uint64_t nodeid;
	int placed;

	rd->offered++;
	if (strcmp(d->name, "..") == 0 && rd->dir == BACKEND_ROOT_INO)
		nodeid = vfs_nodeid(0, m->parent); /* above the root: the pseudo directory */
	else if (strcmp(d->name, ".") == 0)
		nodeid = vfs_nodeid(m->index, rd->dir);
	else if (d->ino != 0 && d->ino <= BACKEND_INO_MAX)
		nodeid = vfs_nodeid(m->index, d->ino);
	else
		goto bad_ino;
	if (!rd->plus || !d->entry || vfs_is_dot_or_dotdot(d->name))
		return vfs_fill(rd, d->name, nodeid, d->type, d->off, NULL);
	if (vfs_entry_out(m, d->entry, &r))
		goto bad_ino;
	/* d_ino and st_ino must agree: both are the entry's nodeid. */
	placed = vfs_fill(rd, d->name, r.e.ino, d->type, d->off, &r);
	if (placed == 0)
		vfs_count_lookup(m, d->entry->ino);
	return placed;
bad_ino:
	vlog_once(VLOG_ERR, "vfs: mount %u: readdir entry \"%s\" with ino %" PRIu64 "; skipped",
		  m->index, d->name, d->ino);
	return 0;
}

int vfs_readdir(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, uint64_t fh,
		uint64_t off, bool plus, vfs_fill_fn fill, void *data)
{
	struct vfs_readdir rd = { .vfs = vfs, .c = c, .plus = plus, .fill = fill, .data = data };
	struct vfs_dirbuf db = { .plus = plus, .add = vfs_readdir_backend_add, .data = &rd };
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	rd.dir = t.ino;
	if (!t.m) {
		err = pseudofs_readdir(vfs->ps, t.ino, off, vfs_readdir_pseudo_add, &rd);
		return err == -ESTALE ? vfs_stale(nodeid) : err;
	}
	rd.m = t.m;
	if (!t.m->ops->readdir) {
		err = -EOPNOTSUPP;
		goto out_put;
	}
	vfs_ctx(vfs, t.m, c, &ctx);
	err = vfs_errno(t.m, "readdir", t.m->ops->readdir(t.m->be, &ctx, t.ino, fh, off, &db));
	/* Every directory lists "." at least: nothing at all is a sign of a gone source. */
	if (!err && off == 0 && rd.offered == 0 && vfs_source_gone(t.m))
		err = -ESTALE;
out_put:
	mount_put(t.m);
	return err;
}

void vfs_releasedir(struct vfs *vfs, uint64_t nodeid, uint64_t fh)
{
	struct vfs_target t;

	if (vfs_resolve_io(vfs, nodeid, &t) || !t.m)
		return; /* pseudofs directories hand out fh 0 and keep nothing */
	vfs_handle_put(t.m);
	if (t.m->ops->releasedir)
		t.m->ops->releasedir(t.m->be, t.ino, fh);
	mount_put(t.m);
}

int vfs_fsyncdir(struct vfs *vfs, uint64_t nodeid, uint64_t fh, bool datasync)
{
	struct vfs_target t;
	int err;

	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, 0);
	if (t.m->ops->fsyncdir)
		err = vfs_errno(t.m, "fsyncdir", t.m->ops->fsyncdir(t.m->be, t.ino, fh, datasync));
	mount_put(t.m);
	return err;
}

/* ---- the rest --------------------------------------------------------------------------- */

int vfs_statfs(struct vfs *vfs, uint64_t nodeid, struct statvfs *out)
{
	struct vfs_target t;
	int err;

	memset(out, 0, sizeof(*out));
	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m) {
		err = vfs_pseudo_answer(vfs, &t, 0);
		if (!err)
			pseudofs_statfs(vfs->ps, out);
		return err;
	}
	if (t.m->ops->statfs) {
		err = vfs_errno(t.m, "statfs", t.m->ops->statfs(t.m->be, t.ino, out));
	} else {
		/* Nothing to report: like the pseudofs's. */
		pseudofs_statfs(vfs->ps, out);
	}
	mount_put(t.m);
	return err;
}

int vfs_access(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, int mask)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m) {
		/* Pseudofs ids are outside ids already: no map. */
		err = pseudofs_access(vfs->ps, t.ino, c->uid, c->gid, mask);
		if (err == -ESTALE)
			return vfs_stale(nodeid);
		return (mask & W_OK) ? -EROFS : err;
	}
	if (t.m->cfg->readonly && (mask & W_OK)) {
		err = -EROFS;
		goto out_put;
	}
	if (t.m->ops->access) {
		vfs_ctx(vfs, t.m, c, &ctx);
		err = vfs_errno(t.m, "access", t.m->ops->access(t.m->be, &ctx, t.ino, mask));
	}
out_put:
	mount_put(t.m);
	return err;
}

static bool vfs_acl_name(const char *name)
{
	return strcmp(name, "system.posix_acl_access") == 0 ||
	       strcmp(name, "system.posix_acl_default") == 0;
}

/*
 * The uids and gids named in a POSIX ACL (xattr form: a 4-byte version, then
 * 8-byte entries {u16 tag, u16 perm, u32 id}, little-endian; USER = 2 and
 * GROUP = 8 carry an id) through the mount's id_map, as owners are: the kernel
 * reads them as outside ids, the backend stores inside ones. inward: an id
 * with no mapping gives -EINVAL (the kernel refuses an ACL it cannot map);
 * outward it reads as the overflow id. A malformed value is left for the
 * backend to refuse.
 */
static int vfs_acl_ids(const struct mount *m, uint8_t *v, size_t size, bool inward)
{
	if (size < 4 || (size - 4) % 8 != 0)
		return 0;
	for (size_t off = 4; off < size; off += 8) {
		uint16_t tag = (uint16_t)(v[off] | v[off + 1] << 8);
		const struct config_id_map *map;
		uint32_t id, to;

		if (tag != 2 && tag != 8)
			continue;
		map = tag == 2 ? &m->cfg->uid_map : &m->cfg->gid_map;
		id = (uint32_t)v[off + 4] | (uint32_t)v[off + 5] << 8 | (uint32_t)v[off + 6] << 16 |
		     (uint32_t)v[off + 7] << 24;
		if (!inward)
			to = idmap_to_outside(map, id);
		else if (!idmap_to_inside(map, id, &to))
			return -EINVAL;
		for (int i = 0; i < 4; i++)
			v[off + 4 + i] = (uint8_t)(to >> (8 * i));
	}
	return 0;
}

int vfs_setxattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, const char *name,
		 const void *value, size_t size, int flags)
{
	struct vfs_target t;
	struct op_ctx ctx;
	uint8_t *acl = NULL;
	int err;

	err = vfs_begin_change(vfs, c, nodeid, false, &t, &ctx);
	if (err)
		return err;
	if (vfs_acl_name(name) && size) {
		acl = malloc(size);
		if (!acl) {
			err = -ENOMEM;
			goto out_put;
		}
		memcpy(acl, value, size);
		err = vfs_acl_ids(t.m, acl, size, true);
		if (err)
			goto out_put;
		value = acl;
	}
	err = t.m->ops->setxattr
		  ? vfs_errno(t.m, "setxattr",
			      t.m->ops->setxattr(t.m->be, &ctx, t.ino, name, value, size, flags))
		  : -EOPNOTSUPP;
out_put:
	free(acl);
	mount_put(t.m);
	return err;
}

/*
 * With FUSE_POSIX_ACL the kernel reads system.posix_acl_access before a group
 * permission check and denies access on any error but ENODATA, so a backend
 * (or the pseudofs, or a source filesystem) without ACLs must read as "no
 * ACL", not as "not supported".
 */
static ssize_t vfs_no_acl(const char *name, ssize_t ret)
{
	if (ret == -EOPNOTSUPP && vfs_acl_name(name))
		return -ENODATA;
	return ret;
}

ssize_t vfs_getxattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, const char *name,
		     void *buf, size_t size)
{
	struct vfs_target t;
	struct op_ctx ctx;
	ssize_t ret;
	int err;

	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_no_acl(name, vfs_pseudo_answer(vfs, &t, -EOPNOTSUPP));
	if (!t.m->ops->getxattr) {
		ret = vfs_no_acl(name, -EOPNOTSUPP);
		goto out_put;
	}
	vfs_ctx(vfs, t.m, c, &ctx);
	/* size 0 asks for the size needed: any non-negative answer is fine. */
	ret = vfs_ssize(t.m, "getxattr", t.m->ops->getxattr(t.m->be, &ctx, t.ino, name, buf, size),
			size ? size : SSIZE_MAX);
	if (ret > 0 && size && vfs_acl_name(name))
		(void)vfs_acl_ids(t.m, buf, (size_t)ret, false);
	ret = vfs_no_acl(name, ret);
out_put:
	mount_put(t.m);
	return ret;
}

ssize_t vfs_listxattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, char *buf,
		      size_t size)
{
	struct vfs_target t;
	struct op_ctx ctx;
	ssize_t ret;
	int err;

	err = vfs_resolve(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, -EOPNOTSUPP);
	if (!t.m->ops->listxattr) {
		ret = -EOPNOTSUPP;
		goto out_put;
	}
	vfs_ctx(vfs, t.m, c, &ctx);
	ret = vfs_ssize(t.m, "listxattr", t.m->ops->listxattr(t.m->be, &ctx, t.ino, buf, size),
			size ? size : SSIZE_MAX);
out_put:
	mount_put(t.m);
	return ret;
}

int vfs_removexattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, const char *name)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	err = vfs_begin_change(vfs, c, nodeid, false, &t, &ctx);
	if (err)
		return err;
	err = t.m->ops->removexattr
		  ? vfs_errno(t.m, "removexattr", t.m->ops->removexattr(t.m->be, &ctx, t.ino, name))
		  : -EOPNOTSUPP;
	mount_put(t.m);
	return err;
}

int vfs_fallocate(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, uint64_t fh,
		  int mode, off_t off, off_t len)
{
	struct vfs_target t;
	struct op_ctx ctx;
	int err;

	err = vfs_begin_change(vfs, c, nodeid, false, &t, &ctx);
	if (err)
		return err;
	err = t.m->ops->fallocate
		  ? vfs_errno(t.m, "fallocate",
			      t.m->ops->fallocate(t.m->be, &ctx, t.ino, fh, mode, off, len))
		  : -EOPNOTSUPP;
	mount_put(t.m);
	return err;
}

/* SEEK_DATA/SEEK_HOLE for a backend without lseek: the whole file is data. */
static off_t vfs_lseek_generic(struct mount *m, uint64_t ino, uint64_t fh, off_t off, int whence)
{
	struct op_ctx ctx;
	struct stat st;
	int err;

	memset(&ctx, 0, sizeof(ctx)); /* the daemon asks, not a caller */
	err = vfs_errno(m, "getattr", m->ops->getattr(m->be, &ctx, ino, true, fh, &st));
	if (err)
		return err;
	if (off < 0)
		return -EINVAL;
	if (off >= st.st_size)
		return -ENXIO;
	return whence == SEEK_DATA ? off : st.st_size;
}

off_t vfs_lseek(struct vfs *vfs, uint64_t nodeid, uint64_t fh, off_t off, int whence)
{
	struct vfs_target t;
	off_t ret;
	int err;

	err = vfs_resolve_io(vfs, nodeid, &t);
	if (err)
		return err;
	if (!t.m)
		return vfs_pseudo_answer(vfs, &t, -EINVAL); /* no files in the pseudofs */
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		ret = -EINVAL; /* the kernel does SET/CUR/END itself */
		goto out_put;
	}
	if (!t.m->ops->lseek) {
		ret = vfs_lseek_generic(t.m, t.ino, fh, off, whence);
		goto out_put;
	}
	ret = t.m->ops->lseek(t.m->be, t.ino, fh, off, whence);
	if (ret < 0)
		ret = vfs_errno(t.m, "lseek", ret <= -512 ? -512 : (int)ret);
out_put:
	mount_put(t.m);
	return ret;
}

ssize_t vfs_copy_file_range(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid_in,
			    uint64_t fh_in, off_t off_in, uint64_t nodeid_out, uint64_t fh_out,
			    off_t off_out, size_t len, unsigned flags)
{
	struct vfs_target t;
	struct op_ctx ctx;
	ssize_t ret;
	int err;

	/* Across mounts the kernel falls back to copying through userspace reads/writes. */
	err = vfs_begin_change2(vfs, c, nodeid_out, nodeid_in, false, &t, &ctx);
	if (err)
		return err;
	if (!t.m->ops->copy_file_range) {
		ret = -EOPNOTSUPP;
		goto out_put;
	}
	ret = vfs_ssize(t.m, "copy_file_range",
			t.m->ops->copy_file_range(t.m->be, &ctx, vfs_nodeid_ino(nodeid_in), fh_in,
						  off_in, t.ino, fh_out, off_out, len, flags),
			len);
out_put:
	mount_put(t.m);
	return ret;
}

int vfs_mount_stats(struct vfs *vfs, uint16_t index, struct vfs_mount_stats *out)
{
	struct mount *m;

	memset(out, 0, sizeof(*out));
	if (index == 0) {
		out->lookups = pseudofs_lookups(vfs->ps, 0);
		return 0;
	}
	m = mtab_get(vfs->mt, index);
	if (!m)
		return -ENOENT;
	out->lookups = atomic_load_explicit(&m->root_lookups, memory_order_relaxed) +
		       atomic_load_explicit(&m->ino_lookups, memory_order_relaxed);
	out->handles = atomic_load_explicit(&m->handles, memory_order_relaxed);
	mount_put(m);
	return 0;
}
