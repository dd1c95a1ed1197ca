/*
 * server/dispatch.c - decode one FUSE request, call vfs, encode the reply.
 *
 * The bytes come from the kernel, but they are decoded as untrusted input
 * (a fuzzer, a test or a kernel bug may send anything): the header's len must
 * equal the bytes read, every opcode has a fixed argument size checked before
 * any field is read, names must be NUL-terminated within the request, and
 * nothing is cast from the buffer in place (fields are copied out with
 * memcpy, so alignment never matters).
 *
 * Exactly one reply per request, written from one place (dispatch_request);
 * handlers only fill rq->out. FORGET, BATCH_FORGET and INTERRUPT get none.
 * Every error sent is a plain errno in (-512, 0]: the kernel rejects anything
 * else and the caller would hang (DESIGN §11).
 */
#include "server/backing.h"
#include "server/caller.h"
#include "server/fuse_kernel.h"
#include "server/log.h"
#include "server/session_int.h"
#include "server/uring.h"
#include "vfs/backend.h"
#include "vfs/vfs.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef XATTR_NAME_MAX
#define XATTR_NAME_MAX 255
#endif
#ifndef XATTR_SIZE_MAX
#define XATTR_SIZE_MAX 65536
#endif

/* Oldest kernel protocol we serve: 7.31 (Linux 5.4) has everything we negotiate. */
#define MIN_KERNEL_MINOR 31

struct request {
	struct worker *w;
	struct session *se;
	struct fuse_in_header hdr;
	const uint8_t *arg; /* arguments after the header, without extensions */
	size_t arglen;
	struct vfs_caller caller;

	/* The reply: up to two payload parts after the header. */
	const void *out1;
	size_t out1len;
	const void *out2;
	size_t out2len;
	union {
		struct fuse_entry_out entry;
		struct fuse_attr_out attr;
		struct fuse_open_out open;
		struct fuse_write_out write;
		struct fuse_statfs_out statfs;
		struct fuse_getxattr_out getxattr;
		struct fuse_lseek_out lseek;
		struct fuse_init_out init;
	} o;
	struct fuse_open_out create_open; /* CREATE's second part */

	/*
	 * What an OPEN or CREATE handed out, undone in send_reply() when the
	 * reply never reaches the kernel (interrupted, aborted): no RELEASE or
	 * FORGET would ever come for it.
	 */
	struct {
		bool handle;  /* fh was opened on nodeid */
		bool entry;   /* CREATE: nodeid got a lookup reference */
		bool backing; /* nodeid holds a backing_acquire() */
		uint64_t nodeid;
		uint64_t fh;
	} opened;
};

struct op_desc {
	const char *name;
	size_t fixed;	  /* bytes of fixed argument struct after the header */
	bool noreply;	  /* FORGET, BATCH_FORGET, INTERRUPT */
	bool before_init; /* may arrive before INIT was answered */
	int (*run)(struct request *rq);
};

/* ---- decoding helpers ---------------------------------------------------- */

/* Copy the fixed argument struct out of the request (size checked by the table). */
static void arg_fixed(const struct request *rq, void *dst, size_t size)
{
	assert(rq->arglen >= size);
	memcpy(dst, rq->arg, size);
}

/*
 * A name at *pos within the arguments: NUL-terminated inside them, non-empty,
 * without '/', at most NAME_MAX bytes (the kernel passes up to 1024).
 * Advances *pos past the NUL. "." and ".." are allowed only when dots is true.
 */
static int arg_name(const struct request *rq, size_t *pos, bool dots, const char **name)
{
	const char *s = (const char *)rq->arg + *pos;
	size_t left = rq->arglen - *pos;
	const char *nul;
	size_t n;

	if (*pos > rq->arglen)
		return -EINVAL;
	nul = memchr(s, '\0', left);
	if (!nul)
		return -EINVAL;
	n = (size_t)(nul - s);
	if (n == 0 || memchr(s, '/', n))
		return -EINVAL;
	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	if (!dots && (strcmp(s, ".") == 0 || strcmp(s, "..") == 0))
		return -EINVAL;
	*name = s;
	*pos += n + 1;
	return 0;
}

/* A NUL-terminated string that may contain '/' (symlink targets), at most maxlen bytes. */
static int arg_string(const struct request *rq, size_t *pos, size_t maxlen, int toolong,
		      const char **str)
{
	const char *s = (const char *)rq->arg + *pos;
	const char *nul;
	size_t n;

	if (*pos > rq->arglen)
		return -EINVAL;
	nul = memchr(s, '\0', rq->arglen - *pos);
	if (!nul)
		return -EINVAL;
	n = (size_t)(nul - s);
	if (n == 0)
		return -EINVAL;
	if (n > maxlen)
		return toolong;
	*str = s;
	*pos += n + 1;
	return 0;
}

/* Seconds as the kernel wants them; capped at about 31 years, which is "forever" here. */
static void timeout_split(double t, uint64_t *sec, uint32_t *nsec)
{
	uint64_t ns;

	if (!(t > 0)) {
		*sec = 0;
		*nsec = 0;
		return;
	}
	if (t > 1e9)
		t = 1e9;
	ns = (uint64_t)(t * 1e9);
	*sec = ns / 1000000000u;
	*nsec = (uint32_t)(ns % 1000000000u);
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)(st->st_blksize ? st->st_blksize : 4096);
}

static void fill_entry(struct fuse_entry_out *eo, const struct vfs_entry_reply *e)
{
	memset(eo, 0, sizeof(*eo));
	eo->nodeid = e->e.ino;
	eo->generation = e->e.generation;
	timeout_split(e->entry_timeout, &eo->entry_valid, &eo->entry_valid_nsec);
	if (e->e.ino) {
		timeout_split(e->attr_timeout, &eo->attr_valid, &eo->attr_valid_nsec);
		fill_attr(&eo->attr, &e->e.attr);
	}
}

/*
 * Kernel passthrough for an open the backend offered a backing fd for:
 * FOPEN_PASSTHROUGH and the id when the table gives one (server/backing.h).
 * Not with direct I/O: the backend asked for every byte to come through it.
 */
static void open_passthrough(struct request *rq, uint64_t nodeid, const struct vfs_open *vo,
			     struct fuse_open_out *oo)
{
	int id;

	if (!(rq->se->conn_flags & FUSE_PASSTHROUGH) || vo->backing_fd < 0 || vo->direct_io)
		return;
	id = backing_acquire(rq->se->backing, nodeid, vo->fh, vo->backing_fd);
	rq->opened.backing = true; /* one backing_release() per acquire, plain or not */
	if (id > 0) {
		/* The host file's page cache serves it: ours would be unused. */
		oo->open_flags |= FOPEN_PASSTHROUGH;
		oo->open_flags &= ~(uint32_t)FOPEN_KEEP_CACHE;
		vfsmux_open_out_set_backing_id(oo, id);
	}
}

static void fill_open(struct fuse_open_out *oo, const struct vfs_open *vo)
{
	memset(oo, 0, sizeof(*oo));
	oo->fh = vo->fh;
	if (vo->direct_io)
		oo->open_flags |= FOPEN_DIRECT_IO;
	if (vo->keep_cache)
		oo->open_flags |= FOPEN_KEEP_CACHE;
	if (vo->cache_dir)
		oo->open_flags |= FOPEN_CACHE_DIR;
	if (vo->nonseekable)
		oo->open_flags |= FOPEN_NONSEEKABLE;
	if (vo->noflush)
		oo->open_flags |= FOPEN_NOFLUSH;
}

