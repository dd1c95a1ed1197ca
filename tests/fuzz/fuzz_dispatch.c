/*
 * tests/fuzz/fuzz_dispatch.c - arbitrary FUSE request bytes against a real
 * vfs (pseudofs with two memfs mounts), through the same entry point a
 * worker uses. Every request must get exactly one well-formed reply (none
 * for FORGET, BATCH_FORGET, INTERRUPT) whose error is in (-512, 0].
 *
 * Input: a sequence of records [u16 length][bytes]. Each record is one
 * request; when bit 0 of its first byte after the header is set, the
 * header's len is patched to the record's length so most requests get past
 * the length check and reach the handlers. INIT is sent first.
 *
 * Every input runs twice: once with an INIT offering every flag (so the
 * session answers OPENDIR -ENOSYS and directories arrive with fh 0), once
 * without FUSE_NO_OPENDIR_SUPPORT (the OPENDIR/RELEASEDIR path of old kernels).
 */
#include "config/config.h"
#include "server/fuse_kernel.h"
#include "server/session.h"
#include "vfs/vfs.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	uint64_t unique;
	int replies;
};

static int check_reply(void *arg, const struct iovec *iov, int iovcnt)
{
	struct check *c = arg;
	struct fuse_out_header oh;
	size_t len = 0;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (iovcnt < 1 || iov[0].iov_len != sizeof(oh))
		abort();
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.len != len || oh.error > 0 || oh.error <= -512 || oh.unique != c->unique)
		abort(); /* the kernel would reject this reply and the caller would hang */
	c->replies++;
	return 0;
}

static void send_init(struct session *se, struct check *c, bool no_opendir)
{
	uint8_t buf[sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in)];
	struct fuse_in_header h = { .len = sizeof(buf), .opcode = FUSE_INIT, .unique = 1 };
	struct fuse_init_in in = { .major = 7,
				   .minor = 41,
				   .max_readahead = 65536,
				   .flags = 0xffffffffu,
				   .flags2 = 0xffffffffu };

	if (!no_opendir)
		in.flags &= ~(uint32_t)FUSE_NO_OPENDIR_SUPPORT;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &in, sizeof(in));
	c->unique = 1;
	session_process(se, buf, sizeof(buf));
}

static bool noreply(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET || opcode == FUSE_INTERRUPT;
}

static void run_one(const uint8_t *data, size_t size, bool no_opendir)
{
	static struct mount_config mounts[2];
	static struct vfsmux_config cfg;
	struct session_opts so = {
		.threads = 1, .max_threads = 1, .max_write = 131072, .ready_fd = -1
	};
	struct check c = { 0 };
	struct session *se;
	struct vfs *vfs;
	char err[256];
	uint8_t req[65536];
	size_t pos = 0;

	cfg.timeouts = (struct config_timeouts){ 1.0, 1.0, 0.5 };
	cfg.pseudofs = (struct config_pseudofs){ 0755, 0, 0 };
	mounts[0] = (struct mount_config){ .path = (char *)"/a/b",
					   .type = (char *)"memfs",
					   .timeouts = cfg.timeouts,
					   .root_mode = 0755,
					   .size_limit = 1 << 20,
					   .inode_limit = 64 };
	mounts[1] = mounts[0];
	mounts[1].path = (char *)"/c";
	mounts[1].readonly = true;
	cfg.mounts = mounts;
	cfg.nmounts = 2;
	if (vfs_create(&cfg, &vfs, err, sizeof(err)))
		abort();
	if (session_create(vfs, -1, &so, &se))
		abort();
	session_set_writer(se, check_reply, &c);
	send_init(se, &c, no_opendir);

	while (pos + 2 <= size) {
		size_t n = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		struct fuse_in_header h;
		int before;

		pos += 2;
		if (n > size - pos)
			n = size - pos;
		if (n > sizeof(req))
			n = sizeof(req);
		memcpy(req, data + pos, n);
		pos += n;
		if (n >= sizeof(h)) {
			memcpy(&h, req, sizeof(h));
			if (n > sizeof(h) && (req[sizeof(h)] & 1)) {
				h.len = (uint32_t)n;
				memcpy(req, &h, sizeof(h));
			}
			c.unique = h.unique;
		}
		before = c.replies;
		session_process(se, req, n);
		if (n < sizeof(h)) {
			if (c.replies != before)
				abort(); /* nothing to answer to */
		} else if (c.replies != before + (noreply(h.opcode) && h.len == n ? 0 : 1)) {
			/* a noreply opcode with a bad len may be answered EINVAL or not */
			if (!noreply(h.opcode))
				abort();
		}
	}
	session_destroy(se);
	vfs_destroy(vfs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_one(data, size, true);
	run_one(data, size, false);
	return 0;
}
