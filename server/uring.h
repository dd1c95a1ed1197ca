/*
 * server/uring.h - FUSE over io_uring: per-CPU ring threads that take
 * requests from, and commit replies to, ring entries instead of read()ing
 * and writev()ing /dev/fuse. Private to server/.
 *
 * The kernel hands a request to the queue of the CPU its caller runs on, so
 * there is a queue per possible CPU and its threads are pinned there: caller
 * and daemon then meet on one CPU with no cross-CPU wakeup, and a reply and
 * the wait for the next request are one system call. FORGET and INTERRUPT
 * still come by /dev/fuse, and notifications still go that way, so the
 * ordinary workers keep running beside the rings.
 */
#ifndef VFSMUX_URING_H
#define VFSMUX_URING_H

#include <stdbool.h>
#include <sys/uio.h>
#include <time.h>

struct session;
struct uring;
struct uring_ent;

/* Built with liburing? Without it FUSE_OVER_IO_URING is never asked for. */
bool uring_available(void);

/*
 * After the INIT reply that agreed on FUSE_OVER_IO_URING: start the ring
 * threads (they register their entries; the kernel switches over once every
 * queue has one). On failure the connection simply stays on /dev/fuse.
 */
int uring_start(struct session *se, struct uring **out);

/*
 * Ask the ring threads to finish and wait for them, but not past deadline
 * (CLOCK_MONOTONIC): 0 when all have left and everything was freed;
 * -ETIMEDOUT when some are still busy (inside a backend call that does not
 * return): they keep u, which is then never freed (the process is about to
 * exit). NULL is fine. Call it holding no lock.
 */
int uring_stop(struct uring *u, const struct timespec *deadline);

/* Interrupt the ring threads' waits so they see the session stopping. */
void uring_kick(struct uring *u);

/*
 * The reply to the request being served on ent: the fuse_out_header in
 * iov[0], its arguments in the rest, copied into the entry; the ring thread
 * commits it. 0 or -errno (-EMSGSIZE: larger than the entry's payload).
 */
int uring_stage_reply(struct uring_ent *ent, const struct iovec *iov, int n);

#endif
