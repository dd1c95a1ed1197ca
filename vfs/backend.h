/*
 * vfs/backend.h - the contract between vfs and every backend type.
 *
 * Identifiers a backend sees:
 *   ino   the backend's own inode number, in [1, 2^48). Ino 1 is the backend's
 *         root and lives as long as the backend. Never a raw host st_ino: host
 *         numbers collide across devices, exceed 48 bits and are reused.
 *   fh    the backend's own 64-bit file/directory handle value; vfs never
 *         interprets it and routes RELEASE/RELEASEDIR back to the issuer.
 * vfs turns ino into the kernel's nodeid ((mount index << 48) | ino) and fixes
 * st_ino, uid/gid (id_map) and timeouts on the way out; backends fill st_ino
 * with their own ino and leave the rest to vfs.
 *
 * Rules for every op (return 0 or a negative errno in (-512, 0)):
 *  - Never return -ENOSYS for an op the kernel remembers (open, flush, fsync,
 *    xattrs, access, create, fallocate, lseek, copy_file_range, rename2...):
 *    the kernel would switch that op off for every mount of the connection.
 *    Leave the op NULL instead; vfs then answers per op (see vfs.c).
 *  - vfs answers -EROFS for a mutating op on a read-only mount before calling.
 *  - names are validated by the server: non-empty, no '/', <= NAME_MAX, and
 *    never "." or ".." except in lookup (where the backend resolves them).
 *  - A backend must not escape its own data (host paths outside its source).
 *  - Ops may be called concurrently from many worker threads, for the same ino
 *    too; the backend does its own locking and never blocks a worker forever.
 *
 * What the connection-wide INIT flags require of every backend:
 *  - FUSE_ATOMIC_O_TRUNC: open() honours O_TRUNC in flags.
 *  - FUSE_WRITEBACK_CACHE (only when the config enables it): the kernel may
 *    open write-only files for reading and sends mtime/ctime in setattr; open()
 *    must accept O_RDWR for files opened O_WRONLY (vfs rewrites the flags).
 *  - FUSE_DO_READDIRPLUS: readdir(plus=true) must fill entries (below).
 *  - FUSE_NO_OPENDIR_SUPPORT (taken whenever offered, server/dispatch.c):
 *    opendir/releasedir are then never called; readdir and fsyncdir get
 *    fh 0, meaning "no open handle", and work from ino and off alone, with
 *    cookies valid across calls and opens. Old kernels still call opendir,
 *    so a backend keeps it and never issues fh 0 there.
 *  - FUSE_HANDLE_KILLPRIV(_V2): setattr with VFS_SET_KILL_SUIDGID drops
 *    setuid, and setgid with group execute (or always, with
 *    VFS_SET_KILL_SGID), of a regular file (never of a directory); it may
 *    come alone, with no other bit set.
 *  - FUSE_POSIX_ACL, FUSE_DONT_MASK, FUSE_SETXATTR_EXT (with
 *    default_permissions): create/mkdir/mknod get the mode unmasked and
 *    op_ctx.umask beside it; the backend applies the parent's default ACL or,
 *    without one, the umask. The kernel checks access ACLs itself from
 *    getxattr(system.posix_acl_access); see setxattr below.
 *  - FUSE_PASSTHROUGH (unless the config turns it off): a regular file whose
 *    open or create hands back backing_fd >= 0 may be read, written and
 *    mapped by the kernel directly on that fd's file, so read and write are
 *    not called for that open; the fd must stay open until release. A backend
 *    that must see every byte (limits, data it keeps itself) gives -1.
 *  - FUSE_OVER_IO_URING (only when the config enables it): nothing new. Ops
 *    are called from ring threads as from workers, with the same buffers'
 *    lifetimes; a call that blocks holds its thread, and the server starts
 *    another for that CPU's queue.
 *  - FUSE_POSIX_LOCKS / FUSE_FLOCK_LOCKS are not negotiated: the kernel keeps
 *    locks itself, correctly between all processes using the mount.
 *  - FUSE_ASYNC_DIO is not negotiated (server/dispatch.c says why): an AIO
 *    O_DIRECT write reaches write() while io_submit waits, never after it
 *    returned; a backend sees nothing else of it.
 *  - FUSE_EXPORT_SUPPORT (file handles, NFS re-export): lookup(ino, ".")
 *    answers ino itself, for an ino of any type (the kernel sends it to
 *    decode a handle of a file or directory it forgot), and -ESTALE when the
 *    backend no longer knows ino; lookup(dir, "..") answers dir's parent
 *    (the root's own ".." never reaches a backend: vfs answers it). Both
 *    give a lookup reference like any entry. The kernel keeps (nodeid,
 *    generation) in a handle with 32 bits of generation, so an ino number
 *    given to another object than before must come with another generation
 *    in those 32 bits; a backend that never reuses a number gives 0.
 *
 * Lookup counts: every op that fills a struct vfs_entry (lookup, mknod, mkdir,
 * symlink, link, create, and readdir plus) gives the kernel one reference to
 * that ino, which it returns with forget(ino, n). The backend keeps an inode
 * while its count is > 0 (or it is open, or linked, as its semantics need).
 * vfs keeps the root's (ino 1) count itself and never passes forgets for it.
 */
