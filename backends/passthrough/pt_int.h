/*
 * backends/passthrough/pt_int.h - private to the passthrough backend.
 *
 * Identifiers, and why each mapping exists:
 *   ino        our inode number, handed to vfs. 1 is the source root. A host
 *              file keeps one number for as long as it exists, across the
 *              kernel forgetting it (as on ext4: tar, rsync -H and du rely on
 *              it): (slot << 32) | hino, where slot in [1, PT_SLOT_MAX] names
 *              the host device (in the order first seen). An object gets an
 *              allocated number from PT_INO_ALLOC_BASE up instead when its
 *              hino needs more than 32 bits, when the slots ran out, or when
 *              its derived number is still held by an older object the host
 *              has since replaced (an unlinked file still open): the kernel
 *              never sees one number name two live objects (DESIGN §2).
 *   (dev,hino) the host's st_dev/st_ino: how we recognise that a name leads to
 *              an object we already know (hard links share one ino). Host
 *              numbers are reused after a delete, so a match is only trusted
 *              when the file handles agree too (the handle carries the
 *              generation), or when we hold an fd that keeps the old object alive.
 *   handle     the kernel file handle (name_to_handle_at): names the object
 *              without holding an fd, so fd use does not grow with the number
 *              of inodes the kernel remembers. Reopened with open_by_handle_at
 *              against the filesystem's mount fd when the fd cache misses;
 *              the source root too, so a mount holds no fd for its life.
 *   O_PATH fd  what every *at() call is made relative to; from the bounded LRU
 *              cache shared by all mounts (BY_HANDLE and BY_NAME, see
 *              enum pt_reach), or held for the inode's life (PINNED only).
 *   gen        the generation that goes with ino in the kernel's file handles
 *              of our mount: 32 bits hashed from the host's file handle,
 *              which carries the host's own generation. A derived number is
 *              given again to a new object once the kernel forgot the old one
 *              (the host reused hino), and the new object's gen differs, so an
 *              old handle of our mount answers ESTALE, not the new file. 0 for
 *              the root and where the host has no handles.
 *   hint       an ino the kernel does not hold, kept so that a later lookup
 *              returns the same number: an allocated one given out only as a
 *              plain READDIR d_ino (no handle, no fd; a free derived number
 *              needs no hint, a lookup derives it again), or any BY_HANDLE
 *              number the kernel forgot (handle kept, fds dropped; reused only if the
 *              handle still matches), which also lets LOOKUP(ino, ".") reopen
 *              it by handle for the kernel's open_by_handle_at. A lookup turns
 *              it into a real inode. At most be->hint_max are kept (oldest
 *              dropped).
 *   fh         an open file or directory: the real host fd, checked against the
 *              set of fds this backend handed out before use.
 *
 * Locking: be->lock guards the tables and the counts; the cached fds are the
 * shared cache's (vfs/fd_budget.h, its lock taken under be->lock). It is never
 * held across a host call that can block (open_by_handle_at, close of an fd
 * that may be the last reference of an unlinked file, I/O).
 */
#ifndef VFSMUX_PT_INT_H
#define VFSMUX_PT_INT_H

#define PT_SLOT_MAX	  0x7fffu
#define PT_INO_ALLOC_BASE (UINT64_C(1) << 47) /* above every derived number */

#include "config/config.h"
#include "vfs/backend.h"
#include "vfs/fd_budget.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define PT_DEFAULT_FD_CACHE 1024
#define PT_MIN_HINTS	    4096
#define PT_DIR_LOCKS	    64
#define PT_PROC_FD_LEN	    32	 /* "/proc/self/fd/" + an int */
#define PT_WALK_DEPTH	    4096 /* BY_NAME: uncached ancestors reopened by one walk */

/* Intrusive doubly linked list (LRU of cached fds, FIFO of hints). */
struct pt_list {
	struct pt_list *prev, *next;
};

/* One source filesystem (st_dev) met under the source. */
struct pt_fs {
	dev_t dev;
	bool handles; /* open_by_handle_at works here; false: inodes pin their fds */
	/*
	 * The mount fd open_by_handle_at wants (O_RDONLY|O_DIRECTORY: an O_PATH
	 * one gives EBADF). On the source root's filesystem (by_source) it is an
	 * fd of the shared cache like any other, so a mount holds no fd for
	 * life: a miss reopens the source directory, through the root's cached
	 * fd if there is one, else by the configured path (checked to lead to
	 * the same directory). Another filesystem met under the source has no
	 * such path: its mount fd stays open (pinned_mfd) for the mount's life.
	 */
	bool by_source;
	struct fdb_entry mfd;
	int pinned_mfd;
	bool noflush; /* no ->flush of its own: opens get FOPEN_NOFLUSH (pt_fs_get) */
	struct pt_fs *next;
};