static void reply_data(struct request *rq, const void *p, size_t len)
{
	rq->out1 = p;
	rq->out1len = len;
}

static int reply_entry(struct request *rq, const struct vfs_entry_reply *e)
{
	fill_entry(&rq->o.entry, e);
	reply_data(rq, &rq->o.entry, sizeof(rq->o.entry));
	return 0;
}

/* ---- handlers ------------------------------------------------------------ */

static int op_lookup(struct request *rq)
{
	struct vfs_entry_reply e;
	const char *name;
	size_t pos = 0;
	int err = arg_name(rq, &pos, true, &name);

	if (err)
		return err;
	err = vfs_lookup(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name, &e);
	return err ? err : reply_entry(rq, &e);
}

static int op_forget(struct request *rq)
{
	struct fuse_forget_in in;

	arg_fixed(rq, &in, sizeof(in));
	vfs_forget(rq->se->vfs, rq->hdr.nodeid, in.nlookup);
	return 0;
}

static int op_batch_forget(struct request *rq)
{
	struct fuse_batch_forget_in in;
	struct fuse_forget_one one;
	size_t pos = sizeof(in);

	arg_fixed(rq, &in, sizeof(in));
	if (in.count > (rq->arglen - pos) / sizeof(one)) {
		vlog_once(VLOG_WARN, "BATCH_FORGET count %" PRIu32 " exceeds its %zu bytes",
			  in.count, rq->arglen);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < in.count; i++, pos += sizeof(one)) {
		memcpy(&one, rq->arg + pos, sizeof(one));
		vfs_forget(rq->se->vfs, one.nodeid, one.nlookup);
	}
	return 0;
}

static int op_getattr(struct request *rq)
{
	struct fuse_getattr_in in;
	struct stat st;
	double tmo;
	int err;

	arg_fixed(rq, &in, sizeof(in));
	err = vfs_getattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid,
			  (in.getattr_flags & FUSE_GETATTR_FH) != 0, in.fh, &st, &tmo);
	if (err)
		return err;
	memset(&rq->o.attr, 0, sizeof(rq->o.attr));
	timeout_split(tmo, &rq->o.attr.attr_valid, &rq->o.attr.attr_valid_nsec);
	fill_attr(&rq->o.attr.attr, &st);
	reply_data(rq, &rq->o.attr, sizeof(rq->o.attr));
	return 0;
}

/*
 * What a local filesystem drops when a caller without CAP_FSETID writes,
 * truncates or fallocates (fs/attr.c setattr_should_drop_suidgid): setuid
 * always; setgid when group execute is set, or when the caller is outside the
 * file's group. Returned as VFS_SET_KILL_* bits for vfs_setattr, 0 when
 * nothing goes. uid 0 stands for CAP_FSETID, which no request carries: the
 * empty SETATTR of root's chown(-1, -1) keeps setgid, as on ext4.
 */
static uint32_t kill_bits(const struct request *rq, const struct stat *st)
{
	mode_t m = st->st_mode;

	if (!S_ISREG(m))
		return 0;
	if ((m & S_ISGID) && !(m & S_IXGRP) && rq->caller.uid != 0 &&
	    !caller_in_group(&rq->caller, st->st_gid))
		return VFS_SET_KILL_SUIDGID | VFS_SET_KILL_SGID;
	if ((m & S_ISUID) || ((m & S_ISGID) && (m & S_IXGRP)))
		return VFS_SET_KILL_SUIDGID;
	return 0;
}

static int op_setattr(struct request *rq)
{
	struct fuse_setattr_in in;
	struct vfs_setattr sa = { 0 };
	struct stat st;
	double tmo;
	int err;

	arg_fixed(rq, &in, sizeof(in));
	if (in.valid & FATTR_MODE) {
		sa.valid |= VFS_SET_MODE;
		sa.mode = in.mode;
	}
	if (in.valid & FATTR_UID) {
		sa.valid |= VFS_SET_UID;
		sa.uid = in.uid;
	}
	if (in.valid & FATTR_GID) {
		sa.valid |= VFS_SET_GID;
		sa.gid = in.gid;
	}
	if (in.valid & FATTR_SIZE) {
		if (in.size > (uint64_t)INT64_MAX)
			return -EFBIG;
		sa.valid |= VFS_SET_SIZE;
		sa.size = (off_t)in.size;
	}
	if (in.valid & FATTR_ATIME) {
		if (in.valid & FATTR_ATIME_NOW) {
			sa.valid |= VFS_SET_ATIME_NOW;
		} else {
			sa.valid |= VFS_SET_ATIME;
			sa.atime.tv_sec = (time_t)in.atime;
			sa.atime.tv_nsec = in.atimensec;
		}
	}
	if (in.valid & FATTR_MTIME) {
		if (in.valid & FATTR_MTIME_NOW) {
			sa.valid |= VFS_SET_MTIME_NOW;
		} else {
			sa.valid |= VFS_SET_MTIME;
			sa.mtime.tv_sec = (time_t)in.mtime;
			sa.mtime.tv_nsec = in.mtimensec;
		}
	}
	if (in.valid & FATTR_CTIME) {
		sa.valid |= VFS_SET_CTIME;
		sa.ctime.tv_sec = (time_t)in.ctime;
		sa.ctime.tv_nsec = in.ctimensec;
	}
	if ((in.atimensec >= 1000000000u && (sa.valid & VFS_SET_ATIME)) ||
	    (in.mtimensec >= 1000000000u && (sa.valid & VFS_SET_MTIME)))
		return -EINVAL;
	if (in.valid & FATTR_FH) {
		sa.has_fh = true;
		sa.fh = in.fh;
	}
	/*
	 * A SETATTR that sets nothing is the kernel removing privileges: with
	 * HANDLE_KILLPRIV_V2 it strips the kill bits and leaves the job to us.
	 * It comes from a write that bypassed us (kernel passthrough), from
	 * fallocate, and from chown(-1, -1), all by a caller without CAP_FSETID.
	 * A truncate by such a caller says so with FATTR_KILL_SUIDGID. Both
	 * follow kill_bits(). A chown carries the flag whoever calls (the
	 * kernel's chown drops setuid even for root): setuid goes, and setgid
	 * with group execute.
	 */
	if ((in.valid & FATTR_KILL_SUIDGID) ||
	    (!(in.valid & ~(uint32_t)(FATTR_FH | FATTR_LOCKOWNER)) &&
	     (rq->se->conn_flags & FUSE_HANDLE_KILLPRIV_V2))) {
		if (in.valid & (FATTR_UID | FATTR_GID)) {
			sa.valid |= VFS_SET_KILL_SUIDGID;
		} else {
			err = vfs_getattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid, sa.has_fh,
					  sa.fh, &st, &tmo);
			if (err)
				return err;
			sa.valid |= kill_bits(rq, &st);
		}
	}
	err = vfs_setattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid, &sa, &st, &tmo);
	if (err)
		return err;
	memset(&rq->o.attr, 0, sizeof(rq->o.attr));
	timeout_split(tmo, &rq->o.attr.attr_valid, &rq->o.attr.attr_valid_nsec);
	fill_attr(&rq->o.attr.attr, &st);
	reply_data(rq, &rq->o.attr, sizeof(rq->o.attr));
	return 0;
}

