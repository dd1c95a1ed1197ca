/*
 * backends/passthrough/pt_cred.c - create files as the caller.
 *
 * A root daemon creates with the caller's fsuid/fsgid (and the supplementary
 * group FUSE_CREATE_SUPP_GROUP names) so new files get the caller's owner and
 * group, with setgid directories honoured by the host. The switch uses raw
 * syscalls because the kernel keeps credentials per thread while glibc's
 * set*id/setgroups wrappers change every thread of the process. A non-zero
 * fsuid drops CAP_DAC_READ_SEARCH, so callers resolve every fd (and handle)
 * before pt_cred_enter and switch back before reopening anything.
 */
#include "backends/passthrough/pt_int.h"
#include "server/log.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

static long raw_setfsuid(uint32_t id)
{
	return syscall(SYS_setfsuid, id);
}

static long raw_setfsgid(uint32_t id)
{
	return syscall(SYS_setfsgid, id);
}

int pt_cred_enter(const struct backend *be, const struct op_ctx *ctx, struct pt_cred *saved)
{
	*saved = (struct pt_cred){ 0 };
	if (ctx->unmapped)
		return -EOVERFLOW; /* vfs answers this first; keep the contract anyway */
	if (!be->as_root)
		return 0; /* an unprivileged daemon creates as itself */
	if (ctx->has_supp_gid) {
		long n = syscall(SYS_getgroups, (int)(sizeof(saved->groups) / sizeof(gid_t)),
				 saved->groups);

		if (n < 0) {
			vlog_once(VLOG_WARN, "passthrough: too many groups to switch: %d", errno);
		} else {
			gid_t g = ctx->supp_gid;

			saved->ngroups = (int)n;
			if (syscall(SYS_setgroups, 1, &g) < 0)
				return -errno;
			saved->groups_switched = true;
		}
	}
	if (ctx->uid == 0 && ctx->gid == 0 && !saved->groups_switched)
		return 0;
	saved->old_gid = (uint32_t)raw_setfsgid(ctx->gid);
	saved->old_uid = (uint32_t)raw_setfsuid(ctx->uid);
	saved->fs_switched = true;
	/* setfsuid reports no error; read back (an invalid id leaves it unchanged). */
	if ((uint32_t)raw_setfsuid(UINT32_MAX) != ctx->uid ||
	    (uint32_t)raw_setfsgid(UINT32_MAX) != ctx->gid) {
		pt_cred_leave(saved);
		return -EPERM;
	}
	return 0;
}

void pt_cred_leave(struct pt_cred *saved)
{
	if (saved->fs_switched) {
		raw_setfsuid(saved->old_uid);
		raw_setfsgid(saved->old_gid);
		saved->fs_switched = false;
	}
	if (saved->groups_switched) {
		if (syscall(SYS_setgroups, saved->ngroups, saved->groups) < 0)
			vlog_once(VLOG_ERR, "passthrough: cannot restore groups: %d", errno);
		saved->groups_switched = false;
	}
}
