/*
 * vfs/mount_table.h - the live set of mounts, by index (vfs-private).
 *
 * A request takes a reference to its mount for its whole length with
 * mtab_get() and drops it with mount_put(). The table itself holds one
 * reference per installed mount; the backend is destroyed when the last
 * reference is gone (mount_put of the last holder), never under a lock.
 *
 * Locking choice: a pthread rwlock. Readers hold it for reading only around
 * "load the slot pointer, increment its refcount" (no I/O, no allocation),
 * so a writer can never free a mount between those two steps (the classic
 * load-then-increment race). Writers hold it for writing only to grow the
 * slot array or swap a slot; never across backend I/O. liburcu would let
 * readers skip even that shared lock word; with a handful of workers on
 * 2 cores the rwlock costs little and needs no extra dependency.
 *
 * Detach shape (for the later control step): mtab_remove() clears the slot
 * and hands back the table's reference. Kernel lookups and handles still
 * outstanding on a detached mount must keep it alive: the caller keeps that
 * reference until mount->lookups and mount->handles reach 0, then puts it.
 */
#ifndef VFSMUX_MOUNT_TABLE_H
#define VFSMUX_MOUNT_TABLE_H

#include "vfs/backend.h"

#include <stdatomic.h>
#include <stdint.h>

struct mount_config;
struct mount_table;

struct mount {
	/* Table reference (while installed) + one per request in flight.
	 * Freed (backend destroyed) when it drops to 0. */
	_Atomic uint64_t refs;
	uint16_t index;
	/* Added to every entry generation this mount hands out, bumped when an
	 * index is reused, so (nodeid, generation) stays unique. The kernel
	 * keeps 32 bits of a generation (i_generation, and in file handles),
	 * so vfs adds it within those 32 bits, never above them. */
	uint64_t generation;
	const struct backend_ops *ops;	/* static, borrowed */
	struct backend *be;		/* owned: ops->destroy on the last put */
	const struct mount_config *cfg; /* borrowed from the vfs's config */
	uint64_t parent;		/* pseudofs ino of the directory holding the mount point */

	/* Kernel lookups outstanding on this mount's nodeids: +1 per entry
	 * reply (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, CREATE, placed
	 * READDIRPLUS entries), -n per FORGET, each clamped at 0 (bad forgets
	 * are logged once). Kept in two parts so that a bad forget on one
	 * cannot eat the other's: root_lookups on backend ino 1, which vfs
	 * keeps itself (backend.h: forgets for the root are never passed on),
	 * ino_lookups on all other inos (exact per inode only in the backend).
	 * The mount's total is their sum. */
	_Atomic uint64_t root_lookups;
	_Atomic uint64_t ino_lookups;
	/* The backend's source is gone (ops->source_gone said so): set once,
	 * never cleared; every request but I/O on open handles answers ESTALE
	 * (vfs.c, "gone"). */
	atomic_bool gone;
	/* Open handles outstanding: +1 per successful OPEN, CREATE, OPENDIR;
	 * -1 per RELEASE, RELEASEDIR (clamped at 0, logged once). */
	_Atomic uint64_t handles;
};

int mtab_create(struct mount_table **out); /* 0 or -ENOMEM */
/* Drops the table's references (and so destroys unused mounts). NULL is a no-op. */
void mtab_destroy(struct mount_table *mt);

/*
 * A new mount at index with one reference (the caller's): creates the backend
 * via ops->create(cfg). On failure returns -errno, the backend's reason in err.
 */
int mount_create(const struct backend_ops *ops, const struct mount_config *cfg, uint16_t index,
		 uint64_t parent, struct mount **out, char *err, size_t errlen);
/* Install m at m->index; takes over the caller's reference. 0, -EEXIST, -ENOMEM. */
int mtab_install(struct mount_table *mt, struct mount *m);
/* Clear slot index; returns the table's reference (caller must mount_put()) or NULL. */
struct mount *mtab_remove(struct mount_table *mt, uint16_t index);

/* Referenced mount at index, or NULL; release with mount_put(). */
struct mount *mtab_get(struct mount_table *mt, uint16_t index);
void mount_put(struct mount *m); /* NULL is a no-op */

#endif