static int op_readlink(struct request *rq)
{
	size_t cap = rq->se->max_data < PATH_MAX ? rq->se->max_data : PATH_MAX;
	ssize_t n =
	    vfs_readlink(rq->se->vfs, &rq->caller, rq->hdr.nodeid, (char *)rq->w->outbuf, cap);

	if (n < 0)
		return (int)n;
	if ((size_t)n > cap)
		return -EIO;
	reply_data(rq, rq->w->outbuf, (size_t)n);
	return 0;
}

static int op_symlink(struct request *rq)
{
	struct vfs_entry_reply e;
	const char *name, *target;
	size_t pos = 0;
	int err;

	err = arg_name(rq, &pos, false, &name);
	if (!err)
		err = arg_string(rq, &pos, PATH_MAX - 1, -ENAMETOOLONG, &target);
	if (!err)
		err = vfs_symlink(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name, target, &e);
	return err ? err : reply_entry(rq, &e);
}

/*
 * The umask a backend applies to a create's mode: the caller's with
 * FUSE_DONT_MASK (negotiated with FUSE_POSIX_ACL, so that a parent's default
 * ACL can take the umask's place, as on a local filesystem), else 0: the
 * kernel has masked the mode already.
 */
static uint32_t caller_umask(const struct request *rq, uint32_t umask)
{
	return (rq->se->conn_flags & FUSE_DONT_MASK) ? umask & 0777 : 0;
}

static int op_mknod(struct request *rq)
{
	struct fuse_mknod_in in;
	struct vfs_entry_reply e;
	const char *name;
	size_t pos = sizeof(in);
	int err;

	arg_fixed(rq, &in, sizeof(in));
	rq->caller.umask = caller_umask(rq, in.umask);
	err = arg_name(rq, &pos, false, &name);
	if (!err)
		err =
		    vfs_mknod(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name, in.mode, in.rdev, &e);
	return err ? err : reply_entry(rq, &e);
}

static int op_mkdir(struct request *rq)
{
	struct fuse_mkdir_in in;
	struct vfs_entry_reply e;
	const char *name;
	size_t pos = sizeof(in);
	int err;

	arg_fixed(rq, &in, sizeof(in));
	rq->caller.umask = caller_umask(rq, in.umask);
	err = arg_name(rq, &pos, false, &name);
	if (!err)
		err = vfs_mkdir(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name,
				(in.mode & 07777) | S_IFDIR, &e);
	return err ? err : reply_entry(rq, &e);
}

static int op_unlink(struct request *rq)
{
	const char *name;
	size_t pos = 0;
	int err = arg_name(rq, &pos, false, &name);

	return err ? err : vfs_unlink(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name);
}

static int op_rmdir(struct request *rq)
{
	const char *name;
	size_t pos = 0;
	int err = arg_name(rq, &pos, false, &name);

	return err ? err : vfs_rmdir(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name);
}

static int do_rename(struct request *rq, size_t pos, uint64_t newdir, uint32_t flags)
{
	const char *name, *newname;
	int err;

	err = arg_name(rq, &pos, false, &name);
	if (!err)
		err = arg_name(rq, &pos, false, &newname);
	if (err)
		return err;
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	return vfs_rename(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name, newdir, newname, flags);
}

static int op_rename(struct request *rq)
{
	struct fuse_rename_in in;

	arg_fixed(rq, &in, sizeof(in));
	return do_rename(rq, sizeof(in), in.newdir, 0);
}

static int op_rename2(struct request *rq)
{
	struct fuse_rename2_in in;

	arg_fixed(rq, &in, sizeof(in));
	return do_rename(rq, sizeof(in), in.newdir, in.flags);
}

static int op_link(struct request *rq)
{
	struct fuse_link_in in;
	struct vfs_entry_reply e;
	const char *name;
	size_t pos = sizeof(in);
	int err;

	arg_fixed(rq, &in, sizeof(in));
	err = arg_name(rq, &pos, false, &name);
	/* The header names the new parent; the argument names the inode to link. */
	if (!err)
		err = vfs_link(rq->se->vfs, &rq->caller, in.oldnodeid, rq->hdr.nodeid, name, &e);
	return err ? err : reply_entry(rq, &e);
}

/*
 * With a writeback cache the kernel does O_APPEND itself (it owns the file
 * size), so the backend must not append on its own. vfs turns O_WRONLY into
 * O_RDWR for the same mode (backend.h).
 */
static int open_flags(const struct session *se, uint32_t flags)
{
	int f = (int)flags;

	if (se->conn_flags & FUSE_WRITEBACK_CACHE)
		f &= ~O_APPEND;
	return f;
}

/*
 * FUSE_HANDLE_KILLPRIV_V2: on a write, or an O_TRUNC open, by a caller without
 * CAP_FSETID the kernel leaves dropping setuid/setgid to us and says so with a
 * flag. Our own write or truncate keeps the bits (the daemon has CAP_FSETID),
 * so ask the backend as for a SETATTR with FATTR_KILL_SUIDGID, by the
 * kernel's rule (kill_bits). Done before the
 * write or open, as the kernel removes privileges before it writes; the
 * kernel checked write permission before sending either request. A CREATE
 * may carry the flag too, for a file that appeared between its LOOKUP and
 * the CREATE: only the backend knows whether it truncated an existing file
 * (whose bits go) or made a new one (whose setuid stays), so the flag goes
 * to it with the caller (op_ctx.kill_suidgid), and the CREATE reply's
 * attributes already show the result.
 */
static void notify_inval_attr(struct request *rq);

static int kill_suidgid(struct request *rq, bool has_fh, uint64_t fh)
{
	struct vfs_setattr sa = { .has_fh = has_fh, .fh = fh };
	struct stat st;
	double tmo;
	int err;

	/* Every write of an unprivileged caller carries the flag: look first. */
	err = vfs_getattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid, has_fh, fh, &st, &tmo);
	if (err)
		return err;
	sa.valid = kill_bits(rq, &st);
	if (!sa.valid)
		return 0;
	err = vfs_setattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid, &sa, &st, &tmo);
	/* Neither the WRITE nor the OPEN reply carries attributes: the kernel's
	 * cached mode would show the bits until its attribute timeout. */
	if (!err)
		notify_inval_attr(rq);
	return err;
}

static int op_open(struct request *rq)
{
	struct fuse_open_in in;
	struct vfs_open vo = { .backing_fd = -1 };
	int err;

	arg_fixed(rq, &in, sizeof(in));
	if ((in.open_flags & FUSE_OPEN_KILL_SUIDGID) && (in.flags & O_TRUNC)) {
		err = kill_suidgid(rq, false, 0);
		if (err)
			return err;
	}
	err = vfs_open(rq->se->vfs, &rq->caller, rq->hdr.nodeid, open_flags(rq->se, in.flags), &vo);
	if (err)
		return err;
	rq->opened.handle = true;
	rq->opened.nodeid = rq->hdr.nodeid;
	rq->opened.fh = vo.fh;
	fill_open(&rq->o.open, &vo);
	open_passthrough(rq, rq->hdr.nodeid, &vo, &rq->o.open);
	reply_data(rq, &rq->o.open, sizeof(rq->o.open));
	return 0;
}

