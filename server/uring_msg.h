/*
 * server/uring_msg.h - how a FUSE-over-io_uring entry's buffers map to the
 * bytes of a /dev/fuse read and writev, in both directions. Pure functions
 * (no io_uring, no kernel), so the unit tests check the layout directly.
 * Private to server/.
 */
#ifndef VFSMUX_URING_MSG_H
#define VFSMUX_URING_MSG_H

#include "server/fuse_kernel.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Bytes an entry keeps free in front of its payload for uring_msg_request(). */
#define URING_MSG_HEADROOM 256

/*
 * The request the kernel put into hdr and payload (payload_size bytes, with
 * URING_MSG_HEADROOM writable bytes in front), laid out as one read() of
 * /dev/fuse gives it: the fuse_in_header and the per-op struct are copied
 * just before the payload. Returns where it starts, with *len its length;
 * NULL when the header's length, the payload size and the per-op area do not
 * add up. *commit_id is the id to commit the reply under, in either case.
 */
uint8_t *uring_msg_request(const struct fuse_uring_req_header *hdr, uint8_t *payload,
			   size_t payload_size, size_t *len, uint64_t *commit_id);

/*
 * A reply as writev() would send it (the fuse_out_header in iov[0], its
 * arguments in the rest) put into hdr and payload: the header into in_out,
 * the arguments one after another into the payload, their total into
 * ring_ent_in_out.payload_sz. 0, -EINVAL (no header first) or -EMSGSIZE
 * (the arguments exceed payload_size).
 */
int uring_msg_reply(struct fuse_uring_req_header *hdr, uint8_t *payload, size_t payload_size,
		    const struct iovec *iov, int n);

#endif
