/*
 * server/caller.h - what a request's header does not say about its caller.
 */
#ifndef VFSMUX_CALLER_H
#define VFSMUX_CALLER_H

#include "vfs/vfs.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Is gid (as the kernel sees it) one of the caller's groups: its fsgid, the
 * supplementary group FUSE_CREATE_SUPP_GROUP named, or any supplementary group
 * of the calling thread, read from /proc/<pid>/status. The header carries the
 * thread's id in our pid namespace; a caller that exited (or an unreadable
 * /proc) counts as outside the group, the answer that removes a privilege.
 */
bool caller_in_group(const struct vfs_caller *c, uint32_t gid);

#endif