static int op_create(struct request *rq)
{
	struct fuse_create_in in;
	struct vfs_entry_reply e;
	struct vfs_open vo = { .backing_fd = -1 };
	const char *name;
	size_t pos = sizeof(in);
	int err;

	arg_fixed(rq, &in, sizeof(in));
	rq->caller.umask = caller_umask(rq, in.umask);
	rq->caller.kill_suidgid = (in.open_flags & FUSE_OPEN_KILL_SUIDGID) && (in.flags & O_TRUNC);
	err = arg_name(rq, &pos, false, &name);
	if (!err)
		err = vfs_create_file(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name,
				      (in.mode & 07777) | S_IFREG,
				      open_flags(rq->se, in.flags) | O_CREAT, &e, &vo);
	if (err)
		return err;
	rq->opened.handle = rq->opened.entry = true;
	rq->opened.nodeid = e.e.ino;
	rq->opened.fh = vo.fh;
	fill_entry(&rq->o.entry, &e);
	fill_open(&rq->create_open, &vo);
	open_passthrough(rq, e.e.ino, &vo, &rq->create_open);
	reply_data(rq, &rq->o.entry, sizeof(rq->o.entry));
	rq->out2 = &rq->create_open;
	rq->out2len = sizeof(rq->create_open);
	return 0;
}

static int op_read(struct request *rq)
{
	struct fuse_read_in in;
	ssize_t n;

	arg_fixed(rq, &in, sizeof(in));
	if (in.size > rq->se->max_data)
		return -EINVAL;
	if (in.offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	n = vfs_read(rq->se->vfs, rq->hdr.nodeid, in.fh, rq->w->outbuf, in.size, (off_t)in.offset);
	if (n < 0)
		return (int)n;
	if ((size_t)n > in.size)
		return -EIO;
	reply_data(rq, rq->w->outbuf, (size_t)n);
	return 0;
}

static int op_write(struct request *rq)
{
	struct fuse_write_in in;
	ssize_t n;

	arg_fixed(rq, &in, sizeof(in));
	if (in.size > rq->arglen - sizeof(in))
		return -EINVAL;
	if (in.offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (in.write_flags & FUSE_WRITE_KILL_SUIDGID) {
		int err = kill_suidgid(rq, true, in.fh);

		if (err)
			return err;
	}
	n = vfs_write(rq->se->vfs, &rq->caller, rq->hdr.nodeid, in.fh, rq->arg + sizeof(in),
		      in.size, (off_t)in.offset, (int)in.flags);
	if (n < 0)
		return (int)n;
	if ((size_t)n > in.size)
		return -EIO;
	memset(&rq->o.write, 0, sizeof(rq->o.write));
	rq->o.write.size = (uint32_t)n;
	reply_data(rq, &rq->o.write, sizeof(rq->o.write));
	return 0;
}

static int op_statfs(struct request *rq)
{
	struct statvfs sv;
	struct fuse_kstatfs *k = &rq->o.statfs.st;
	int err = vfs_statfs(rq->se->vfs, rq->hdr.nodeid, &sv);

	if (err)
		return err;
	memset(&rq->o.statfs, 0, sizeof(rq->o.statfs));
	k->blocks = sv.f_blocks;
	k->bfree = sv.f_bfree;
	k->bavail = sv.f_bavail;
	k->files = sv.f_files;
	k->ffree = sv.f_ffree;
	k->bsize = (uint32_t)sv.f_bsize;
	k->namelen = (uint32_t)sv.f_namemax;
	k->frsize = (uint32_t)sv.f_frsize;
	reply_data(rq, &rq->o.statfs, sizeof(rq->o.statfs));
	return 0;
}

static int op_release(struct request *rq)
{
	struct fuse_release_in in;

	arg_fixed(rq, &in, sizeof(in));
	if (in.release_flags & FUSE_RELEASE_FLUSH)
		(void)vfs_flush(rq->se->vfs, rq->hdr.nodeid, in.fh, in.lock_owner);
	vfs_release(rq->se->vfs, rq->hdr.nodeid, in.fh, (int)in.flags);
	/* After the backend closed its fd: the kernel dropped the backing file already.
	 * Only an open that acquired gives back (backing.h): fh says which one. */
	if (rq->se->conn_flags & FUSE_PASSTHROUGH)
		backing_release(rq->se->backing, rq->hdr.nodeid, in.fh);
	return 0;
}

static int op_fsync(struct request *rq)
{
	struct fuse_fsync_in in;

	arg_fixed(rq, &in, sizeof(in));
	return vfs_fsync(rq->se->vfs, rq->hdr.nodeid, in.fh, (in.fsync_flags & 1) != 0);
}

/*
 * With FUSE_SETXATTR_EXT the request carries setxattr_flags: the kernel sets
 * FUSE_SETXATTR_ACL_KILL_SGID when a caller outside the file's group and
 * without CAP_FSETID sets an access ACL, which then drops setgid as chmod
 * would; the backend, acting with its own privileges, could not know.
 */
static int op_setxattr(struct request *rq)
{
	struct fuse_setxattr_in in;
	const char *name;
	size_t pos = FUSE_COMPAT_SETXATTR_IN_SIZE;
	int flags, err;

	memset(&in, 0, sizeof(in));
	if (rq->se->conn_flags & FUSE_SETXATTR_EXT) {
		if (rq->arglen < sizeof(in))
			return -EINVAL;
		pos = sizeof(in);
	}
	memcpy(&in, rq->arg, pos);
	err = arg_string(rq, &pos, XATTR_NAME_MAX, -ERANGE, &name);
	if (err)
		return err;
	if (in.size > XATTR_SIZE_MAX)
		return -E2BIG;
	if (in.size > rq->arglen - pos)
		return -EINVAL;
	if (in.flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	flags = (int)in.flags;
	if (in.setxattr_flags & FUSE_SETXATTR_ACL_KILL_SGID)
		flags |= VFS_XATTR_KILL_SGID;
	return vfs_setxattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name, rq->arg + pos, in.size,
			    flags);
}

/* GETXATTR and LISTXATTR share the size-probe protocol: size 0 asks how much is needed. */
static int xattr_reply(struct request *rq, uint32_t size, ssize_t n)
{
	if (n < 0)
		return (int)n;
	if (size == 0) {
		memset(&rq->o.getxattr, 0, sizeof(rq->o.getxattr));
		rq->o.getxattr.size = (uint32_t)n;
		reply_data(rq, &rq->o.getxattr, sizeof(rq->o.getxattr));
		return 0;
	}
	if ((size_t)n > size)
		return -ERANGE;
	reply_data(rq, rq->w->outbuf, (size_t)n);
	return 0;
}

static size_t xattr_cap(const struct request *rq, uint32_t size)
{
	size_t cap = size;

	if (cap > XATTR_SIZE_MAX)
		cap = XATTR_SIZE_MAX;
	if (cap > rq->se->max_data)
		cap = rq->se->max_data;
	return cap;
}

static int op_getxattr(struct request *rq)
{
	struct fuse_getxattr_in in;
	const char *name;
	size_t pos = sizeof(in);
	int err;

	arg_fixed(rq, &in, sizeof(in));
	err = arg_string(rq, &pos, XATTR_NAME_MAX, -ERANGE, &name);
	if (err)
		return err;
	return xattr_reply(rq, in.size,
			   vfs_getxattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name,
					in.size ? rq->w->outbuf : NULL, xattr_cap(rq, in.size)));
}

static int op_listxattr(struct request *rq)
{
	struct fuse_getxattr_in in;

	arg_fixed(rq, &in, sizeof(in));
	return xattr_reply(rq, in.size,
			   vfs_listxattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid,
					 in.size ? (char *)rq->w->outbuf : NULL,
					 xattr_cap(rq, in.size)));
}

