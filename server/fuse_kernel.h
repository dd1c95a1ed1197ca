/*
 * server/fuse_kernel.h - the FUSE wire protocol: <linux/fuse.h> plus what the
 * installed header (7.38 on Debian 12) lacks but our kernels (6.18) speak.
 * Everything defined here is guarded so a newer header wins. Negotiate only
 * what the kernel offers in INIT; never assume these exist.
 */
#ifndef VFSMUX_FUSE_KERNEL_H
#define VFSMUX_FUSE_KERNEL_H

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

/* INIT flags (bits >= 32 travel in flags2). */
#ifndef FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH (1ULL << 37)
#endif
#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif
#ifndef FUSE_NO_EXPORT_SUPPORT
#define FUSE_NO_EXPORT_SUPPORT (1ULL << 38)
#endif
#ifndef FUSE_HAS_RESEND
#define FUSE_HAS_RESEND (1ULL << 39)
#endif
#ifndef FUSE_ALLOW_IDMAP
#define FUSE_ALLOW_IDMAP (1ULL << 40)
#endif
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif

/* OPEN reply flags. */
#ifndef FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1 << 7)
#endif

/* Opcodes newer than 7.38. */
#define VFSMUX_FUSE_STATX	       52
#define VFSMUX_FUSE_COPY_FILE_RANGE_64 53

/* Request extensions (7.38+): FUSE_EXT_GROUPS carries the supplementary group. */
#ifndef FUSE_EXT_GROUPS
#define FUSE_EXT_GROUPS 2
struct fuse_supp_groups {
	uint32_t nr_groups;
	uint32_t groups[];
};
#endif

/* Kernel passthrough (7.40): register a backing fd, get an id for FOPEN_PASSTHROUGH. */
#ifndef FUSE_DEV_IOC_BACKING_OPEN
struct fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FUSE_DEV_IOC_BACKING_OPEN  _IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#endif

/*
 * Fields 7.40 named in what 7.38 calls padding: the int32 after open_flags
 * (backing_id) and the word after flags2 in the INIT reply (max_stack_depth).
 * Reached by offset so the code builds against either header.
 */
static inline void vfsmux_open_out_set_backing_id(struct fuse_open_out *o, int32_t id)
{
	memcpy((uint8_t *)o + offsetof(struct fuse_open_out, open_flags) + sizeof(o->open_flags),
	       &id, sizeof(id));
}

static inline int32_t vfsmux_open_out_backing_id(const struct fuse_open_out *o)
{
	int32_t id;

	memcpy(&id,
	       (const uint8_t *)o + offsetof(struct fuse_open_out, open_flags) +
		   sizeof(o->open_flags),
	       sizeof(id));
	return id;
}

static inline void vfsmux_init_out_set_max_stack_depth(struct fuse_init_out *o, uint32_t d)
{
	memcpy((uint8_t *)o + offsetof(struct fuse_init_out, flags2) + sizeof(o->flags2), &d,
	       sizeof(d));
}

static inline uint32_t vfsmux_init_out_max_stack_depth(const struct fuse_init_out *o)
{
	uint32_t d;

	memcpy(&d, (const uint8_t *)o + offsetof(struct fuse_init_out, flags2) + sizeof(o->flags2),
	       sizeof(d));
	return d;
}

/*
 * FUSE over io_uring (7.42; kernel 6.14+, and only while the fuse module's
 * enable_uring parameter is Y). Each ring entry is two buffers we register:
 * the headers below and a payload of at least the connection's largest
 * message. A request arrives as: fuse_in_header in in_out, its first argument
 * (the per-op struct, or nothing) in op_in, every further argument in the
 * payload (ring_ent_in_out.payload_sz bytes). A reply goes back as:
 * fuse_out_header in in_out, all of its arguments in the payload.
 */
#ifndef FUSE_URING_IN_OUT_HEADER_SZ
#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ	    128

struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* the request's unique: named in its COMMIT_AND_FETCH */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct fuse_uring_req_header {
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ];
	char op_in[FUSE_URING_OP_IN_OUT_SZ];
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	FUSE_IO_URING_CMD_REGISTER = 1,
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

/* In the SQE's command area (IORING_SETUP_SQE128). */
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
#endif

/* The highest minor we implement; the reply carries min(kernel's, ours). */
#define VFSMUX_FUSE_MINOR 38

#endif
