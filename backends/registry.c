/*
 * backends/registry.c - the backend types vfsmux knows. Adding a type is one
 * line in backend_types (and its subdir in backends/meson.build, and its
 * keys in config/validate.c); nothing else changes.
 */
#include "vfs/backend.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

extern const struct backend_ops passthrough_ops;
extern const struct backend_ops memfs_ops;

static const struct backend_ops *const backend_types[] = {
	&passthrough_ops,
	&memfs_ops,
};

#define BACKEND_NTYPES (sizeof(backend_types) / sizeof(backend_types[0]))

/* backend_types' names, NULL-terminated (filled once, see backend_type_names). */
static const char *backend_names[BACKEND_NTYPES + 1];
static pthread_once_t backend_names_once = PTHREAD_ONCE_INIT;

static void backend_names_fill(void)
{
	for (size_t i = 0; i < BACKEND_NTYPES; i++)
		backend_names[i] = backend_types[i]->type;
	backend_names[BACKEND_NTYPES] = NULL;
}

const struct backend_ops *backend_find(const char *type)
{
	for (size_t i = 0; i < BACKEND_NTYPES; i++)
		if (strcmp(backend_types[i]->type, type) == 0)
			return backend_types[i];
	return NULL;
}

const char *const *backend_type_names(void)
{
	pthread_once(&backend_names_once, backend_names_fill);
	return backend_names;
}