static int op_removexattr(struct request *rq)
{
	const char *name;
	size_t pos = 0;
	int err = arg_string(rq, &pos, XATTR_NAME_MAX, -ERANGE, &name);

	return err ? err : vfs_removexattr(rq->se->vfs, &rq->caller, rq->hdr.nodeid, name);
}

static int op_flush(struct request *rq)
{
	struct fuse_flush_in in;

	arg_fixed(rq, &in, sizeof(in));
	return vfs_flush(rq->se->vfs, rq->hdr.nodeid, in.fh, in.lock_owner);
}

/*
 * Zero-message opendir. When the kernel offered FUSE_NO_OPENDIR_SUPPORT, the
 * first OPENDIR is answered -ENOSYS on purpose: the kernel then sets no_opendir
 * for the whole connection, never sends OPENDIR or RELEASEDIR again, and opens
 * every directory itself with fh 0 and FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR (the
 * flags every backend asks for today). A directory open then costs no round
 * trip instead of two. This is a connection-wide choice of the server, not a
 * backend's missing op (DESIGN §6's "never ENOSYS" is about those), and it is
 * safe because nothing needs a directory handle: the pseudofs, memfs and
 * passthrough (and the faulty wrapper over them) all list from the READDIR
 * offset alone with fh 0, with cookies that stay valid across calls and
 * opens, and fsync a directory without one (vfs/backend.h, readdir).
 * Old kernels without the flag keep the OPENDIR/RELEASEDIR path unchanged.
 */
static bool no_opendir(const struct session *se)
{
	return (se->conn_flags & FUSE_NO_OPENDIR_SUPPORT) != 0;
}

static int op_opendir(struct request *rq)
{
	struct fuse_open_in in;
	struct vfs_open vo = { .backing_fd = -1 };
	int err;

	if (no_opendir(rq->se))
		return -ENOSYS;
	arg_fixed(rq, &in, sizeof(in));
	err = vfs_opendir(rq->se->vfs, &rq->caller, rq->hdr.nodeid, (int)in.flags, &vo);
	if (err)
		return err;
	fill_open(&rq->o.open, &vo);
	reply_data(rq, &rq->o.open, sizeof(rq->o.open));
	return 0;
}

/* Where READDIR(PLUS) entries are packed: the worker's out buffer, up to the kernel's size. */
struct dirpack {
	uint8_t *buf;
	size_t size;
	size_t used;
	bool plus;
};

static int dirpack_add(void *data, const char *name, uint64_t ino, uint32_t type, uint64_t off,
		       const struct vfs_entry_reply *e)
{
	struct dirpack *dp = data;
	size_t namelen = strlen(name);
	size_t head = dp->plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	size_t reclen = FUSE_DIRENT_ALIGN(head + namelen);
	struct fuse_dirent d;
	uint8_t *p;

	if (reclen > dp->size - dp->used)
		return 1;
	p = dp->buf + dp->used;
	if (dp->plus) {
		struct fuse_entry_out eo;

		/* "." and ".." carry no entry: nodeid 0 means "name only" and is not counted. */
		if (e)
			fill_entry(&eo, e);
		else
			memset(&eo, 0, sizeof(eo));
		memcpy(p, &eo, sizeof(eo));
		p += sizeof(eo);
	}
	d.ino = ino;
	d.off = off;
	d.namelen = (uint32_t)namelen;
	d.type = type;
	memcpy(p, &d, FUSE_NAME_OFFSET);
	memcpy(p + FUSE_NAME_OFFSET, name, namelen);
	memset(p + FUSE_NAME_OFFSET + namelen, 0, reclen - head - namelen);
	dp->used += reclen;
	return 0;
}

static int do_readdir(struct request *rq, bool plus)
{
	struct fuse_read_in in;
	struct dirpack dp;
	int err;

	arg_fixed(rq, &in, sizeof(in));
	dp.buf = rq->w->outbuf;
	dp.size = in.size < rq->se->max_data ? in.size : rq->se->max_data;
	dp.used = 0;
	dp.plus = plus;
	err = vfs_readdir(rq->se->vfs, &rq->caller, rq->hdr.nodeid, in.fh, in.offset, plus,
			  dirpack_add, &dp);
	if (err && dp.used == 0)
		return err;
	/*
	 * An error after some entries were placed: those entries (and, for plus,
	 * their lookup references) must reach the kernel, so send them; the
	 * next READDIR from the last offset meets the error again.
	 */
	reply_data(rq, dp.buf, dp.used);
	return 0;
}

static int op_readdir(struct request *rq)
{
	return do_readdir(rq, false);
}

static int op_readdirplus(struct request *rq)
{
	return do_readdir(rq, true);
}

static int op_releasedir(struct request *rq)
{
	struct fuse_release_in in;

	/* With no_opendir no handle was ever issued: nothing to release, and a
	 * forged RELEASEDIR must not lower a mount's count of open handles. */
	if (no_opendir(rq->se))
		return 0;
	arg_fixed(rq, &in, sizeof(in));
	vfs_releasedir(rq->se->vfs, rq->hdr.nodeid, in.fh);
	return 0;
}

static int op_fsyncdir(struct request *rq)
{
	struct fuse_fsync_in in;

	arg_fixed(rq, &in, sizeof(in));
	return vfs_fsyncdir(rq->se->vfs, rq->hdr.nodeid, in.fh, (in.fsync_flags & 1) != 0);
}

