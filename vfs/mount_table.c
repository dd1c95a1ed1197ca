/*
 * vfs/mount_table.c - index -> referenced mount; see mount_table.h for the locking choice.
 */
#include "vfs/mount_table.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mount_table {
	pthread_rwlock_t lock; /* read: slot load + ref; write: grow/swap only */
	struct mount **slots;  /* by index; slots[0] unused (the pseudofs) */
	size_t nslots;
};

int mtab_create(struct mount_table **out)
{
	struct mount_table *mt = calloc(1, sizeof(*mt));
	int err;

	*out = NULL;
	if (!mt)
		return -ENOMEM;
	err = pthread_rwlock_init(&mt->lock, NULL);
	if (err) {
		free(mt);
		return -err;
	}
	*out = mt;
	return 0;
}

void mtab_destroy(struct mount_table *mt)
{
	if (!mt)
		return;
	for (size_t i = 0; i < mt->nslots; i++)
		mount_put(mtab_remove(mt, (uint16_t)i));
	pthread_rwlock_destroy(&mt->lock);
	free(mt->slots);
	free(mt);
}

int mount_create(const struct backend_ops *ops, const struct mount_config *cfg, uint16_t index,
		 uint64_t parent, struct mount **out, char *err, size_t errlen)
{
	struct mount *m = calloc(1, sizeof(*m));
	int ret;

	*out = NULL;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (errlen)
		err[0] = '\0';
	ret = ops->create(cfg, &m->be, err, errlen);
	if (ret) {
		if (ret > 0 || ret <= -512)
			ret = -EIO;
		if (errlen && !err[0])
			snprintf(err, errlen, "%s", strerror(-ret));
		free(m);
		return ret;
	}
	atomic_init(&m->refs, 1);
	atomic_init(&m->ino_lookups, 0);
	atomic_init(&m->root_lookups, 0);
	atomic_init(&m->handles, 0);
	m->index = index;
	m->generation = 0;
	m->ops = ops;
	m->cfg = cfg;
	m->parent = parent;
	*out = m;
	return 0;
}

int mtab_install(struct mount_table *mt, struct mount *m)
{
	int err = 0;

	assert(m->index != 0);
	pthread_rwlock_wrlock(&mt->lock);
	if (m->index >= mt->nslots) {
		size_t n = (size_t)m->index + 1;
		struct mount **v = realloc(mt->slots, n * sizeof(*v));

		if (!v) {
			err = -ENOMEM;
			goto out_unlock;
		}
		memset(v + mt->nslots, 0, (n - mt->nslots) * sizeof(*v));
		mt->slots = v;
		mt->nslots = n;
	}
	if (mt->slots[m->index]) {
		err = -EEXIST;
		goto out_unlock;
	}
	mt->slots[m->index] = m;
out_unlock:
	pthread_rwlock_unlock(&mt->lock);
	return err;
}

struct mount *mtab_remove(struct mount_table *mt, uint16_t index)
{
	struct mount *m = NULL;

	pthread_rwlock_wrlock(&mt->lock);
	if (index < mt->nslots) {
		m = mt->slots[index];
		mt->slots[index] = NULL;
	}
	pthread_rwlock_unlock(&mt->lock);
	return m;
}

struct mount *mtab_get(struct mount_table *mt, uint16_t index)
{
	struct mount *m = NULL;

	pthread_rwlock_rdlock(&mt->lock);
	if (index < mt->nslots) {
		m = mt->slots[index];
		/* Under the read lock the table's own reference keeps m alive. */
		if (m)
			atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	}
	pthread_rwlock_unlock(&mt->lock);
	return m;
}

static void mount_free(struct mount *m)
{
	if (m->ops->destroy)
		m->ops->destroy(m->be);
	free(m);
}

void mount_put(struct mount *m)
{
	uint64_t old;

	if (!m)
		return;
	old = atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel);
	assert(old > 0);
	if (old == 1)
		mount_free(m); /* no table slot, request, or holder is left */
}
