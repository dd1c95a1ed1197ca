/*
 * backends/passthrough/pt_cred.c - create files as the caller.
 *
 * A root daemon creates with the caller's fsuid/fsgid, and with the caller's
 * supplementary groups as far as the kernel names them (the one group
 * FUSE_CREATE_SUPP_GROUP sends, the caller's group that owns the parent, or
 * none), so new files get the caller's owner and group, with setgid
 * directories honoured by the host, and the daemon's own groups never lend
 * the caller a right. The switch uses raw syscalls because the kernel keeps
 * credentials per thread while glibc's set*id/setgroups wrappers change every
 * thread of the process. A non-zero fsuid drops CAP_DAC_READ_SEARCH, so
 * callers resolve every fd (and handle) before pt_cred_enter and switch back
 * before reopening anything.
 *
 * Going back restores the daemon's groups as recorded once at create (any
 * number, be->groups; nothing in the daemon changes them later) and checks
 * fsuid/fsgid by reading them back. A thread that cannot be put back is
 * marked with backend_thread_spoil(): the server retires it after its reply.
 */
#include "backends/passthrough/passthrough.h"
#include "backends/passthrough/pt_int.h"
#include "server/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* pt_debug_fail_cred_restores(): restores still to fail, for tests. */
static atomic_uint fail_restores;

static long raw_setfsuid(uint32_t id)
{
	return syscall(SYS_setfsuid, id);
}

static long raw_setfsgid(uint32_t id)
{
	return syscall(SYS_setfsgid, id);
}

int pt_cred_init(struct backend *be)
{
	be->groups = NULL;
	be->ngroups = 0;
	if (!be->as_root)
		return 0;
	/* Sized, then read; the list cannot change in between (no one sets it). */
	for (;;) {
		long n = syscall(SYS_getgroups, 0, NULL);
		gid_t *g;

		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		g = calloc((size_t)n, sizeof(*g));
		if (!g)
			return -ENOMEM;
		if (syscall(SYS_getgroups, (int)n, g) == n) {
			be->groups = g;
			be->ngroups = (int)n;
			return 0;
		}
		free(g); /* EINVAL: it grew after all; size it again */
	}
}

void pt_cred_fini(struct backend *be)
{
	free(be->groups);
	be->groups = NULL;
	be->ngroups = 0;
}

int pt_cred_enter(const struct backend *be, const struct op_ctx *ctx, struct pt_cred *saved)
{
	*saved = (struct pt_cred){ 0 };
	if (ctx->unmapped)
		return -EOVERFLOW; /* vfs answers this first; keep the contract anyway */
	if (!be->as_root)
		return 0; /* an unprivileged daemon creates as itself */
	if (ctx->uid == 0 && ctx->gid == 0 && !ctx->has_supp_gid)
		return 0; /* root as the daemon is */
	if (ctx->has_supp_gid || be->ngroups > 0) {
		gid_t g = ctx->supp_gid;

		/* Nothing is switched yet: on failure the call fails, creating nothing. */
		if (syscall(SYS_setgroups, ctx->has_supp_gid ? 1 : 0, &g) < 0)
			return -errno;
		saved->groups_switched = true;
	}
	saved->old_gid = (uint32_t)raw_setfsgid(ctx->gid);
	saved->old_uid = (uint32_t)raw_setfsuid(ctx->uid);
	saved->fs_switched = true;
	/* setfsuid reports no error; read back (an invalid id leaves it unchanged). */
	if ((uint32_t)raw_setfsuid(UINT32_MAX) != ctx->uid ||
	    (uint32_t)raw_setfsgid(UINT32_MAX) != ctx->gid) {
		pt_cred_leave(be, saved);
		return -EPERM;
	}
	return 0;
}

/* Take one of the failures tests asked for (pt_debug_fail_cred_restores). */
static bool fail_for_test(void)
{
	unsigned n = atomic_load_explicit(&fail_restores, memory_order_relaxed);

	while (n && !atomic_compare_exchange_weak(&fail_restores, &n, n - 1))
		;
	return n != 0;
}

void pt_cred_leave(const struct backend *be, struct pt_cred *saved)
{
	bool fake = (saved->fs_switched || saved->groups_switched) && fail_for_test();
	int fs_err = 0, groups_err = 0;

	if (saved->fs_switched) {
		raw_setfsuid(saved->old_uid);
		raw_setfsgid(saved->old_gid);
		if (fake || (uint32_t)raw_setfsuid(UINT32_MAX) != saved->old_uid ||
		    (uint32_t)raw_setfsgid(UINT32_MAX) != saved->old_gid)
			fs_err = EPERM;
		saved->fs_switched = false;
	}
	if (saved->groups_switched) {
		if (fake)
			groups_err = EPERM; /* as if setgroups had failed: the caller's stay */
		else if (syscall(SYS_setgroups, be->ngroups, be->groups) < 0)
			groups_err = errno;
		saved->groups_switched = false;
	}
	if (fs_err || groups_err)
		backend_thread_spoil("passthrough %s: cannot restore the thread's %s%s%s: %s",
				     be->source, fs_err ? "fsuid/fsgid" : "",
				     fs_err && groups_err ? " and " : "",
				     groups_err ? "supplementary groups" : "",
				     strerror(groups_err ? groups_err : fs_err));
}

void pt_debug_fail_cred_restores(unsigned n)
{
	atomic_store(&fail_restores, n);
}