static int op_access(struct request *rq)
{
	struct fuse_access_in in;

	arg_fixed(rq, &in, sizeof(in));
	if (in.mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	return vfs_access(rq->se->vfs, &rq->caller, rq->hdr.nodeid, (int)in.mask);
}

static int op_interrupt(struct request *rq)
{
	struct fuse_interrupt_in in;

	/*
	 * No operation of ours waits unboundedly (locks stay in the kernel, DESIGN §7),
	 * so the interrupted request finishes on its own and its real result is sent;
	 * answering EINTR instead could drop a lookup count or hide a completed write.
	 */
	arg_fixed(rq, &in, sizeof(in));
	if (vlog_enabled(VLOG_DEBUG))
		vlog(VLOG_DEBUG, "INTERRUPT of request %" PRIu64, in.unique);
	return 0;
}

static int op_destroy(struct request *rq)
{
	(void)rq;
	vlog(VLOG_INFO, "kernel sent DESTROY: the filesystem is being unmounted");
	return 0;
}

static int op_fallocate(struct request *rq)
{
	struct fuse_fallocate_in in;

	arg_fixed(rq, &in, sizeof(in));
	if (in.offset > (uint64_t)INT64_MAX || in.length > (uint64_t)INT64_MAX ||
	    in.offset + in.length > (uint64_t)INT64_MAX)
		return -EFBIG;
	return vfs_fallocate(rq->se->vfs, &rq->caller, rq->hdr.nodeid, in.fh, (int)in.mode,
			     (off_t)in.offset, (off_t)in.length);
}

static int op_lseek(struct request *rq)
{
	struct fuse_lseek_in in;
	off_t off;

	arg_fixed(rq, &in, sizeof(in));
	if (in.offset > (uint64_t)INT64_MAX)
		return -ENXIO;
	if (in.whence != SEEK_DATA && in.whence != SEEK_HOLE)
		return -EINVAL; /* the kernel does SEEK_SET/CUR/END itself */
	off = vfs_lseek(rq->se->vfs, rq->hdr.nodeid, in.fh, (off_t)in.offset, (int)in.whence);
	if (off < 0)
		return (int)off;
	memset(&rq->o.lseek, 0, sizeof(rq->o.lseek));
	rq->o.lseek.offset = (uint64_t)off;
	reply_data(rq, &rq->o.lseek, sizeof(rq->o.lseek));
	return 0;
}

static int op_copy_file_range(struct request *rq)
{
	struct fuse_copy_file_range_in in;
	size_t len;
	ssize_t n;

	arg_fixed(rq, &in, sizeof(in));
	if (in.off_in > (uint64_t)INT64_MAX || in.off_out > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* The reply's size is 32 bits: never copy more than it can report. */
	len = in.len > (UINT32_MAX & ~(uint64_t)4095) ? (UINT32_MAX & ~(size_t)4095) : in.len;
	n = vfs_copy_file_range(rq->se->vfs, &rq->caller, rq->hdr.nodeid, in.fh_in,
				(off_t)in.off_in, in.nodeid_out, in.fh_out, (off_t)in.off_out, len,
				(unsigned)in.flags);
	if (n < 0)
		return (int)n;
	memset(&rq->o.write, 0, sizeof(rq->o.write));
	rq->o.write.size = (uint32_t)((size_t)n > len ? len : (size_t)n);
	reply_data(rq, &rq->o.write, sizeof(rq->o.write));
	return 0;
}

static int op_tmpfile(struct request *rq)
{
	(void)rq;
	/* Not ENOSYS: no backend makes O_TMPFILE files yet, but one may (DESIGN §6). */
	return -EOPNOTSUPP;
}

/* What we ask for in INIT; only the bits the kernel offered are kept. */
static uint64_t init_wanted(const struct session *se)
{
	/*
	 * Not FUSE_ASYNC_DIO: with it the kernel completes an AIO O_DIRECT write
	 * without dropping the page-cache range it covers, and pages a buffered
	 * reader cached while the write was in flight keep the old bytes after
	 * it completed (xfstests generic/451). Without it the kernel runs such a
	 * write synchronously inside io_submit and drops the range afterwards, as
	 * for every other direct write. We cannot drop it ourselves: a
	 * FUSE_NOTIFY_INVAL_INODE from the WRITE handler waits on page locks
	 * that a buffered writer, or a reader whose READ needs a worker, holds.
	 */
	uint64_t want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
			FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
			FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS |
			FUSE_INIT_EXT | FUSE_CREATE_SUPP_GROUP |
			/*
			 * We drop setuid/setgid ourselves, told by per-request flags
			 * (kill_suidgid). In return the superblock gets SB_NOSEC: a
			 * file is checked for security.capability once, not before
			 * every write (a GETXATTR each), and a chown needs no GETATTR
			 * first. Capabilities stay the kernel's to remove.
			 */
			FUSE_HANDLE_KILLPRIV | FUSE_HANDLE_KILLPRIV_V2 |
			/*
			 * name_to_handle_at/open_by_handle_at, and so NFS re-export:
			 * the kernel then sends LOOKUP(nodeid, "..") for a directory's
			 * parent and LOOKUP(nodeid, ".") for a nodeid it forgot; vfs
			 * and every backend answer both (vfs/backend.h).
			 */
			FUSE_EXPORT_SUPPORT |
			/*
			 * Kernel -> server only: kept in conn_flags as "OPENDIR
			 * gets -ENOSYS" (see op_opendir), never sent back.
			 */
			FUSE_NO_OPENDIR_SUPPORT;

	/*
	 * POSIX ACLs: the kernel then enforces access ACLs (it asks for
	 * system.posix_acl_access as a GETXATTR and caches it) and leaves both
	 * the umask and default-ACL inheritance to the backend (FUSE_DONT_MASK:
	 * the create's mode comes unmasked, with the umask beside it). It implies
	 * default_permissions, so only when the config asks for that. With
	 * SETXATTR_EXT a setxattr tells whether setting an ACL drops setgid.
	 */
	if (se->opts.posix_acl)
		want |= FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT;
	/* The kernel refuses passthrough with writeback caching (DESIGN §6). */
	if (se->opts.writeback_cache)
		want |= FUSE_WRITEBACK_CACHE;
	else if (se->opts.passthrough)
		want |= FUSE_PASSTHROUGH;
	if (se->opts.io_uring && uring_available())
		want |= FUSE_OVER_IO_URING;
	return want;
}

static int op_init(struct request *rq)
{
	struct session *se = rq->se;
	struct fuse_init_in in;
	struct fuse_init_out *out = &rq->o.init;
	uint64_t offered;
	size_t have = rq->arglen < sizeof(in) ? rq->arglen : sizeof(in);

	memset(&in, 0, sizeof(in));
	memcpy(&in, rq->arg, have);
	memset(out, 0, sizeof(*out));
	if (atomic_load(&se->initialized)) {
		vlog_once(VLOG_WARN, "second INIT on one connection: refused");
		return -EIO;
	}
	if (in.major < 7) {
		vlog(VLOG_ERR, "kernel FUSE protocol %" PRIu32 ".%" PRIu32 " is too old", in.major,
		     in.minor);
		return -EPROTO;
	}
	out->major = FUSE_KERNEL_VERSION;
	out->minor = VFSMUX_FUSE_MINOR;
	if (in.major > 7) {
		/* The kernel retries with major 7 after seeing ours; send only the version. */
		reply_data(rq, out, FUSE_COMPAT_INIT_OUT_SIZE);
		return 0;
	}
	if (in.minor < MIN_KERNEL_MINOR) {
		vlog(VLOG_ERR, "kernel FUSE protocol 7.%" PRIu32 " is older than 7.%d", in.minor,
		     MIN_KERNEL_MINOR);
		return -EPROTO;
	}
	offered = in.flags;
	if ((in.flags & FUSE_INIT_EXT) && rq->arglen >= sizeof(in))
		offered |= (uint64_t)in.flags2 << 32;

	pthread_mutex_lock(&se->init_lock);
	se->proto_minor = in.minor < VFSMUX_FUSE_MINOR ? in.minor : VFSMUX_FUSE_MINOR;
	se->conn_flags = offered & init_wanted(se);
	/*
	 * Before the reply is written: the kernel sends requests the moment it
	 * reads it, and another worker must not refuse them as "before INIT".
	 */
	atomic_store_explicit(&se->initialized, true, memory_order_release);
	pthread_mutex_unlock(&se->init_lock);

	if (se->opts.io_uring && !(se->conn_flags & FUSE_OVER_IO_URING))
		vlog(VLOG_INFO, "io_uring: %s; requests stay on /dev/fuse",
		     uring_available()
			 ? "the kernel does not offer it (fuse module parameter enable_uring is N, "
			   "or the kernel is older than 6.14)"
			 : "this vfsmux was built without liburing");
	out->minor = se->proto_minor;
	out->max_readahead = in.max_readahead;
	out->flags = (uint32_t)(se->conn_flags & ~(uint64_t)FUSE_NO_OPENDIR_SUPPORT);
	out->flags2 = (uint32_t)(se->conn_flags >> 32);
	out->max_background = 64;
	out->congestion_threshold = 48;
	out->max_write = se->opts.max_write;
	out->time_gran = 1;
	if (se->conn_flags & FUSE_PASSTHROUGH) {
		/*
		 * Backing files may sit on a plain filesystem (depth 0) only. A
		 * source on overlayfs is read and written through the daemon, and
		 * our mount itself can still be a layer of an overlay.
		 */
		vfsmux_init_out_set_max_stack_depth(out, 1);
	}
	if (se->conn_flags & FUSE_MAX_PAGES)
		out->max_pages = (uint16_t)(se->opts.max_write / 4096);
	else if (out->max_write > 32 * 4096)
		out->max_write = 32 * 4096; /* the kernel's default page limit */
	vlog(VLOG_INFO,
	     "INIT: kernel 7.%" PRIu32 ", using 7.%" PRIu32 ", flags %#" PRIx64
	     ", max_write %" PRIu32,
	     in.minor, se->proto_minor, se->conn_flags, out->max_write);
	reply_data(rq, out, sizeof(*out));
	return 0;
}

/*
 * Indexed by opcode. fixed is the argument struct every request of that
 * opcode must carry; a shorter request is answered EINVAL without a look at
 * its fields. Opcodes absent here get ENOSYS: no backend can serve them
 * (locks are kept by the kernel, DESIGN §7; ioctl, poll, bmap, DAX mapping).
 */
static const struct op_desc op_table[] = {
	[FUSE_LOOKUP] = { "LOOKUP", 0, false, false, op_lookup },
	[FUSE_FORGET] = { "FORGET", sizeof(struct fuse_forget_in), true, false, op_forget },
	[FUSE_GETATTR] = { "GETATTR", sizeof(struct fuse_getattr_in), false, false, op_getattr },
	[FUSE_SETATTR] = { "SETATTR", sizeof(struct fuse_setattr_in), false, false, op_setattr },
	[FUSE_READLINK] = { "READLINK", 0, false, false, op_readlink },
	[FUSE_SYMLINK] = { "SYMLINK", 0, false, false, op_symlink },
	[FUSE_MKNOD] = { "MKNOD", sizeof(struct fuse_mknod_in), false, false, op_mknod },
	[FUSE_MKDIR] = { "MKDIR", sizeof(struct fuse_mkdir_in), false, false, op_mkdir },
	[FUSE_UNLINK] = { "UNLINK", 0, false, false, op_unlink },
	[FUSE_RMDIR] = { "RMDIR", 0, false, false, op_rmdir },
	[FUSE_RENAME] = { "RENAME", sizeof(struct fuse_rename_in), false, false, op_rename },
	[FUSE_LINK] = { "LINK", sizeof(struct fuse_link_in), false, false, op_link },
	[FUSE_OPEN] = { "OPEN", sizeof(struct fuse_open_in), false, false, op_open },
	[FUSE_READ] = { "READ", sizeof(struct fuse_read_in), false, false, op_read },
	[FUSE_WRITE] = { "WRITE", sizeof(struct fuse_write_in), false, false, op_write },
	[FUSE_STATFS] = { "STATFS", 0, false, false, op_statfs },
	[FUSE_RELEASE] = { "RELEASE", sizeof(struct fuse_release_in), false, false, op_release },
	[FUSE_FSYNC] = { "FSYNC", sizeof(struct fuse_fsync_in), false, false, op_fsync },
	[FUSE_SETXATTR] = { "SETXATTR", FUSE_COMPAT_SETXATTR_IN_SIZE, false, false, op_setxattr },
	[FUSE_GETXATTR] = { "GETXATTR", sizeof(struct fuse_getxattr_in), false, false,
			    op_getxattr },
	[FUSE_LISTXATTR] = { "LISTXATTR", sizeof(struct fuse_getxattr_in), false, false,
			     op_listxattr },
	[FUSE_REMOVEXATTR] = { "REMOVEXATTR", 0, false, false, op_removexattr },
	[FUSE_FLUSH] = { "FLUSH", sizeof(struct fuse_flush_in), false, false, op_flush },
	[FUSE_INIT] = { "INIT", 16 /* major, minor, readahead, flags */, false, true, op_init },
	[FUSE_OPENDIR] = { "OPENDIR", sizeof(struct fuse_open_in), false, false, op_opendir },
	[FUSE_READDIR] = { "READDIR", sizeof(struct fuse_read_in), false, false, op_readdir },
	[FUSE_RELEASEDIR] = { "RELEASEDIR", sizeof(struct fuse_release_in), false, false,
			      op_releasedir },
	[FUSE_FSYNCDIR] = { "FSYNCDIR", sizeof(struct fuse_fsync_in), false, false, op_fsyncdir },
	[FUSE_ACCESS] = { "ACCESS", sizeof(struct fuse_access_in), false, false, op_access },
	[FUSE_CREATE] = { "CREATE", sizeof(struct fuse_create_in), false, false, op_create },
	[FUSE_INTERRUPT] = { "INTERRUPT", sizeof(struct fuse_interrupt_in), true, true,
			     op_interrupt },
	[FUSE_DESTROY] = { "DESTROY", 0, false, true, op_destroy },
	[FUSE_BATCH_FORGET] = { "BATCH_FORGET", sizeof(struct fuse_batch_forget_in), true, false,
				op_batch_forget },
	[FUSE_FALLOCATE] = { "FALLOCATE", sizeof(struct fuse_fallocate_in), false, false,
			     op_fallocate },
	[FUSE_READDIRPLUS] = { "READDIRPLUS", sizeof(struct fuse_read_in), false, false,
			       op_readdirplus },
	[FUSE_RENAME2] = { "RENAME2", sizeof(struct fuse_rename2_in), false, false, op_rename2 },
	[FUSE_LSEEK] = { "LSEEK", sizeof(struct fuse_lseek_in), false, false, op_lseek },
	[FUSE_COPY_FILE_RANGE] = { "COPY_FILE_RANGE", sizeof(struct fuse_copy_file_range_in), false,
				   false, op_copy_file_range },
	[FUSE_TMPFILE] = { "TMPFILE", sizeof(struct fuse_create_in), false, false, op_tmpfile },
};

#define OP_TABLE_SIZE (sizeof(op_table) / sizeof(op_table[0]))

static const char *op_name(uint32_t opcode)
{
	if (opcode < OP_TABLE_SIZE && op_table[opcode].name)
		return op_table[opcode].name;
	if (opcode == VFSMUX_FUSE_STATX)
		return "STATX"; /* ENOSYS: the kernel then uses GETATTR for good */
	return "?";
}

/*
 * Request extensions (7.38+): a chain of {size, type} records after the
 * arguments, total_extlen * 8 bytes. Only FUSE_EXT_GROUPS is used.
 */
static int parse_extensions(struct request *rq, const uint8_t *ext, size_t extlen)
{
	size_t pos = 0;

	while (pos < extlen) {
		struct fuse_ext_header eh;

		if (extlen - pos < sizeof(eh))
			return -EINVAL;
		memcpy(&eh, ext + pos, sizeof(eh));
		if (eh.size < sizeof(eh) || eh.size % 8 || eh.size > extlen - pos)
			return -EINVAL;
		if (eh.type == FUSE_EXT_GROUPS) {
			uint32_t nr, gid;

			if (eh.size < sizeof(eh) + sizeof(uint32_t))
				return -EINVAL;
			memcpy(&nr, ext + pos + sizeof(eh), sizeof(nr));
			if (nr > (eh.size - sizeof(eh) - sizeof(nr)) / sizeof(uint32_t))
				return -EINVAL;
			if (nr >= 1) {
				memcpy(&gid, ext + pos + sizeof(eh) + sizeof(nr), sizeof(gid));
				rq->caller.has_supp_gid = true;
				rq->caller.supp_gid = gid;
			}
		}
		pos += eh.size;
	}
	return 0;
}

/*
 * Write one message to the kernel (or the tests' writer): 0 or -errno. The
 * reply to a request that came by ring goes back into its entry; a
 * notification (reply false) always goes by /dev/fuse.
 */
static ssize_t send_iov(struct request *rq, const struct iovec *iov, int n, bool reply)
{
	if (rq->se->writer)
		return rq->se->writer(rq->se->writer_data, iov, n);
	if (reply && rq->w->ring)
		return uring_stage_reply(rq->w->ring, iov, n);
	return writev(rq->w->fd, iov, n) < 0 ? -errno : 0;
}

/* An OPEN/CREATE reply the kernel never took: give back what it handed out. */
static void undo_open(struct request *rq)
{
	if (rq->opened.handle)
		vfs_release(rq->se->vfs, rq->opened.nodeid, rq->opened.fh, 0);
	if (rq->opened.backing)
		backing_release(rq->se->backing, rq->opened.nodeid, rq->opened.fh);
	if (rq->opened.entry)
		vfs_forget(rq->se->vfs, rq->opened.nodeid, 1);
}

static void send_reply(struct request *rq, int err)
{
	struct fuse_out_header oh;
	struct iovec iov[3];
	int n = 1;
	ssize_t rc;

	if (err > 0 || err <= -512) {
		vlog_once(VLOG_ERR, "%s returned %d; replying EIO", op_name(rq->hdr.opcode), err);
		err = -EIO;
	}
	oh.error = err;
	oh.unique = rq->hdr.unique;
	oh.len = sizeof(oh);
	iov[0].iov_base = &oh;
	iov[0].iov_len = sizeof(oh);
	if (!err) {
		if (rq->out1len) {
			iov[n].iov_base = (void *)rq->out1;
			iov[n++].iov_len = rq->out1len;
			oh.len += (uint32_t)rq->out1len;
		}
		if (rq->out2len) {
			iov[n].iov_base = (void *)rq->out2;
			iov[n++].iov_len = rq->out2len;
			oh.len += (uint32_t)rq->out2len;
		}
	}
	if (vlog_enabled(VLOG_DEBUG))
		vlog(VLOG_DEBUG, "   unique %" PRIu64 " %s -> %s%s (%" PRIu32 " bytes)",
		     rq->hdr.unique, op_name(rq->hdr.opcode), err ? "error " : "ok",
		     err ? strerror(-err) : "", oh.len);
	rc = send_iov(rq, iov, n, true);
	/* ENOENT: the request was interrupted or aborted and no longer wants an answer. */
	if (rc < 0 && rc != -ENOENT)
		vlog(VLOG_WARN, "reply to %s (unique %" PRIu64 ") failed: %s",
		     op_name(rq->hdr.opcode), rq->hdr.unique, strerror((int)-rc));
	if (rc < 0 && !err)
		undo_open(rq);
}

/*
 * FUSE_NOTIFY_INVAL_INODE with off -1: drop the kernel's cached attributes of
 * the request's node (not its pages). Safe from inside a request on the same
 * node: the kernel takes no inode lock for it. ENOENT means it holds no such
 * inode, so nothing is cached.
 */
static void notify_inval_attr(struct request *rq)
{
	struct fuse_out_header oh;
	struct fuse_notify_inval_inode_out o;
	struct iovec iov[2];
	ssize_t rc;

	memset(&o, 0, sizeof(o));
	o.ino = rq->hdr.nodeid;
	o.off = -1;
	oh.len = (uint32_t)(sizeof(oh) + sizeof(o));
	oh.error = FUSE_NOTIFY_INVAL_INODE;
	oh.unique = 0;
	iov[0].iov_base = &oh;
	iov[0].iov_len = sizeof(oh);
	iov[1].iov_base = &o;
	iov[1].iov_len = sizeof(o);
	rc = send_iov(rq, iov, 2, false);
	if (rc < 0 && rc != -ENOENT)
		vlog(VLOG_WARN, "invalidating the kernel's attributes of node %#" PRIx64 ": %s",
		     rq->hdr.nodeid, strerror((int)-rc));
}

void dispatch_request(struct worker *w, const uint8_t *buf, size_t len)
{
	struct session *se = w->se;
	struct request rq;
	const struct op_desc *op = NULL;
	size_t extlen;
	int err;

	if (len < sizeof(struct fuse_in_header)) {
		/* No unique to answer to: drop it, the kernel never sends this. */
		vlog_once(VLOG_WARN, "request of %zu bytes is shorter than its header; dropped",
			  len);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.w = w;
	rq.se = se;
	memcpy(&rq.hdr, buf, sizeof(rq.hdr));
	rq.caller.uid = rq.hdr.uid;
	rq.caller.gid = rq.hdr.gid;
	rq.caller.pid = rq.hdr.pid;
	if (rq.hdr.opcode < OP_TABLE_SIZE && op_table[rq.hdr.opcode].run)
		op = &op_table[rq.hdr.opcode];

	if (vlog_enabled(VLOG_DEBUG))
		vlog(VLOG_DEBUG,
		     "unique %" PRIu64 " %s(%" PRIu32 ") nodeid %#" PRIx64 " len %" PRIu32
		     " uid %" PRIu32 " gid %" PRIu32 " pid %" PRIu32,
		     rq.hdr.unique, op_name(rq.hdr.opcode), rq.hdr.opcode, rq.hdr.nodeid,
		     rq.hdr.len, rq.hdr.uid, rq.hdr.gid, rq.hdr.pid);

	if (rq.hdr.len != len) {
		vlog_once(VLOG_WARN, "request %s: header len %" PRIu32 " but %zu bytes read",
			  op_name(rq.hdr.opcode), rq.hdr.len, len);
		err = -EINVAL;
		goto reply;
	}
	extlen = (size_t)rq.hdr.total_extlen * 8;
	if (extlen > len - sizeof(rq.hdr)) {
		vlog_once(VLOG_WARN, "request %s: extensions exceed the request",
			  op_name(rq.hdr.opcode));
		err = -EINVAL;
		goto reply;
	}
	rq.arg = buf + sizeof(rq.hdr);
	rq.arglen = len - sizeof(rq.hdr) - extlen;
	if (extlen) {
		err = parse_extensions(&rq, rq.arg + rq.arglen, extlen);
		if (err) {
			vlog_once(VLOG_WARN, "request %s: malformed extensions",
				  op_name(rq.hdr.opcode));
			goto reply;
		}
	}
	if (!op) {
		if (vlog_enabled(VLOG_DEBUG))
			vlog(VLOG_DEBUG, "opcode %" PRIu32 " not implemented", rq.hdr.opcode);
		err = -ENOSYS;
		goto reply;
	}
	if (!op->before_init && !atomic_load_explicit(&se->initialized, memory_order_acquire)) {
		vlog_once(VLOG_WARN, "%s before INIT: refused", op->name);
		err = -EIO;
		goto reply;
	}
	if (rq.arglen < op->fixed) {
		vlog_once(VLOG_WARN, "request %s: %zu argument bytes, %zu needed", op->name,
			  rq.arglen, op->fixed);
		err = -EINVAL;
		goto reply;
	}
	err = op->run(&rq);
	/* A backend could not put this thread's credentials back (vfs/backend.h):
	 * the reply still goes out, then the loop retires the thread. */
	if (backend_thread_spoiled())
		w->retire = true;
reply:
	if (op && op->noreply)
		return; /* the kernel expects no answer, even to a malformed one */
	send_reply(&rq, err);
	if (op && op->run == op_init && !err && rq.out1len == sizeof(struct fuse_init_out))
		session_init_done(se);
}