#ifndef VFSMUX_BACKEND_H
#define VFSMUX_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

struct mount_config;
struct backend; /* opaque: each type defines its own */

#define BACKEND_ROOT_INO 1
#define BACKEND_INO_MAX	 ((UINT64_C(1) << 48) - 1)

/* Who is asking, with ids already mapped outside -> inside by the mount's id_map. */
struct op_ctx {
	uint32_t uid, gid; /* 65534 when the caller has no mapping */
	uint32_t pid;
	/*
	 * create/mkdir/mknod: the caller's umask, for the backend to apply unless
	 * the parent's default ACL takes its place (FUSE_DONT_MASK, negotiated
	 * with POSIX ACLs); 0 when the kernel has masked the mode already.
	 */
	uint32_t umask;
	bool has_supp_gid; /* FUSE_CREATE_SUPP_GROUP: the caller's group that owns
			    * the parent directory, if it is a supplementary one */
	uint32_t supp_gid;
	bool unmapped; /* caller's uid or gid has no mapping: creating gives -EOVERFLOW */
	/*
	 * create_file with O_TRUNC, flagged FUSE_OPEN_KILL_SUIDGID by the kernel (a
	 * caller without CAP_FSETID): if the file already exists, truncating it drops
	 * setuid, and setgid when group execute is set, as VFS_SET_KILL_SUIDGID. A
	 * file the call creates keeps the mode it asked for. A backend whose host
	 * truncates as the caller (passthrough) gets this from the host kernel.
	 */
	bool kill_suidgid;
	/*
	 * The kernel already checked permission and ownership for this request
	 * (mount option default_permissions). A backend that keeps its own
	 * permission model (memfs) then skips its owner/group checks: the
	 * kernel knew the caller's supplementary groups and capabilities and
	 * forces some changes (clearing setuid on a write by a non-owner) that
	 * no check by uid/gid alone would allow.
	 *
	 * false: the kernel checked nothing, and only the mounting user reaches
	 * the mount (root, or the daemon's own user): config validation refuses
	 * allow_other without default_permissions, because no backend checks
	 * every op as the caller (passthrough acts as the daemon except to
	 * create; memfs checks owners by uid only). A backend's own checks then
	 * only keep that one user to the rules a local filesystem would apply.
	 */
	bool perm_checked;
};

/* An entry reply. Filling one gives the kernel a reference (see above). */
struct vfs_entry {
	uint64_t ino;	     /* backend ino; 0 = negative entry (only from vfs) */
	uint64_t generation; /* differs when an ino number is reused for another object;
			      * only the low 32 bits reach the kernel (see above) */
	struct stat attr;    /* st_ino = ino; vfs rewrites it to the nodeid */
};

/* What open/create/opendir hand back. */
struct vfs_open {
	uint64_t fh;
	bool direct_io;	  /* FOPEN_DIRECT_IO: bypass the page cache */
	bool keep_cache;  /* FOPEN_KEEP_CACHE: the file did not change since the last open */
	bool cache_dir;	  /* FOPEN_CACHE_DIR (opendir) */
	bool nonseekable; /* FOPEN_NONSEEKABLE */
	bool noflush;	  /* FOPEN_NOFLUSH: close(2) needs no FLUSH (nothing to write
			   * back or report; locks are the kernel's) */
	int backing_fd;	  /* >= 0: an fd the server may register for kernel passthrough
			   * (the server closes nothing; the backend owns it). -1 = none. */
};

/* setxattr flag beside XATTR_CREATE/REPLACE: setting system.posix_acl_access
 * drops setgid (FUSE_SETXATTR_ACL_KILL_SGID: the caller is outside the file's
 * group and lacks CAP_FSETID, as for chmod). */
#define VFS_XATTR_KILL_SGID 0x100

