/*
 * backends/memfs/memfs_int.h - private structures of the memfs backend.
 *
 * memfs is an in-memory filesystem with tmpfs semantics. Identifiers:
 *   ino     our own inode number: 1 = root, then 2, 3, ... allocated
 *           monotonically under ns_lock and never reused (48 bits last
 *           ~forever), so generation is always 0. Found through the inode
 *           hash table (never a pointer handed to the kernel); an ino that is
 *           not in the table gives -ESTALE.
 *   fh      the ino again: memfs keeps no per-open state (readdir resumes
 *           from cookies), the handle only pins the inode (nopen).
 *   cookie  per-directory readdir offset: "." = 1, ".." = 2, entries get
 *           3, 4, ... at insertion and keep it until removed, renames
 *           within the directory included (memfs_dir.c says why).
 *
 * Locking (two levels, always taken in this order):
 *   1. fs->ns_lock (rwlock, writer-preferring so a stream of readers cannot
 *      starve creates). Every op holds it for its whole duration, read or
 *      write. Write mode = exclusive over the whole fs: inode table, dentry
 *      hash, directory slot arrays, nlink, parent pointers, next_ino,
 *      ninodes, and inode lifetime (unhash/free) change only in write mode.
 *      Because every op holds ns_lock, an inode found under it cannot be
 *      freed until the lock is dropped.
 *   2. inode->lock (rwlock): attributes, data pages and xattrs of one inode.
 *      Writers of those fields hold ns_lock (read) + inode->lock (write), or
 *      ns_lock in write mode alone (namespace ops update parents' times that
 *      way); readers hold ns_lock (read) + inode->lock (read), or ns_lock
 *      (write). A thread holds at most one inode lock at a time.
 *   nlookup/nopen are atomics: incremented under ns_lock (either mode) on an
 *   inode found in the table; decremented under ns_lock (either mode); the
 *   decision to free is made again under ns_lock in write mode.
 *   Page accounting (fs->used_pages) is atomic and needs no lock.
 * Nothing here blocks on I/O while holding a lock (the seed runs before the
 * fs is shared).
 */
#ifndef VFSMUX_MEMFS_INT_H
#define VFSMUX_MEMFS_INT_H

#include "vfs/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define MEMFS_PAGE_SHIFT 12
#define MEMFS_PAGE_SIZE	 ((size_t)1 << MEMFS_PAGE_SHIFT)
/* Largest file size; page indices then fit in 51 bits (9 radix levels). */
#define MEMFS_MAX_FILESIZE     ((off_t)INT64_MAX)
#define MEMFS_SYMLINK_MAX      4095 /* PATH_MAX - 1 */
#define MEMFS_XATTR_NAME_MAX   255
#define MEMFS_XATTR_SIZE_MAX   65536
#define MEMFS_BOGO_DIRENT_SIZE 20 /* st_size of a directory per entry, as tmpfs */

/*
 * Sparse page store: a radix tree of 64-way nodes over page indices. Only
 * written pages (and fallocated ones) exist; a missing page reads as zeros.
 * Invariant: bytes of a page at or beyond the file size are zero, so growing
 * a file never exposes old data.
 */
struct memfs_pages {
	void *root;	 /* height 0: NULL; else a struct memfs_rnode */
	unsigned height; /* root covers indices < 64^height */
	uint64_t npages; /* pages present */
};

void memfs_pages_init(struct memfs_pages *p);
/* Frees every page and node. */
void memfs_pages_fini(struct memfs_pages *p);
/* The page at idx, or NULL for a hole. */
void *memfs_pages_get(const struct memfs_pages *p, uint64_t idx);
/* Place page at idx (which must be a hole). 0 or -ENOMEM (nothing changed). */
int memfs_pages_insert(struct memfs_pages *p, uint64_t idx, void *page);
/* Take the page at idx out (prunes empty nodes); returns it or NULL. */
void *memfs_pages_remove(struct memfs_pages *p, uint64_t idx);
/* First present index >= idx into *found; false when there is none. */
bool memfs_pages_next(const struct memfs_pages *p, uint64_t idx, uint64_t *found);

struct memfs_xattr {
	struct memfs_xattr *next;
	size_t size;
	char *value;
	char name[]; /* NUL-terminated */
};

struct memfs_dirent;

/* Slots in cookie order (append-only; removal leaves a tombstone, de == NULL). */
struct memfs_dslot {
	uint64_t cookie;
	struct memfs_dirent *de;
};

struct memfs_dir {
	struct memfs_dslot *slots;
	size_t nslots, cap; /* nslots includes tombstones */
	size_t nlive;	    /* entries (not counting "." and "..") */
	uint64_t next_cookie;
};

struct memfs_dirent {
	struct memfs_dirent *hnext; /* dentry hash chain */
	struct memfs_inode *dir;    /* the directory holding this entry */
	struct memfs_inode *inode;  /* what the name points to (holds one nlink) */
	uint64_t cookie;
	uint32_t hash;
	uint16_t namelen;
	char name[]; /* NUL-terminated */
};

