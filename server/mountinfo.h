/*
 * server/mountinfo.h - one line of /proc/self/mountinfo, decoded.
 *
 * Used to say what is mounted on a mountpoint (fs type and source, for an
 * error message), whether it is FUSE, and whose it is (user_id=, group_id=).
 * Mounts are looked up by mount id, the number statx() gives for a path
 * (STATX_MNT_ID), never by comparing path strings: a mountpoint given through
 * a symlink or with "//" names the same mount under another spelling.
 *
 * The kernel writes space, tab, newline and backslash in paths, the source
 * and the fs type as \ooo (octal); we decode those. A field too long for its
 * buffer is truncated: these fields feed messages and id checks, not paths
 * that are opened again.
 */
#ifndef VFSMUX_MOUNTINFO_H
#define VFSMUX_MOUNTINFO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mountinfo {
	uint64_t id;	       /* field 1: STATX_MNT_ID of the mount (reused once unmounted) */
	uint64_t parent;       /* field 2: the mount this one sits on */
	dev_t dev;	       /* field 3 (major:minor): st_dev of the superblock */
	char point[4096];      /* field 5: where it is mounted, decoded */
	char fstype[256];      /* after " - ": "fuse.vfsmux", "tmpfs", decoded */
	char source[1024];     /* after the type: "vfsmux", "none", decoded */
	char super_opts[1024]; /* last field, as written (comma-separated, not decoded) */
};

/* Decode one mountinfo line (with or without its '\n'). 0, or -EINVAL if malformed. */
int mountinfo_parse(const char *line, struct mountinfo *mi);

/*
 * Find the mount with this id in a mountinfo file (NULL: /proc/self/mountinfo).
 * 0, -ENOENT if it is not listed (unmounted since), or -errno if unreadable.
 */
int mountinfo_find(const char *file, uint64_t id, struct mountinfo *mi);

/* A FUSE mount: type "fuse", "fuse.<subtype>" or "fuseblk". */
bool mountinfo_is_fuse(const struct mountinfo *mi);

/* The number in "key=N" among the comma-separated opts. 0, or -ENOENT / -EINVAL. */
int mountinfo_opt_uint(const char *opts, const char *key, unsigned int *val);

#endif
