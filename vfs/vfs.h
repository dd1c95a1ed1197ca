/*
 * vfs/vfs.h - what the server calls: every operation by kernel nodeid.
 *
 *   nodeid  what the kernel holds: (mount index << 48) | backend ino.
 *           Index 0 is the pseudofs; nodeid 1 (FUSE_ROOT_ID) is its root.
 *   st_ino  equals the nodeid in every reply vfs produces.
 *
 * vfs maps nodeid -> (mount, backend ino), applies the mount's id_map to the
 * caller on the way in and to attributes on the way out, enforces read-only
 * mounts (-EROFS) and cross-mount rename/link (-EXDEV), answers for ops a
 * backend leaves NULL (never -ENOSYS for an op the kernel remembers), and
 * keeps per mount the kernel lookups and open handles outstanding.
 * Unknown nodeids give -ESTALE. All functions are thread-safe.
 */
#ifndef VFSMUX_VFS_H
#define VFSMUX_VFS_H

#include "vfs/backend.h"

#include <stdio.h>

struct vfsmux_config;
struct vfs;

#define VFS_INDEX_SHIFT 48
#define VFS_INDEX_MAX	65535

static inline uint64_t vfs_nodeid(uint16_t index, uint64_t ino)
{
	return ((uint64_t)index << VFS_INDEX_SHIFT) | ino;
}
static inline uint16_t vfs_nodeid_index(uint64_t nodeid)
{
	return (uint16_t)(nodeid >> VFS_INDEX_SHIFT);
}
static inline uint64_t vfs_nodeid_ino(uint64_t nodeid)
{
	return nodeid & BACKEND_INO_MAX;
}

/* An entry as the kernel gets it: e.ino is the nodeid (0 = negative entry). */
struct vfs_entry_reply {
	struct vfs_entry e;
	double entry_timeout;
	double attr_timeout;
};

/*
 * Build the vfs from a validated config: the pseudofs from the mount paths and
 * one backend per mount (index = position in cfg->mounts + 1). On failure
 * returns -errno and writes "mounts[i] (/path): reason" into err.
 * cfg must outlive the vfs.
 */
int vfs_create(const struct vfsmux_config *cfg, struct vfs **out, char *err, size_t errlen);
void vfs_destroy(struct vfs *vfs); /* NULL is a no-op; call after the session ended */
/* vfs_create with another backend registry (tests inject fake backend types). */
int vfs_create_custom(const struct vfsmux_config *cfg,
		      const struct backend_ops *(*find)(const char *type), struct vfs **out,
		      char *err, size_t errlen);

/* The caller as the kernel describes it (before any id_map). */
struct vfs_caller {
	uint32_t uid, gid, pid;
	uint32_t umask;
	bool has_supp_gid;
	uint32_t supp_gid;
	bool kill_suidgid; /* see op_ctx */
};

/*
 * Directory listing sink provided by the server. d->ino is a nodeid and
 * e (plus mode, NULL for "." and "..") an entry reply. Returns 0 when placed,
 * 1 when it did not fit. vfs counts a plus entry's lookup only when placed.
 */
typedef int (*vfs_fill_fn)(void *data, const char *name, uint64_t ino, uint32_t type, uint64_t off,
			   const struct vfs_entry_reply *e);

/* Lookup: on ENOENT with a negative timeout > 0, returns 0 with e.ino = 0. */
int vfs_lookup(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
	       struct vfs_entry_reply *out);
void vfs_forget(struct vfs *vfs, uint64_t nodeid, uint64_t n);
int vfs_getattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, bool has_fh,
		uint64_t fh, struct stat *out, double *attr_timeout);
int vfs_setattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid,
		const struct vfs_setattr *in, struct stat *out, double *attr_timeout);
ssize_t vfs_readlink(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, char *buf,
		     size_t size);
int vfs_mknod(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
	      mode_t mode, dev_t rdev, struct vfs_entry_reply *out);
int vfs_mkdir(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
	      mode_t mode, struct vfs_entry_reply *out);
int vfs_symlink(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
		const char *target, struct vfs_entry_reply *out);
int vfs_unlink(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name);
int vfs_rmdir(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name);
int vfs_rename(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
	       uint64_t newparent, const char *newname, unsigned flags);
int vfs_link(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, uint64_t newparent,
	     const char *newname, struct vfs_entry_reply *out);
int vfs_open(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, int flags,
	     struct vfs_open *out);
int vfs_create_file(struct vfs *vfs, const struct vfs_caller *c, uint64_t parent, const char *name,
		    mode_t mode, int flags, struct vfs_entry_reply *out, struct vfs_open *oout);
ssize_t vfs_read(struct vfs *vfs, uint64_t nodeid, uint64_t fh, void *buf, size_t size, off_t off);
ssize_t vfs_write(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, uint64_t fh,
		  const void *buf, size_t size, off_t off, int open_flags);
int vfs_flush(struct vfs *vfs, uint64_t nodeid, uint64_t fh, uint64_t lock_owner);
void vfs_release(struct vfs *vfs, uint64_t nodeid, uint64_t fh, int flags);
int vfs_fsync(struct vfs *vfs, uint64_t nodeid, uint64_t fh, bool datasync);
int vfs_opendir(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, int flags,
		struct vfs_open *out);
int vfs_readdir(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, uint64_t fh,
		uint64_t off, bool plus, vfs_fill_fn fill, void *data);
void vfs_releasedir(struct vfs *vfs, uint64_t nodeid, uint64_t fh);
int vfs_fsyncdir(struct vfs *vfs, uint64_t nodeid, uint64_t fh, bool datasync);
int vfs_statfs(struct vfs *vfs, uint64_t nodeid, struct statvfs *out);
int vfs_access(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, int mask);
int vfs_setxattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, const char *name,
		 const void *value, size_t size, int flags);
ssize_t vfs_getxattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, const char *name,
		     void *buf, size_t size);
ssize_t vfs_listxattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, char *buf,
		      size_t size);
int vfs_removexattr(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, const char *name);
int vfs_fallocate(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid, uint64_t fh,
		  int mode, off_t off, off_t len);
off_t vfs_lseek(struct vfs *vfs, uint64_t nodeid, uint64_t fh, off_t off, int whence);
ssize_t vfs_copy_file_range(struct vfs *vfs, const struct vfs_caller *c, uint64_t nodeid_in,
			    uint64_t fh_in, off_t off_in, uint64_t nodeid_out, uint64_t fh_out,
			    off_t off_out, size_t len, unsigned flags);

/* Counters for tests and stats: kernel lookups / open handles outstanding on a mount. */
struct vfs_mount_stats {
	uint64_t lookups;
	uint64_t handles;
};
int vfs_mount_stats(struct vfs *vfs, uint16_t index, struct vfs_mount_stats *out);

#endif