struct memfs_inode {
	/* Immutable after creation. */
	uint64_t ino;
	mode_t type;  /* S_IFMT bits */
	char *target; /* symlinks: the target, NUL-terminated */

	/* ns_lock (write to change). */
	struct memfs_inode *hnext;  /* inode hash chain */
	uint32_t nlink;		    /* dirs: 2 + subdirs while linked, 0 once removed */
	struct memfs_inode *parent; /* dirs: the containing dir; root: itself; NULL once removed */
	struct memfs_dir dir;	    /* dirs only */
	/*
	 * Lifetime: the inode is freed (unhashed under ns_lock write) exactly
	 * when nlink == 0 && nlookup == 0 && nopen == 0, and never the root.
	 * nlookup: +1 per entry handed to the kernel, -n per forget.
	 * nopen:   +1 per open/create/opendir, -1 per release/releasedir.
	 */
	_Atomic uint64_t nlookup;
	_Atomic uint64_t nopen;

	/* inode->lock (see the lock rules above). */
	pthread_rwlock_t lock;
	mode_t mode; /* including the type bits */
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	off_t size; /* regular files: bytes; symlinks: target length */
	struct timespec atime, mtime, ctime;
	struct memfs_pages pages; /* regular files */
	struct memfs_xattr *xattrs;
};

struct memfs_itable {
	struct memfs_inode **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

struct memfs_dtable {
	struct memfs_dirent **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

struct backend; /* = struct memfs (opaque to vfs) */

struct memfs {
	pthread_rwlock_t ns_lock;
	struct memfs_itable itable; /* ns_lock */
	struct memfs_dtable dtable; /* ns_lock */
	uint64_t next_ino;	    /* ns_lock */
	uint64_t ninodes;	    /* live inodes incl. root; ns_lock */
	uint64_t inode_limit;	    /* 0 = unlimited */
	bool size_limited;	    /* size_limit was given */
	uint64_t page_limit;	    /* size_limit / 4096 (rounded down) */
	_Atomic uint64_t used_pages;
	_Atomic uint64_t freed_pages; /* freed since the last malloc_trim (memfs_trim) */
	struct memfs_inode *root;
};

/* The kernel's rule for a write, truncate or chown by someone without CAP_FSETID:
 * setuid goes, and setgid when group execute makes it mean "run as group" or the
 * caller is outside the file's group (outside_group; without group execute and
 * for a group member, setgid marks mandatory locking and stays). Inode lock held
 * for writing. */
static inline void memfs_drop_suidgid(struct memfs_inode *node, bool outside_group)
{
	node->mode &= ~(mode_t)S_ISUID;
	if ((node->mode & S_IXGRP) || outside_group)
		node->mode &= ~(mode_t)S_ISGID;
}

static inline struct memfs *memfs_of(struct backend *be)
{
	return (struct memfs *)be;
}

/* memfs.c: inode table and lifetime. Callers hold ns_lock as noted. */
struct memfs_inode *memfs_inode_find(struct memfs *fs, uint64_t ino); /* ns_lock any */
/* New inode with nlink 0, hashed (ns_lock write). 0, -ENOSPC or -ENOMEM. */
int memfs_inode_new(struct memfs *fs, mode_t mode, uid_t uid, gid_t gid, dev_t rdev,
		    struct memfs_inode **out);
bool memfs_inode_unused(const struct memfs_inode *node);
/* ns_lock write: unhash node if unused and push it on *dead for memfs_free_dead(). */
void memfs_inode_reap(struct memfs *fs, struct memfs_inode *node, struct memfs_inode **dead);
/* Give freed data pages back to the system once enough piled up. No lock held. */
void memfs_trim(struct memfs *fs);
void memfs_free_dead(struct memfs *fs, struct memfs_inode *dead);
/* Fill st from node; takes node->lock (read) unless locked is true. */
void memfs_stat(struct memfs_inode *node, struct stat *st, bool locked);
/* Fill an entry reply and take one lookup reference (ns_lock any). */
void memfs_entry(struct memfs_inode *node, struct vfs_entry *out);
void memfs_now(struct timespec *ts);
/* Reserve n pages against the limit: 0 or -ENOSPC. */
int memfs_reserve(struct memfs *fs, uint64_t n);
void memfs_unreserve(struct memfs *fs, uint64_t n);
/* Pages statfs shows in all / free (unlimited: half of RAM in all). */
uint64_t memfs_total_pages(struct memfs *fs);
uint64_t memfs_free_pages(struct memfs *fs);
bool memfs_in_group(const struct op_ctx *ctx, gid_t gid);

/* memfs_dir.c: the namespace. */
int memfs_dtable_init(struct memfs_dtable *t);
void memfs_dtable_fini(struct memfs_dtable *t);
void memfs_dir_fini(struct memfs_dir *d);
/* ns_lock write: link a fresh node under name in dir (as a create would). */
int memfs_dir_link_new(struct memfs *fs, struct memfs_inode *dir, const char *name,
		       struct memfs_inode *node);
struct memfs_dirent *memfs_dir_find(struct memfs *fs, struct memfs_inode *dir, const char *name);
int memfs_lookup(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		 struct vfs_entry *out);
int memfs_mknod(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		mode_t mode, dev_t rdev, struct vfs_entry *out);
int memfs_mkdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		mode_t mode, struct vfs_entry *out);
int memfs_symlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		  const char *target, struct vfs_entry *out);
int memfs_unlink(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name);
int memfs_rmdir(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name);
int memfs_rename(struct backend *be, const struct op_ctx *ctx, uint64_t parent, const char *name,
		 uint64_t newparent, const char *newname, unsigned flags);
