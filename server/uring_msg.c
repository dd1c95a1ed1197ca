/*
 * server/uring_msg.c - FUSE-over-io_uring entry buffers <-> /dev/fuse bytes.
 *
 * The kernel fills an entry so: the fuse_in_header in in_out, the request's
 * first argument (the per-op struct, or nothing for ops whose first argument
 * is a name) in op_in, every further argument (names, write data, the
 * extension chain) in the payload, payload_sz bytes. The header's len counts
 * all three, so the per-op struct's size is what is left.
 */
#include "server/uring_msg.h"

#include <errno.h>
#include <string.h>

_Static_assert(URING_MSG_HEADROOM >= sizeof(struct fuse_in_header) + FUSE_URING_OP_IN_OUT_SZ,
	       "the headroom holds the header and the largest per-op struct");

uint8_t *uring_msg_request(const struct fuse_uring_req_header *hdr, uint8_t *payload,
			   size_t payload_size, size_t *len, uint64_t *commit_id)
{
	struct fuse_in_header ih;
	struct fuse_uring_ent_in_out io;
	size_t opsz;
	uint8_t *req;

	memcpy(&ih, hdr->in_out, sizeof(ih));
	memcpy(&io, &hdr->ring_ent_in_out, sizeof(io));
	*commit_id = io.commit_id;
	*len = 0;
	if (ih.len < sizeof(ih) || io.payload_sz > payload_size ||
	    ih.len - sizeof(ih) < io.payload_sz)
		return NULL;
	opsz = ih.len - sizeof(ih) - io.payload_sz;
	if (opsz > FUSE_URING_OP_IN_OUT_SZ)
		return NULL;
	req = payload - sizeof(ih) - opsz;
	memcpy(req, &ih, sizeof(ih));
	memcpy(req + sizeof(ih), hdr->op_in, opsz);
	*len = ih.len;
	return req;
}

int uring_msg_reply(struct fuse_uring_req_header *hdr, uint8_t *payload, size_t payload_size,
		    const struct iovec *iov, int n)
{
	size_t total = 0, off = 0;

	if (n < 1 || iov[0].iov_len != sizeof(struct fuse_out_header))
		return -EINVAL;
	for (int i = 1; i < n; i++) {
		if (iov[i].iov_len > payload_size - total)
			return -EMSGSIZE;
		total += iov[i].iov_len;
	}
	/*
	 * The request's own arguments sit in this payload; replies are built in
	 * the worker's out buffer or the request struct, but memmove keeps a
	 * reply that quotes its request intact anyway.
	 */
	for (int i = 1; i < n; i++) {
		memmove(payload + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	memcpy(hdr->in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
	hdr->ring_ent_in_out.payload_sz = (uint32_t)total;
	return 0;
}
