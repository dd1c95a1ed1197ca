/*
 * server/uring_policy.h - the decisions of a ring thread (server/uring.c)
 * kept apart from the ring itself, so that tests can feed them any sequence
 * of command results, refusals included, with no kernel: when a thread tries
 * again, when it gives up, and what its leaving does to its queue.
 * Private to server/.
 */
#ifndef VFSMUX_URING_POLICY_H
#define VFSMUX_URING_POLICY_H

#include <stdbool.h>

/* Refusals in a row a thread takes before it gives up its entry. */
#define RING_RETRIES 100
/* Threads of one queue that may fail in a row (no request served between) and be replaced. */
#define RING_RESTARTS 3

/*
 * Refusals since the last request this thread served. A refusal that passes
 * (a request arrives) resets it: a thread that is refused now and then over a
 * long life never runs out.
 */
struct ring_retry {
	unsigned again;
};

enum ring_step {
	RING_SERVE,    /* a request is in the buffers: serve it */
	RING_REGISTER, /* the entry is not armed: register it again */
	RING_GIVE_UP,  /* too many refusals in a row, or an error: this thread leaves */
};

/*
 * The command the thread sent (registering: FUSE_IO_URING_CMD_REGISTER, else
 * COMMIT_AND_FETCH) came back with res. *pause: wait a little before the next
 * register (the kernel has not taken INIT yet).
 */
enum ring_step ring_step(struct ring_retry *r, bool registering, int res, bool *pause);

enum ring_leave {
	RING_LEAVE_QUIET,   /* nothing to do: the session is ending, or others serve the queue */
	RING_LEAVE_REPLACE, /* start a successor on the queue */
	RING_LEAVE_FAIL,    /* the queue cannot be served while the kernel uses the rings */
	RING_LEAVE_FALLBACK /* the queue cannot be served, but the kernel never switched
			     * to the rings: the connection stays on /dev/fuse */
};

/*
 * A thread of a queue leaves. running: the session goes on; failed: it gave
 * up on an error (else it retires on purpose and its entry is handed over);
 * ready: the kernel has sent requests by ring (it switched over for good);
 * others: threads still left on the queue. *failures counts the queue's
 * threads that failed in a row; a request served on the queue resets it to 0.
 */
enum ring_leave ring_leave(unsigned *failures, bool running, bool failed, bool ready,
			   unsigned others);

#endif
