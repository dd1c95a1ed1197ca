/* config/config.c - placeholder until the loaders land. */
#include "config/config.h"

#include <errno.h>

int config_load(const char *path, struct vfsmux_config **out, struct config_errors *errs)
{
	(void)path;
	(void)errs;
	*out = NULL;
	return -ENOSYS;
}
