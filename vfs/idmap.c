/* vfs/idmap.c - uid/gid translation across a mount boundary (see idmap.h). */
#include "vfs/idmap.h"

#include "config/config.h"

/* 64-bit arithmetic: base + count may exceed UINT32_MAX in a (bad) config. */
static bool idmap_in_range(uint32_t id, uint32_t base, uint32_t count)
{
	return (uint64_t)id >= base && (uint64_t)id < (uint64_t)base + count;
}

bool idmap_to_inside(const struct config_id_map *map, uint32_t out, uint32_t *in)
{
	if (map->count == 0) {
		*in = out;
		return true;
	}
	if (!idmap_in_range(out, map->outside, map->count)) {
		*in = IDMAP_OVERFLOW_ID;
		return false;
	}
	*in = (uint32_t)((uint64_t)map->inside + (out - map->outside));
	return true;
}

uint32_t idmap_to_outside(const struct config_id_map *map, uint32_t in)
{
	if (map->count == 0)
		return in;
	if (!idmap_in_range(in, map->inside, map->count))
		return IDMAP_OVERFLOW_ID;
	return (uint32_t)((uint64_t)map->outside + (in - map->inside));
}
