/*
 * backends/registry.c - the backend types vfsmux knows. Adding a type is one
 * line here (and its subdir in backends/meson.build); nothing else changes.
 */
#include "vfs/backend.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

extern const struct backend_ops memfs_ops;

static const struct backend_ops *const backend_types[] = {
	NULL, /* keeps the array non-empty; skipped below */
	&memfs_ops,
};

#define BACKEND_NTYPES (sizeof(backend_types) / sizeof(backend_types[0]))

/* backend_types' names, NULL-terminated (filled once, see backend_type_names). */
static const char *backend_names[BACKEND_NTYPES + 1];
static pthread_once_t backend_names_once = PTHREAD_ONCE_INIT;

static void backend_names_fill(void)
{
	size_t n = 0;

	for (size_t i = 0; i < BACKEND_NTYPES; i++)
		if (backend_types[i])
			backend_names[n++] = backend_types[i]->type;
	backend_names[n] = NULL;
}

const struct backend_ops *backend_find(const char *type)
{
	for (size_t i = 0; i < BACKEND_NTYPES; i++)
		if (backend_types[i] && strcmp(backend_types[i]->type, type) == 0)
			return backend_types[i];
	return NULL;
}

const char *const *backend_type_names(void)
{
	pthread_once(&backend_names_once, backend_names_fill);
	return backend_names;
}
