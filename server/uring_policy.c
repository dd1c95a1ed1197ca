/*
 * server/uring_policy.c - a ring thread's retry and replacement rules
 * (uring_policy.h). No io_uring here: uring.c calls these with what the
 * kernel answered.
 */
#include "server/uring_policy.h"

#include <errno.h>

enum ring_step ring_step(struct ring_retry *r, bool registering, int res, bool *pause)
{
	*pause = false;
	if (res >= 0) {
		r->again = 0; /* progress: the refusals before it are history */
		return RING_SERVE;
	}
	if (r->again >= RING_RETRIES)
		return RING_GIVE_UP;
	if (res == -EAGAIN && registering) {
		/* INIT not yet processed by the kernel: cannot last. */
		r->again++;
		*pause = true;
		return RING_REGISTER;
	}
	if ((res == -ENOENT || res == -EIO) && !registering) {
		/*
		 * The kernel no longer knew the request (it ended without us) or
		 * the entry: our reply is void, and the entry was not armed
		 * again. Register it anew rather than leave the queue short.
		 */
		r->again++;
		return RING_REGISTER;
	}
	return RING_GIVE_UP;
}

enum ring_leave ring_leave(unsigned *failures, bool running, bool failed, bool ready,
			   unsigned others)
{
	if (!running)
		return RING_LEAVE_QUIET;
	if (!failed)
		return RING_LEAVE_REPLACE; /* a retirement is no failure of the ring */
	if (++*failures <= RING_RESTARTS)
		return RING_LEAVE_REPLACE;
	if (others)
		return RING_LEAVE_QUIET; /* no hole: the queue's other threads serve it */
	return ready ? RING_LEAVE_FAIL : RING_LEAVE_FALLBACK;
}