/*
 * How an inode whose fd is not cached is reached again (set with its fd):
 *   BY_HANDLE  open_by_handle_at on its filesystem's mount fd.
 *   BY_NAME    without open_by_handle_at (no CAP_DAC_READ_SEARCH: a non-root
 *              daemon; or a filesystem without handles): openat(parent's fd,
 *              name, O_PATH|O_NOFOLLOW), accepted only if (st_dev, st_ino)
 *              and, where the filesystem gives handles, the handle (which
 *              carries the generation) are the inode's. The root: the source
 *              path, checked the same way. A lookup refreshes parent and name,
 *              a rename through the mount moves them; an object no longer
 *              under its recorded name (unlinked, renamed on the host) answers
 *              ESTALE once its cached fd is gone.
 *   PINNED     neither (an inode met through ".." whose name is not known):
 *              pinned_fd, held for the inode's life.
 */
enum pt_reach { PT_BY_HANDLE, PT_BY_NAME, PT_PINNED };

struct pt_inode {
	uint64_t ino; /* immutable */
	dev_t dev;    /* immutable */
	ino_t hino;   /* immutable */
	mode_t type;  /* S_IFMT bits; set once (a hint gets it at conversion) */
	uint32_t gen; /* see "gen" above; set with type */
	struct pt_fs *fs;
	enum pt_reach reach;	    /* set once with the first fd (a hint: at conversion) */
	struct file_handle *handle; /* identity (generation); BY_HANDLE reopens by it */
	int pinned_fd;		    /* PINNED: O_PATH fd for the inode's life, else -1 */
	/* BY_NAME, be->lock: where it was last seen. parent holds a reference
	 * (refs) on its parent inode, so a chain up to the root always exists. */
	struct pt_inode *parent;
	char *name;

	/* be->lock. The inode is freed when nlookup == 0 && refs == 0 (never the
	 * root). nlookup: +1 per entry reply, -n per forget, clamped at 0.
	 * refs: ops in flight (pt_inode_get/put). */
	uint64_t nlookup;
	uint32_t refs;
	bool hint;	 /* readdir-only number: no handle, no fd, refs == nlookup == 0 */
	bool hashed_key; /* in the (dev, hino) table; false once replaced by a newer object */

	/* The cached O_PATH fd (handle mode only), in the daemon's shared cache:
	 * its fields are the budget's (vfs/fd_budget.h), not be->lock's. */
	struct fdb_entry fde;
	struct pt_list link; /* be->lock: be->hints, for a hint */

	/* be->lock. What the file looked like at its last open: an open that finds
	 * it unchanged tells the kernel to keep its page cache (FOPEN_KEEP_CACHE). */
	struct timespec open_mtime;
	off_t open_size;
	bool opened;

	struct pt_inode *next_ino, *next_key; /* hash chains */
};

struct pt_table {
	struct pt_inode **b;
	size_t mask; /* buckets - 1, a power of two minus one */
	size_t n;
};

struct backend {
	char *source;
	bool readonly, allow_devices;
	bool as_root;	 /* geteuid() == 0 at create: switch fsuid around creating calls */
	gid_t *groups;	 /* the daemon's supplementary groups, restored after a switch */
	int ngroups;	 /* (pt_cred.c; read-only after create) */
	bool handles;	 /* the root's filesystem uses file handles */
	bool no_handles; /* test knob: act as if no filesystem had handles */

	pthread_mutex_t lock; /* see the top of this file */
	struct pt_inode *root;
	uint64_t next_ino; /* next allocated number (see ino above) */
	dev_t *slots;	   /* slots[k] is the host device of slot k + 1 */
	uint32_t nslots;
	struct pt_table by_ino, by_key;
	size_t ninodes, npinned;
	struct pt_fs *fs_list;

	struct fdb_owner fdo; /* this mount's share of the shared fd cache */

	struct pt_list hints; /* head = newest */
	size_t nhints, hint_max;

