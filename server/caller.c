/*
 * server/caller.c - the caller's supplementary groups, for the kernel's rule
 * on setgid (fs/attr.c setattr_should_drop_sgid): a write, truncate or
 * fallocate by a caller without CAP_FSETID drops setgid when group execute is
 * set, or when the caller is outside the file's group. The kernel tells us
 * the first half (a kill flag or an empty SETATTR) but not the groups; a
 * local filesystem sees them in the caller's credentials. Asked only when a
 * setgid file without group execute is changed by someone whose fsgid is not
 * the file's, so the /proc read is rare.
 */
#include "server/caller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is gid listed on the "Groups:" line of /proc/<pid>/status? */
static bool proc_groups_contain(uint32_t pid, uint32_t gid)
{
	char path[48], *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	if (pid == 0)
		return false; /* a request the kernel makes for itself */
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		char *p = line + 7, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == gid) {
				found = true;
				break;
			}
			p = end;
		}
		break;
	}
	free(line);
	fclose(f);
	return found;
}

bool caller_in_group(const struct vfs_caller *c, uint32_t gid)
{
	if (c->gid == gid || (c->has_supp_gid && c->supp_gid == gid))
		return true;
	return proc_groups_contain(c->pid, gid);
}
