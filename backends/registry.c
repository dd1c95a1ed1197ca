/*
 * backends/registry.c - the backend types vfsmux knows. Adding a type is one
 * line here (and its subdir in backends/meson.build); nothing else changes.
 */
#include "vfs/backend.h"

#include <stddef.h>
#include <string.h>

extern const struct backend_ops passthrough_ops;

static const struct backend_ops *const backend_types[] = {
	&passthrough_ops,
};

static const char *const backend_names[] = {
	"passthrough",
	NULL,
};

const struct backend_ops *backend_find(const char *type)
{
	for (size_t i = 0; i < sizeof(backend_types) / sizeof(backend_types[0]); i++)
		if (backend_types[i] && strcmp(backend_types[i]->type, type) == 0)
			return backend_types[i];
	return NULL;
}

const char *const *backend_type_names(void)
{
	return backend_names;
}
