/*
 * backends/faulty/faulty.h - TESTING ONLY: a backend wrapper that injects failures.
 *
 * A mount whose config has `faults:` gets its real backend wrapped by vfs
 * (vfs_create). Each faultable call of the wrapper first sleeps delay_ms,
 * then draws: with probability rate it answers -e (e drawn from f->errors)
 * WITHOUT calling the inner op, otherwise it calls the inner op and returns
 * its answer unchanged. A fault is decided before the inner call, never after
 * it, so an op that creates state (a lookup reference, an fh) either happens
 * fully or not at all: faults never leak kernel references or handles.
 * forget, release, releasedir and destroy are never delayed or failed.
 *
 * Draws are a hash of (seed, call number), the call number an atomic counter:
 * thread-safe without locks, and the same seed with the same call order (one
 * thread) gives the same faults.
 */
#ifndef VFSMUX_FAULTY_H
#define VFSMUX_FAULTY_H

#include "config/config.h"
#include "vfs/backend.h"

/*
 * Wrap inner (of type inner_ops) according to f (copied). On success returns 0,
 * *ops_out is the wrapper's own ops table (valid until the wrapper is
 * destroyed: inner's NULL ops stay NULL, so vfs still answers for them) and
 * *out the wrapper, which now owns inner: its destroy destroys inner too.
 * On failure (-ENOMEM, -EINVAL for a bad f) nothing changes and the caller
 * still owns inner.
 */
int faulty_wrap(const struct backend_ops *inner_ops, struct backend *inner,
		const struct config_faults *f, const struct backend_ops **ops_out,
		struct backend **out);

/* Counters of a wrapper made by faulty_wrap (tests and logs). */
struct faulty_stats {
	uint64_t calls;	   /* faultable calls seen */
	uint64_t injected; /* of those, answered with an injected error */
};
void faulty_get_stats(struct backend *be, struct faulty_stats *out);

#endif
