/*
 * vfs/idmap.h - a mount's uid/gid map (config id_map), in both directions (vfs-private).
 *
 *   outside  the id the kernel reports for a caller and shows to userspace
 *   inside   the id the backend sees and stores
 * A map {inside, outside, count} maps outside + k <-> inside + k for k < count;
 * count 0 is the identity. An id with no mapping reads as IDMAP_OVERFLOW_ID.
 */
#ifndef VFSMUX_IDMAP_H
#define VFSMUX_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

struct config_id_map;

#define IDMAP_OVERFLOW_ID 65534 /* the kernel's overflowuid/overflowgid */

/* outside -> inside: true and *in when mapped; false and *in = IDMAP_OVERFLOW_ID otherwise. */
bool idmap_to_inside(const struct config_id_map *map, uint32_t out, uint32_t *in);
/* inside -> outside: the mapped id, or IDMAP_OVERFLOW_ID when id has no mapping. */
uint32_t idmap_to_outside(const struct config_id_map *map, uint32_t in);

#endif
