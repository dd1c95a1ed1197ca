/*
 * server/mount.h - attaching the FUSE connection to a directory and detaching it.
 *
 * As root: the new mount API (fsopen/fsconfig/fsmount/move_mount), falling
 * back to mount(2) with type "fuse.vfsmux"; unprivileged: fusermount3, which
 * passes the /dev/fuse fd back over the _FUSE_COMMFD socket.
 */
#ifndef VFSMUX_MOUNT_H
#define VFSMUX_MOUNT_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
 * Which mount a path leads to, read with statx() so that no FUSE request is
 * sent (a daemon that does not answer cannot hang us).
 */
struct fuse_mount_ident {
	uint64_t id;	 /* STATX_MNT_ID: mountinfo's first field; reused after an unmount */
	uint64_t unique; /* STATX_MNT_ID_UNIQUE (Linux 6.8): never reused; 0 if unknown */
	dev_t dev;	 /* st_dev of the mount's superblock */
	bool root;	 /* the path is that mount's root: something is mounted on it */
};

/*
 * What fuse_mount() mounted, recorded right after mounting: fuse_unmount()
 * detaches this mount and nothing else, and only once.
 */
struct fuse_mount {
	char mountpoint[PATH_MAX];
	const char *how; /* "fsmount", "mount" or "fusermount3", for the log */
	struct fuse_mount_ident ident;
	atomic_bool detached; /* fuse_unmount() ran: it never detaches twice */
};

/*
 * Check the mountpoint and mount. Returns the /dev/fuse fd (>= 0) or -errno
 * with a one-line reason in err, e.g. "mountpoint /x is stale (Transport
 * endpoint is not connected): a previous vfsmux died there; run 'umount -l /x' or
 * start with --force". A mountpoint with a live FUSE filesystem on it (its
 * daemon answers, or does not answer within a few seconds) is refused with
 * -EBUSY, with o->force or not; a stale one (its daemon died) with -ENOTCONN
 * unless o->force, which detaches it first.
 * Other mounts on the mountpoint (tmpfs, a bind mount) are mounted over.
 * On success *m (may be NULL) receives the record fuse_unmount() needs.
 * The fd is O_CLOEXEC; the caller owns it and must read FUSE_INIT from it.
 * The fusermount3 way forks and waits for its child: do not ignore SIGCHLD.
 */
int fuse_mount(const struct fuse_mount_opts *o, struct fuse_mount *m, char *err, size_t errlen);

/*
 * Detach the mount m recorded, if it is still the one on the mountpoint
 * (umount2 MNT_DETACH through an fd on it, so no mount stacked on top since
 * can be hit; fusermount3 -u -z when unprivileged). A mount of someone else on
 * top of ours is left alone, and so is ours beneath it (logged; -EBUSY). Runs
 * once: later calls return 0. 0 when detached or already gone, or -errno.
 */
int fuse_unmount(struct fuse_mount *m);

/*
 * True if a FUSE filesystem is mounted on mountpoint and its daemon died:
 * statfs() there fails with ENOTCONN (or ECONNABORTED). Asked in a child
 * process with a deadline, so a live but hung mount gives false, not a hang.
 */
bool fuse_mount_is_stale(const char *mountpoint);

#endif
