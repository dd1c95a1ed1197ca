/* vfs/vfs.c - placeholder. */
#include "vfs/vfs.h"

#include <errno.h>

int vfs_create(const struct vfsmux_config *cfg, struct vfs **out, char *err, size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	*out = NULL;
	return -ENOSYS;
}