int memfs_link(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t newparent,
	       const char *newname, struct vfs_entry *out);
int memfs_create_file(struct backend *be, const struct op_ctx *ctx, uint64_t parent,
		      const char *name, mode_t mode, int flags, struct vfs_entry *out,
		      struct vfs_open *oout);
int memfs_readdir(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		  uint64_t off, struct vfs_dirbuf *db);

/* memfs_data.c: file contents. */
/* node->lock write held: set the size, freeing pages past it. Cannot fail. */
void memfs_truncate_locked(struct memfs *fs, struct memfs_inode *node, off_t size);
/* node->lock write held: write as WRITE does (all or nothing). */
ssize_t memfs_write_locked(struct memfs *fs, struct memfs_inode *node, const void *buf, size_t size,
			   off_t off);
bool memfs_open_direct(int flags);
int memfs_open(struct backend *be, const struct op_ctx *ctx, uint64_t ino, int flags,
	       struct vfs_open *out);
ssize_t memfs_read(struct backend *be, uint64_t ino, uint64_t fh, void *buf, size_t size,
		   off_t off);
ssize_t memfs_write(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		    const void *buf, size_t size, off_t off, int open_flags);
int memfs_fallocate(struct backend *be, const struct op_ctx *ctx, uint64_t ino, uint64_t fh,
		    int mode, off_t off, off_t len);
off_t memfs_lseek(struct backend *be, uint64_t ino, uint64_t fh, off_t off, int whence);
ssize_t memfs_copy_file_range(struct backend *be, const struct op_ctx *ctx, uint64_t ino_in,
			      uint64_t fh_in, off_t off_in, uint64_t ino_out, uint64_t fh_out,
			      off_t off_out, size_t len, unsigned flags);

/* memfs_acl.c: POSIX ACLs (see there). */
#define MEMFS_ACL_ACCESS  "system.posix_acl_access"
#define MEMFS_ACL_DEFAULT "system.posix_acl_default"
bool memfs_acl_name(const char *name, bool *is_default);
int memfs_acl_valid(const void *value, size_t size); /* 0 or -EINVAL */
/* setxattr of an ACL name, inode lock held for writing: the mode follows. */
int memfs_acl_set_locked(struct memfs_inode *node, const struct op_ctx *ctx, const char *name,
			 const void *value, size_t size, int flags);
/* After a chmod (inode lock held for writing): the access ACL follows the mode. */
void memfs_acl_chmod_locked(struct memfs_inode *node);
/* For a new inode of *mode in dir (ns_lock write): the umask or dir's default
 * ACL masks *mode; *acls gets the new inode's ACL attributes (a list to
 * attach, NULL for none). 0 or -ENOMEM. */
int memfs_acl_inherit(const struct memfs_inode *dir, const struct op_ctx *ctx, mode_t *mode,
		      struct memfs_xattr **acls);

/* memfs_xattr.c */
void memfs_xattrs_free(struct memfs_xattr *x);
/* node->lock write held (or exclusive): set without permission checks. */
int memfs_xattr_set_locked(struct memfs_inode *node, const char *name, const void *value,
			   size_t size, int flags);
/* Remove name if node has it (inode lock held for writing); true if it did. */
bool memfs_xattr_drop_locked(struct memfs_inode *node, const char *name);
/* The link that points at name's attribute (*result NULL when absent). */
struct memfs_xattr **memfs_xattr_find(struct memfs_inode *node, const char *name);
int memfs_setxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		   const void *value, size_t size, int flags);
ssize_t memfs_getxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name,
		       void *buf, size_t size);
ssize_t memfs_listxattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, char *buf,
			size_t size);
int memfs_removexattr(struct backend *be, const struct op_ctx *ctx, uint64_t ino, const char *name);

/* memfs_seed.c: copy host directory src into the (not yet shared) fs. */
int memfs_seed(struct memfs *fs, const char *src, bool keep_root_mode, bool keep_root_owner,
	       char *err, size_t errlen);

#endif
