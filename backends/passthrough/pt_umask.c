/*
 * backends/passthrough/pt_umask.c - create with the caller's umask, applied by
 * the host.
 *
 * With POSIX ACLs negotiated (FUSE_DONT_MASK) a create's mode comes unmasked
 * and the umask beside it (op_ctx.umask). A local filesystem applies either the
 * parent's default ACL or, without one, the umask, never both; only the host
 * knows which, so the host must see the caller's umask at the create. The
 * umask belongs to a process's fs_struct, shared by all our threads, so a
 * thread that creates first gets its own (unshare(CLONE_FS), once per thread;
 * every path we use is relative to an fd, so its copy of cwd and root does
 * not matter) and sets the caller's umask around the call. The daemon's own
 * umask is 0 (server/main.c), which is what a thread goes back to.
 */
#include "backends/passthrough/pt_int.h"
#include "server/log.h"

#include <errno.h>
#include <sched.h>
#include <sys/stat.h>

/* 0: not tried yet; 1: this thread has its own fs_struct; -1: unshare failed. */
static _Thread_local int own_fs;

bool pt_umask_enter(const struct op_ctx *ctx, mode_t *mode)
{
	if (ctx->umask == 0)
		return false;
	if (own_fs == 0) {
		own_fs = unshare(CLONE_FS) == 0 ? 1 : -1;
		if (own_fs < 0)
			vlog_once(VLOG_WARN,
				  "passthrough: unshare(CLONE_FS): %d; the umask replaces "
				  "default ACLs on creates",
				  errno);
	}
	if (own_fs < 0) {
		*mode &= ~(mode_t)ctx->umask; /* what a kernel without ACLs would do */
		return false;
	}
	umask((mode_t)ctx->umask);
	return true;
}

void pt_umask_leave(bool set)
{
	if (set)
		umask(0);
}