/* SETATTR: fields are valid when their bit is set in valid. */
enum {
	VFS_SET_MODE = 1 << 0,
	VFS_SET_UID = 1 << 1,
	VFS_SET_GID = 1 << 2,
	VFS_SET_SIZE = 1 << 3,
	VFS_SET_ATIME = 1 << 4,	    /* to atime */
	VFS_SET_MTIME = 1 << 5,	    /* to mtime */
	VFS_SET_ATIME_NOW = 1 << 6, /* to the current time (UTIME_NOW) */
	VFS_SET_MTIME_NOW = 1 << 7,
	VFS_SET_CTIME = 1 << 8, /* writeback cache only */
	/* A caller without CAP_FSETID wrote, truncated or chowned: setuid goes,
	 * and setgid when group execute is set, of a regular file. */
	VFS_SET_KILL_SUIDGID = 1 << 9,
	/* With KILL_SUIDGID: the caller is outside the file's group, so setgid
	 * goes even without group execute (the kernel's setattr_should_drop_sgid;
	 * the server knows the caller's groups, the backend may not). */
	VFS_SET_KILL_SGID = 1 << 10,
};

struct vfs_setattr {
	uint32_t valid;
	mode_t mode;
	uid_t uid; /* inside ids (mapped by vfs) */
	gid_t gid;
	off_t size;
	struct timespec atime, mtime, ctime;
	bool has_fh; /* the kernel named an open file: use it (ftruncate on it) */
	uint64_t fh;
};

/*
 * READDIR / READDIRPLUS output. The backend calls vfs_dir_add() once per
 * entry, in its stable order, starting after offset `off` (0 = from the start).
 * d.off is the cookie that resumes *after* this entry: a listing interrupted
 * and resumed with it neither repeats nor skips entries.
 *
 * Plus mode (db->plus): for every entry except "." and "..", the backend first
 * takes a lookup reference exactly as lookup() would and passes the filled
 * entry in d.entry; if vfs_dir_add() answers 1 (full, not placed) the backend
 * drops that reference again (as forget(ino, 1) would) and stops. "." and ".."
 * are added with d.entry = NULL (the kernel does not count them).
 */
struct vfs_dirent {
	const char *name;
	uint64_t ino;		       /* backend ino (d_ino); for ".." of the root vfs fixes it */
	uint32_t type;		       /* DT_* */
	uint64_t off;		       /* resume cookie after this entry; never 0 */
	const struct vfs_entry *entry; /* plus mode only, NULL otherwise */
};

/* The sink a backend fills; vfs provides it (tests may provide their own). */
struct vfs_dirbuf {
	bool plus; /* READDIRPLUS: entries carry attributes and lookup references */
	/* 0 = placed; 1 = did not fit (nothing placed: stop). */
	int (*add)(struct vfs_dirbuf *db, const struct vfs_dirent *d);
	void *data; /* the provider's */
};

static inline int vfs_dir_add(struct vfs_dirbuf *db, const struct vfs_dirent *d)
{
	return db->add(db, d);
}

/*
 * The ops table. NULL members are answered by vfs (documented in vfs.c):
 * success for flush/fsync/fsyncdir/release, -EOPNOTSUPP for xattrs,
 * fallocate, lseek's SEEK_DATA/HOLE, copy_file_range, -EPERM/-EROFS for
 * mutations. type, create, destroy, lookup, forget and getattr are mandatory.
 */
struct backend_ops {
	const char *type; /* the config's `type:` */

	/* Build a backend from its config. On failure return -errno and write a
	 * one-line reason into err (errlen bytes), e.g. "source /x: not a directory". */
	int (*create)(const struct mount_config *cfg, struct backend **out, char *err,
		      size_t errlen);
	/* Called when no request, handle or kernel reference remains. */
	void (*destroy)(struct backend *be);

