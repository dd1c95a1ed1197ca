/*
 * server/backing.h - kernel passthrough: which nodes have a registered
 * backing file, and how many opens use it.
 *
 * With FUSE_PASSTHROUGH negotiated, an OPEN or CREATE reply may name a
 * backing id (FUSE_DEV_IOC_BACKING_OPEN on the backend's fd) so the kernel
 * reads and writes that file itself, with no READ/WRITE requests. The kernel
 * allows one backing file per inode, and refuses (ETXTBSY) to mix passthrough
 * and cached opens of one inode. So per nodeid this table keeps either
 * passthrough opens sharing one id, or plain opens (registration failed), never
 * both; the id is closed when the last passthrough open is released. Each
 * open is known by its handle (fh), so only the opens that acquired give a
 * reference back: an open of the same node that never asked (direct I/O, no
 * backing fd) leaves the count alone at its RELEASE.
 */
#ifndef VFSMUX_BACKING_H
#define VFSMUX_BACKING_H

#include <stdint.h>

struct backing_table;

/* The ioctls, replaceable by tests. Return the id (> 0) / 0, or -errno. */
struct backing_ops {
	int (*open)(void *data, int fd);
	int (*close)(void *data, int id);
	void *data;
};

int backing_table_new(const struct backing_ops *ops, struct backing_table **out);
/* Closes every id still registered. */
void backing_table_free(struct backing_table *t);

/*
 * An open of nodeid, with handle fh (unique among the node's live opens),
 * whose backend offered fd for passthrough. Returns the backing id to reply
 * with (> 0), or 0: reply a plain open (the reason was logged). Either way,
 * one backing_release() for (nodeid, fh) must follow, at the open's RELEASE,
 * or at once when its reply never reached the kernel.
 */
int backing_acquire(struct backing_table *t, uint64_t nodeid, uint64_t fh, int fd);
/* The RELEASE of open fh of nodeid: gives back what that open acquired, if anything. */
void backing_release(struct backing_table *t, uint64_t nodeid, uint64_t fh);

/* Nodes with live opens in the table (tests). */
uint64_t backing_count(struct backing_table *t);

/* The real ioctls on a /dev/fuse fd (any clone of the connection). */
int backing_ioctl_open(void *devfd, int fd);
int backing_ioctl_close(void *devfd, int id);

#endif