	/* Open file/dir fds this backend issued as fh; bit set = ours. */
	_Atomic uint64_t *fh_bits;
	size_t fh_nbits;
	pthread_mutex_t dir_locks[PT_DIR_LOCKS]; /* lseek+getdents on one dir fh */
};

/* pt_inode.c: the inode map. */
int pt_table_init(struct pt_table *t);
void pt_inodes_fini(struct backend *be);
/* Referenced inode for ino (not a hint), or NULL. Release with pt_inode_put. */
struct pt_inode *pt_inode_get(struct backend *be, uint64_t ino);
void pt_inode_put(struct backend *be, struct pt_inode *inode); /* NULL is a no-op */
/*
 * Find or make the inode for the object open at fd (stat in st) and add one
 * lookup. own: fd is an O_PATH fd whose ownership passes to the map (closed,
 * cached or pinned), on failure too; otherwise the caller keeps fd. dir and
 * name: where it was found (dir referenced by the caller), or NULL when not
 * known (".."); they let an inode without handles be reached again by name.
 */
int pt_inode_intern(struct backend *be, int fd, bool own, const struct stat *st,
		    struct pt_inode *dir, const char *name, uint64_t *ino, uint32_t *gen);
/* After a rename through the mount: the object now at name in dir (open at
 * dirfd) is found there from now on. */
void pt_inode_moved(struct backend *be, struct pt_inode *dir, int dirfd, const char *name);
/* Whether fd is i's object: (st_dev, st_ino), type, and handle where i has one. */
bool pt_inode_is(const struct pt_inode *i, int fd);
/*
 * An O_PATH fd of the object behind ino when the kernel forgot it and we kept
 * its handle (a hint reached by handle): 0 with *fd, or -ESTALE (unknown ino,
 * no handle, or the host object is gone). The caller interns it again.
 */
int pt_inode_reopen_forgotten(struct backend *be, uint64_t ino, int *fd);
/* +1 lookup on an inode the caller holds a reference to. */
void pt_inode_ref_lookup(struct backend *be, struct pt_inode *inode);
void pt_inode_forget(struct backend *be, uint64_t ino, uint64_t n);
/* The ino a directory entry shows as d_ino: a known inode's, else a hint. 0 on ENOMEM. */
uint64_t pt_inode_hint(struct backend *be, dev_t dev, ino_t hino);
/* Root inode (its fd cached when its filesystem has handles, else pinned);
 * called once by create. Takes ownership of fd, on failure too. */
int pt_inode_make_root(struct backend *be, int fd, const struct stat *st);
/* The pt_fs for dev (made from fd when fd is a directory), or NULL. */
struct pt_fs *pt_fs_get(struct backend *be, int fd, const struct stat *st);
void pt_list_del(struct pt_list *e);
void pt_list_add(struct pt_list *head, struct pt_list *e);

/*
 * Set fd to what open_expr (an open-like call: an fd, or -1 and errno) gives,
 * evaluating it again while the fd cache can give fds back after EMFILE or
 * ENFILE (fdb_retry). Afterwards fd < 0 means errno holds the open's error.
 * tries: an int the caller starts at 0.
 */
#define PT_RETRY_OPEN(fd, tries, open_expr)                                                        \
	do {                                                                                       \
		(fd) = (open_expr);                                                                \
	} while ((fd) < 0 && fdb_retry(errno, &(tries)))

/* pt_fdcache.c: the O_PATH fd of an inode, pinned while in use. */
int pt_fd_get(struct backend *be, struct pt_inode *inode, int *fd);
void pt_fd_put(struct backend *be, struct pt_inode *inode);
/* Offer a fresh O_PATH fd to the cache; returns an fd the caller must close, or -1. */
int pt_fdcache_donate_locked(struct backend *be, struct pt_inode *inode, int fd);
/* Remove inode's cached fd (it must be unpinned); returns it for closing, or -1. */
int pt_fdcache_drop_locked(struct backend *be, struct pt_inode *inode);
/* open_by_handle_at(h) on fs (which has handles) with flags: an fd or -errno. */
int pt_handle_open(struct backend *be, struct pt_fs *fs, struct file_handle *h, int flags);
/* Open the object for I/O (flags as open(2), no O_CREAT); the type was checked. */
int pt_inode_reopen(struct backend *be, struct pt_inode *inode, int flags);

