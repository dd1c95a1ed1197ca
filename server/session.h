/*
 * server/session.h - one FUSE connection: its workers, INIT state and replies.
 */
#ifndef VFSMUX_SESSION_H
#define VFSMUX_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct vfs;
struct config_fuse;
struct session;

/* Where replies go: the /dev/fuse fd normally; tests capture them instead. */
typedef int (*session_writev_fn)(void *data, const struct iovec *iov, int iovcnt);

struct session_opts {
	uint32_t threads;     /* workers at start (>= 1) */
	uint32_t max_threads; /* more are started while all are busy, up to this */
	uint32_t max_write;   /* bytes */
	bool writeback_cache;
	bool passthrough;    /* offer kernel passthrough (FUSE_PASSTHROUGH) for backends' files */
	bool io_uring;	     /* take requests over io_uring when the kernel offers it */
	bool posix_acl;	     /* default_permissions: let the kernel enforce POSIX ACLs
			      * (FUSE_POSIX_ACL, with FUSE_DONT_MASK and FUSE_SETXATTR_EXT) */
	double stop_seconds; /* once stopping: how long busy threads get to finish (0: 2 s) */
	int ready_fd;	     /* >= 0: "ok\n" is written here after INIT, then closed */
	const char *mountpoint; /* io_uring: a grown ring thread is nudged by a STATFS of it
				 * (uring.c, ring_nudge); NULL: no nudge */
};

/* Does not take ownership of vfs. fd may be -1 for tests (then writev_fn is used). */
int session_create(struct vfs *vfs, int fuse_fd, const struct session_opts *o,
		   struct session **out);
void session_set_writer(struct session *se, session_writev_fn fn, void *data);
struct backing_ops;
/* Tests: replace the backing-file ioctls (server/backing.h). Before INIT. */
void session_set_backing_ops(struct session *se, const struct backing_ops *ops);
/*
 * Serve until the kernel ends the connection (ENODEV) or session_stop().
 * Returns 0 or -errno; returns at most stop_seconds after the session began
 * to stop. -ETIMEDOUT: some threads were still inside a backend call then and
 * were left running; session_destroy() then keeps se, and the caller must not
 * destroy the vfs either: exit the process.
 */
int session_run(struct session *se);
/* Ask the workers to finish; safe from any thread (not from a signal handler). */
void session_stop(struct session *se);
/* True once the connection ended or session_stop() was called. */
bool session_stopping(const struct session *se);
void session_destroy(struct session *se);

/* Decode, route and answer one request (what a worker does with each read). */
void session_process(struct session *se, const void *buf, size_t len);

#endif
