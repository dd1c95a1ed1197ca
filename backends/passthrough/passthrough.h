/*
 * backends/passthrough/passthrough.h - what tests may ask the passthrough
 * backend besides the ops table (passthrough_ops, registered in registry.c).
 */
#ifndef VFSMUX_PASSTHROUGH_H
#define VFSMUX_PASSTHROUGH_H

#include "vfs/backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const struct backend_ops passthrough_ops;

struct pt_stats {
	size_t inodes;	   /* inodes the kernel (or an op in flight) holds, root included */
	size_t hints;	   /* numbers the kernel does not hold: readdir-only ones (d_ino) and
			    * forgotten ones kept with their handle (no fd either way) */
	size_t cached_fds; /* O_PATH fds in the cache (pinned by an op or not) */
	size_t cache_max;  /* the cache's bound */
	size_t pinned_fds; /* O_PATH fds held for an inode's life ("pinned fds" mode) */
	size_t mount_fds;  /* held for life: filesystems with handles under the source
			    * other than its root's (that one's is in the cache) */
	size_t buckets;	   /* hash buckets of the ino and host-key tables together */
	uint64_t hits, misses, evictions;
	bool handles; /* the source root's filesystem uses file handles */
};

void pt_debug_stats(struct backend *be, struct pt_stats *out);
/* O_PATH and mount fds the backend holds (open files and dirs not included). */
size_t pt_debug_open_fds(struct backend *be);
/* Close every unpinned cached fd (as memory pressure would); inodes stay valid. */
void pt_debug_evict_all(struct backend *be);
/* Make the next create() act as if the source had no file handles ("pinned fds"). */
void pt_debug_force_pinned(bool on);
/* Make the next n credential restores (any thread, any backend) fail as if
 * setfsuid/setgroups had failed: the thread keeps the caller's groups and is
 * spoiled (vfs/backend.h). 0 turns it off. */
void pt_debug_fail_cred_restores(unsigned n);

#endif