/* pt_cred.c: act as the caller around a creating call. */
struct pt_cred {
	bool fs_switched;
	bool groups_switched;
	uint32_t old_uid, old_gid;
};
/* Record the daemon's supplementary groups (be->groups; as_root only): 0 or -errno. */
int pt_cred_init(struct backend *be);
void pt_cred_fini(struct backend *be);
/*
 * Switch the calling thread to ctx's fsuid, fsgid and groups (root daemon
 * only). 0: switched, or nothing to switch; then pt_cred_leave() must follow.
 * -errno: nothing is switched and the creating call must not be made.
 */
int pt_cred_enter(const struct backend *be, const struct op_ctx *ctx, struct pt_cred *saved);
/* Back to the daemon's credentials; a thread that cannot be is spoiled (backend.h). */
void pt_cred_leave(const struct backend *be, struct pt_cred *saved);

/* pt_umask.c: the caller's umask (op_ctx.umask) for the host's create, so that
 * the host applies either it or the parent's default ACL. Returns whether the
 * thread's umask was set (pass to pt_umask_leave); else *mode may have been
 * masked here instead. */
bool pt_umask_enter(const struct op_ctx *ctx, mode_t *mode);
void pt_umask_leave(bool set);

/* pt_file.c: fh bookkeeping. */
/* 0 (*fd may move off fd 0: fh 0 is "no handle"), or -EMFILE (fd closed). */
int pt_fh_add(struct backend *be, int *fd);
int pt_fh_fd(struct backend *be, uint64_t fh, int *fd); /* 0 or -EBADF */
void pt_fh_del(struct backend *be, int fd);

/* Validation shared by ops. */
int pt_check_name(const char *name); /* 0, -EINVAL, -ENAMETOOLONG */
void pt_proc_path(char buf[PT_PROC_FD_LEN], int fd);

/* The ops, defined across the files. */
int pt_getattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, bool has_fh, uint64_t fh,
	       struct stat *out);
int pt_setattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino,
	       const struct vfs_setattr *in, struct stat *out);
int pt_statfs(struct backend *be, uint64_t ino, struct statvfs *out);
int pt_access(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int mask);
int pt_setxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		const void *value, size_t size, int flags);
ssize_t pt_getxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		    void *buf, size_t size);
ssize_t pt_listxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
		     size_t size);
int pt_removexattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name);

int pt_open(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
	    struct vfs_open *out);
ssize_t pt_read(struct backend *be, uint64_t ino, uint64_t fh, void *buf, size_t size, off_t off);
ssize_t pt_write(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		 const void *buf, size_t size, off_t off, int open_flags);
int pt_flush(struct backend *be, uint64_t ino, uint64_t fh, uint64_t lock_owner);
void pt_release(struct backend *be, uint64_t ino, uint64_t fh, int flags);
int pt_fsync(struct backend *be, uint64_t ino, uint64_t fh, bool datasync);
int pt_opendir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
	       struct vfs_open *out);
int pt_readdir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
	       uint64_t off, struct vfs_dirbuf *db);
void pt_releasedir(struct backend *be, uint64_t ino, uint64_t fh);
int pt_fsyncdir(struct backend *be, uint64_t ino, uint64_t fh, bool datasync);
int pt_fallocate(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh, int mode,
		 off_t off, off_t len);
off_t pt_lseek(struct backend *be, uint64_t ino, uint64_t fh, off_t off, int whence);
ssize_t pt_copy_file_range(struct backend *be, const struct op_ctx *ctx, uint64_t ino_in,
			   uint64_t fh_in, off_t off_in, uint64_t ino_out, uint64_t fh_out,
			   off_t off_out, size_t len, unsigned flags);

int pt_create_file(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		   mode_t mode, int flags, struct vfs_entry *out, struct vfs_open *oout);

/* An inode referenced and its O_PATH fd pinned, for the length of an op. */
struct pt_held {
	struct pt_inode *inode;
	int fd;
};
int pt_hold(struct backend *be, uint64_t ino, struct pt_held *h); /* 0, -ESTALE or -errno */
void pt_unhold(struct backend *be, struct pt_held *h);		  /* after a failed hold: no-op */

/* passthrough.c: name lookup relative to an open directory (dirfd of dir). */
int pt_lookup_at(struct backend *be, struct pt_held *dir, const char *name, struct vfs_entry *out);

#endif
