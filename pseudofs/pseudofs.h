/*
 * pseudofs/pseudofs.h - the namespace directories made from the config's mount paths.
 *
 * A mount at /a/b/c makes the pseudo directories /a and /a/b and a node "c"
 * in /a/b marked with the mount's index. vfs routes (parent, name) through
 * that mark to the backend's root; the mark's own inode number is never
 * given to the kernel (ops by that number answer -ESTALE).
 *
 * Identifiers:
 *   ino    a pseudofs inode number; 1 is the root (FUSE_ROOT_ID). Pseudofs
 *          inos are small and are the kernel's nodeids as they are (index 0).
 *   mount  a mount index in [1, 65535]; 0 = "a pseudo directory, not a mount".
 *
 * The tree is built before serving (pseudofs_add_mount is not thread-safe
 * against the other calls) and nodes live until pseudofs_destroy, so every
 * other call is thread-safe without a lock: only the lookup counts change,
 * and they are atomics.
 *
 * pseudofs knows nothing of FUSE bytes, of vfs or of backends.
 */
#ifndef VFSMUX_PSEUDOFS_H
#define VFSMUX_PSEUDOFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

struct config_pseudofs;
struct pseudofs;

#define PSEUDOFS_ROOT_INO 1

/* Readdir cookies: "." resumes at 1, ".." at 2, the i-th child (by name) at i + 3. */
#define PSEUDOFS_OFF_FIRST_CHILD 3

/* A name in a pseudo directory. */
struct pseudofs_entry {
	uint64_t ino;	  /* the child's pseudofs ino (also for a mount mark) */
	uint16_t mount;	  /* != 0: the name is a mount point; attr is not filled and
			   * no lookup was counted (vfs answers with the backend root) */
	struct stat attr; /* pseudo directories only; st_ino = ino */
};

/* One directory entry handed to a pseudofs_fill_fn. */
struct pseudofs_dirent {
	const char *name;
	uint64_t ino;	/* pseudofs ino ("." and ".." included) */
	uint16_t mount; /* != 0: a mount point (ino is then the mark's, unusable) */
	uint64_t off;	/* cookie resuming after this entry; never 0 */
};

/* 0 = placed, 1 = did not fit (stop), < 0 = error (stop, returned as is). */
typedef int (*pseudofs_fill_fn)(void *data, const struct pseudofs_dirent *d);

/* An empty tree (the root only). cfg is copied. 0 or -ENOMEM. */
int pseudofs_create(const struct config_pseudofs *cfg, struct pseudofs **out);
void pseudofs_destroy(struct pseudofs *ps); /* NULL is a no-op */

/*
 * Make the directories leading to path (absolute, normalized, not "/") and
 * mark its last component with mount index. *parent (may be NULL) gets the
 * pseudofs ino of the directory holding the mark.
 * Returns 0, -EINVAL (relative, "/", "." or ".." components, index 0, or a
 * mount inside another mount's path), -EEXIST (the path is already a mount or
 * a directory other mounts sit under), -ENAMETOOLONG or -ENOMEM. On error the
 * tree may keep directories made on the way; they stay valid (empty) dirs.
 */
int pseudofs_add_mount(struct pseudofs *ps, const char *path, uint16_t index, uint64_t *parent);

/*
 * Look name up in directory parent ("." and ".." too; ".." of the root is the
 * root). A pseudo directory found gets +1 lookup; a mount mark gets none.
 * 0, -ENOENT, or -ESTALE when parent is not a pseudo directory.
 */
int pseudofs_lookup(struct pseudofs *ps, uint64_t parent, const char *name,
		    struct pseudofs_entry *out);
/* +1 lookup on a pseudo directory (a READDIRPLUS entry placed). 0 or -ESTALE. */
int pseudofs_ref(struct pseudofs *ps, uint64_t ino);
/* -n lookups; more than held is clamped to 0 and logged once. Unknown ino: logged, ignored. */
void pseudofs_forget(struct pseudofs *ps, uint64_t ino, uint64_t n);
/* Lookups held on ino (0 for an unknown ino); the sum over all nodes when ino is 0. */
uint64_t pseudofs_lookups(struct pseudofs *ps, uint64_t ino);

/* Attributes of a pseudo directory: 0 or -ESTALE. */
int pseudofs_getattr(struct pseudofs *ps, uint64_t ino, struct stat *out);
/*
 * List directory ino from cookie off (0 = start): ".", "..", then children
 * sorted by name. 0 (also when the end was reached), -ESTALE, or the first
 * negative fill result.
 */
int pseudofs_readdir(struct pseudofs *ps, uint64_t ino, uint64_t off, pseudofs_fill_fn fill,
		     void *data);
/* Nothing to count: zeros, except f_bsize/f_frsize 4096 and f_namemax 255. */
void pseudofs_statfs(struct pseudofs *ps, struct statvfs *out);
/*
 * access(2) by mode bits for caller (uid, gid): mask of R_OK/W_OK/X_OK (F_OK = 0).
 * Root passes, except that X_OK needs some x bit. 0, -EACCES or -ESTALE.
 * The tree is read-only; answering -EROFS for W_OK is the caller's policy.
 */
int pseudofs_access(struct pseudofs *ps, uint64_t ino, uint32_t uid, uint32_t gid, int mask);

#endif
