/*
 * server/mount.h - attaching the FUSE connection to a directory and detaching it.
 *
 * As root: the new mount API (fsopen/fsconfig/fsmount/move_mount), falling
 * back to mount(2) with type "fuse.vfsmux"; unprivileged: fusermount3, which
 * passes the /dev/fuse fd back over the _FUSE_COMMFD socket.
 */
#ifndef VFSMUX_MOUNT_H
#define VFSMUX_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Which way to mount. AUTO (the zero value) tries them in order and falls back
 * when the kernel or our privileges refuse one; the others try only that way
 * (tests, and a CLI switch if we ever want one).
 */
enum fuse_mount_method {
	FUSE_MOUNT_AUTO = 0,
	FUSE_MOUNT_FSMOUNT,    /* fsopen/fsconfig/fsmount/move_mount: needs CAP_SYS_ADMIN */
	FUSE_MOUNT_LEGACY,     /* mount(2) "fuse.vfsmux": needs CAP_SYS_ADMIN */
	FUSE_MOUNT_FUSERMOUNT, /* setuid fusermount3 from $PATH */
};

struct fuse_mount_opts {
	const char *mountpoint; /* absolute path of an existing directory */
	const char *fsname;	/* "source" column of /proc/mounts; default "vfsmux" */
	bool allow_other;
	bool default_permissions;
	bool suid; /* false: nosuid */
	bool dev;  /* false: nodev */
	uint32_t max_read;
	bool force;		       /* a stale mountpoint (ENOTCONN) is lazily unmounted first */
	enum fuse_mount_method method; /* 0: AUTO */
};

/*
 * Check the mountpoint and mount. Returns the /dev/fuse fd (>= 0) or -errno
 * with a one-line reason in err, e.g. "mountpoint /x is stale (Transport
 * endpoint is not connected): a previous vfsmux died there; run 'umount -l /x' or
 * start with --force". *how receives "fsmount", "mount" or "fusermount3" for the
 * log. The fd is O_CLOEXEC; the caller owns it and must read FUSE_INIT from it.
 * The fusermount3 way forks and waits for its child: do not ignore SIGCHLD.
 */
int fuse_mount(const struct fuse_mount_opts *o, const char **how, char *err, size_t errlen);

/*
 * Detach the mount (umount2 MNT_DETACH; fusermount3 -u -z when unprivileged).
 * 0 or -errno; EINVAL/ENOENT (already gone) count as success.
 */
int fuse_unmount(const char *mountpoint);

/*
 * True if stat(mountpoint) fails with ENOTCONN (or ECONNABORTED): a FUSE
 * daemon died with its filesystem still mounted there.
 */
bool fuse_mount_is_stale(const char *mountpoint);

#endif