	/* +1 lookup on success. parent is a directory ino; name may be "." or "..". */
	int (*lookup)(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name, struct vfs_entry *out);
	/* Drop n kernel references. Never fails; n larger than held is clamped and logged. */
	void (*forget)(struct backend *be, uint64_t ino, uint64_t n);
	/* has_fh: fh names an open file of ino. */
	int (*getattr)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, bool has_fh,
		       uint64_t fh, struct stat *out);
	int (*setattr)(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
		       const struct vfs_setattr *in, struct stat *out);
	/* Returns the target length (<= size, not NUL-terminated) or -errno. */
	ssize_t (*readlink)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
			    size_t size);
	int (*mknod)(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name, mode_t mode, dev_t rdev, struct vfs_entry *out);
	int (*mkdir)(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name, mode_t mode, struct vfs_entry *out);
	int (*symlink)(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		       const char *name, const char *target, struct vfs_entry *out);
	int (*unlink)(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name);
	int (*rmdir)(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		     const char *name);
	/* flags: 0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT. */
	int (*rename)(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name, uint64_t newparent, const char *newname, unsigned flags);
	int (*link)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t newparent,
		    const char *newname, struct vfs_entry *out);

	/* flags are open(2) flags as the kernel passes them (no O_CREAT/O_EXCL). */
	int (*open)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
		    struct vfs_open *out);
	/* flags include O_CREAT and maybe O_EXCL/O_TRUNC. Success: +1 lookup and an open fh. */
	int (*create_file)(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
			   const char *name, mode_t mode, int flags, struct vfs_entry *out,
			   struct vfs_open *oout);
	/* Returns bytes read (0 at EOF; short only at EOF) or -errno. */
	ssize_t (*read)(struct backend *be, uint64_t ino, uint64_t fh, void *buf, size_t size,
			off_t off);
	/* Returns bytes written or -errno. A failed write leaves the file unchanged. */
	ssize_t (*write)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
			 const void *buf, size_t size, off_t off, int open_flags);
	int (*flush)(struct backend *be, uint64_t ino, uint64_t fh, uint64_t lock_owner);
	/* Last close of fh. Never fails from the kernel's point of view. */
	void (*release)(struct backend *be, uint64_t ino, uint64_t fh, int flags);
	int (*fsync)(struct backend *be, uint64_t ino, uint64_t fh, bool datasync);

	int (*opendir)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
		       struct vfs_open *out);
	/* Fill db from cookie off (see struct vfs_dirent). 0 or -errno; 0 with nothing
	 * added means end of directory. */
	int (*readdir)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		       uint64_t off, struct vfs_dirbuf *db);
	void (*releasedir)(struct backend *be, uint64_t ino, uint64_t fh);
	int (*fsyncdir)(struct backend *be, uint64_t ino, uint64_t fh, bool datasync);

	int (*statfs)(struct backend *be, uint64_t ino, struct statvfs *out);
	int (*access)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int mask);

	/* xattrs: getxattr/listxattr with size 0 return the size needed;
	 * a buffer too small gives -ERANGE. setxattr's flags are XATTR_CREATE,
	 * XATTR_REPLACE and VFS_XATTR_KILL_SGID. A backend that keeps POSIX ACLs
	 * (system.posix_acl_access/default) keeps them as a local filesystem
	 * does: setting the access ACL sets the mode with it, chmod updates the
	 * ACL, and create/mkdir/mknod inherit the parent's default ACL. One that
	 * does not answers -EOPNOTSUPP; vfs turns that into -ENODATA for getxattr
	 * (the kernel reads an ACL before group permission checks, and an error
	 * there would deny access). */
	int (*setxattr)(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			const char *name, const void *value, size_t size, int flags);
	ssize_t (*getxattr)(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			    const char *name, void *buf, size_t size);
	ssize_t (*listxattr)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
			     size_t size);
	int (*removexattr)(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
			   const char *name);

	/*
	 * Optional. Has the backend's source disappeared for good (a passthrough
	 * source directory removed on the host)? vfs asks only after a sign (an
	 * ENOENT or ESTALE answer, an empty listing, a root with no links); on
	 * true it answers ESTALE for the mount from then on (vfs.c, "gone").
	 * Must be cheap and must not block.
	 */
	bool (*source_gone)(struct backend *be);

	int (*fallocate)(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
			 int mode, off_t off, off_t len);
	/* SEEK_SET/CUR/END never reach a backend (the kernel does them); SEEK_DATA/HOLE do. */
	off_t (*lseek)(struct backend *be, uint64_t ino, uint64_t fh, off_t off, int whence);
	/* Both files belong to this backend (vfs answers -EXDEV otherwise). */
	ssize_t (*copy_file_range)(struct backend *be, const struct op_ctx *ctx, uint64_t ino_in,
				   uint64_t fh_in, off_t off_in, uint64_t ino_out, uint64_t fh_out,
				   off_t off_out, size_t len, unsigned flags);
};

/* backends/registry.c: the table of types. NULL when type is unknown. */
const struct backend_ops *backend_find(const char *type);
/* For messages: the known type names, NULL-terminated. */
const char *const *backend_type_names(void);

/*
 * backends/thread.c: a thread a backend could not put back in order.
 * passthrough switches the calling thread's fsuid, fsgid and supplementary
 * groups to the caller's around a creating call (the kernel keeps them per
 * thread). If it cannot switch back, the thread holds another user's rights:
 * the backend calls backend_thread_spoil(), which logs what failed on which
 * thread and marks it. The server sends the reply of the request in hand, then
 * retires the thread instead of letting it read another request
 * (server/session.c, server/uring.c); a spoiled thread never serves again.
 */
void backend_thread_spoil(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool backend_thread_spoiled(void); /* the calling thread's mark */

#endif
