/*
 * server/backing.c - per-node backing ids for kernel passthrough (backing.h).
 *
 * Lock: t->lock guards the whole table, and is held across the ioctls, so a
 * RELEASE that closes an id and an OPEN that would reuse it cannot interleave
 * (the ioctls take microseconds and never block on the filesystem).
 */
#include "server/backing.h"
#include "server/fuse_kernel.h"
#include "server/log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

struct backing_node {
	uint64_t nodeid;
	int id;		      /* > 0 while pt_opens > 0, else 0 */
	uint32_t pt_opens;    /* opens replied with FOPEN_PASSTHROUGH and id */
	uint32_t plain_opens; /* opens replied without (registration failed) */
	/*
	 * The handles of exactly those opens (pt_opens + plain_opens of them):
	 * a RELEASE gives back a reference only if its fh is here. An open of
	 * this node that never came through backing_acquire() (direct I/O, no
	 * backing fd offered) holds none, and its RELEASE must not close the
	 * id under the passthrough opens still using it.
	 */
	uint64_t *fhs;
	uint32_t nfhs, fhs_cap;
	struct backing_node *next;
};

struct backing_table {
	pthread_mutex_t lock;
	struct backing_ops ops;
	struct backing_node **buckets;
	size_t nbuckets; /* power of two */
	/* Nodes in the table; changed under lock, read without it by
	 * backing_release() so that a RELEASE of a file that was never passed
	 * through (every memfs file) takes no lock while the table is empty. */
	_Atomic uint64_t count;
	/* Registration refused for lack of privilege (EPERM: no CAP_SYS_ADMIN, as
	 * under fusermount3): it will never work, so no open asks again. */
	bool refused;
};

int backing_ioctl_open(void *devfd, int fd)
{
	struct fuse_backing_map map;
	int id;

	memset(&map, 0, sizeof(map));
	map.fd = fd;
	id = ioctl(*(const int *)devfd, FUSE_DEV_IOC_BACKING_OPEN, &map);
	return id < 0 ? -errno : id;
}

int backing_ioctl_close(void *devfd, int id)
{
	uint32_t u = (uint32_t)id;

	return ioctl(*(const int *)devfd, FUSE_DEV_IOC_BACKING_CLOSE, &u) < 0 ? -errno : 0;
}

int backing_table_new(const struct backing_ops *ops, struct backing_table **out)
{
	struct backing_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->nbuckets = 64;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	t->ops = *ops;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void backing_table_free(struct backing_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct backing_node *n = t->buckets[i];

		while (n) {
			struct backing_node *next = n->next;

			if (n->id > 0)
				(void)t->ops.close(t->ops.data, n->id);
			free(n->fhs);
			free(n);
			n = next;
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static size_t slot(const struct backing_table *t, uint64_t nodeid)
{
	return (size_t)((nodeid * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (t->nbuckets - 1);
}

static struct backing_node **find(struct backing_table *t, uint64_t nodeid)
{
	struct backing_node **pp = &t->buckets[slot(t, nodeid)];

	while (*pp && (*pp)->nodeid != nodeid)
		pp = &(*pp)->next;
	return pp;
}

/* Double the buckets when the table is full; on ENOMEM keep the longer chains. */
static void grow(struct backing_table *t)
{
	size_t n = t->nbuckets * 2;
	struct backing_node **b = calloc(n, sizeof(*b));
	struct backing_node **old = t->buckets;
	size_t oldn = t->nbuckets;

	if (!b)
		return;
	t->buckets = b;
	t->nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		while (old[i]) {
			struct backing_node *e = old[i];
			size_t s = slot(t, e->nodeid);

			old[i] = e->next;
			e->next = b[s];
			b[s] = e;
		}
	}
	free(old);
}

/* Room for one more handle on n: 0 or -ENOMEM. t->lock held. */
static int fhs_reserve(struct backing_node *n)
{
	uint32_t cap = n->fhs_cap ? n->fhs_cap * 2 : 4;
	uint64_t *fhs;

	if (n->nfhs < n->fhs_cap)
		return 0;
	fhs = realloc(n->fhs, cap * sizeof(*fhs));
	if (!fhs)
		return -ENOMEM;
	n->fhs = fhs;
	n->fhs_cap = cap;
	return 0;
}

/* Forget fh on n: true when n held it. t->lock held. */
static bool fhs_take(struct backing_node *n, uint64_t fh)
{
	for (uint32_t i = 0; i < n->nfhs; i++) {
		if (n->fhs[i] == fh) {
			n->fhs[i] = n->fhs[--n->nfhs];
			return true;
		}
	}
	return false;
}

static void node_unlink_free(struct backing_table *t, struct backing_node **pp)
{
	struct backing_node *n = *pp;

	*pp = n->next;
	free(n->fhs);
	free(n);
	atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
}

int backing_acquire(struct backing_table *t, uint64_t nodeid, uint64_t fh, int fd)
{
	struct backing_node **pp, *n;
	int id = 0;

	pthread_mutex_lock(&t->lock);
	pp = find(t, nodeid);
	n = *pp;
	if (!n && t->refused) {
		/* No new registration will ever be made, so this node cannot turn
		 * passthrough while the open lives: it needs no entry. */
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			/* A plain open we cannot record: a passthrough open of this
			 * node while it lasts would fail with ETXTBSY. Out of memory
			 * only; its RELEASE finds no entry and does nothing. */
			pthread_mutex_unlock(&t->lock);
			vlog_once(VLOG_WARN,
				  "kernel passthrough: out of memory; file opened without it");
			return 0;
		}
		n->nodeid = nodeid;
		n->next = *pp;
		*pp = n;
		if (atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed) + 1 > t->nbuckets)
			grow(t);
	}
	if (fhs_reserve(n)) {
		/* Unrecorded, this open holds nothing: its RELEASE finds no fh. */
		if (!n->pt_opens && !n->plain_opens)
			node_unlink_free(t, find(t, nodeid));
		pthread_mutex_unlock(&t->lock);
		vlog_once(VLOG_WARN, "kernel passthrough: out of memory; file opened without it");
		return 0;
	}
	n->fhs[n->nfhs++] = fh;
	if (n->plain_opens > 0) {
		n->plain_opens++; /* the kernel has this inode in cached mode: stay plain */
	} else if (n->pt_opens > 0) {
		assert(n->id > 0);
		n->pt_opens++;
		id = n->id;
	} else {
		int rc = t->ops.open(t->ops.data, fd);

		if (rc > 0) {
			n->id = rc;
			n->pt_opens = 1;
			id = rc;
		} else if (rc == -EPERM) {
			vlog(VLOG_INFO, "kernel passthrough needs CAP_SYS_ADMIN; every file is "
					"read and written through the daemon");
			t->refused = true;
			n->plain_opens = 1;
		} else {
			vlog_once(VLOG_INFO,
				  "kernel passthrough refused for a file (%s); such files are "
				  "read and written through the daemon",
				  strerror(rc < 0 ? -rc : EINVAL));
			n->plain_opens = 1;
		}
	}
	/* The invariant the kernel needs: one mode per node. */
	assert(!(n->pt_opens && n->plain_opens));
	assert(n->nfhs == n->pt_opens + n->plain_opens);
	pthread_mutex_unlock(&t->lock);
	return id;
}

void backing_release(struct backing_table *t, uint64_t nodeid, uint64_t fh)
{
	struct backing_node **pp, *n;

	/*
	 * An entry for nodeid was added before its OPEN reply was written, and
	 * the kernel sends the RELEASE only after it read that reply: a zero
	 * here means there is none.
	 */
	if (atomic_load_explicit(&t->count, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&t->lock);
	pp = find(t, nodeid);
	n = *pp;
	if (!n || !fhs_take(n, fh)) {
		/* An open that acquired nothing (no backing fd offered, direct
		 * I/O), though other opens of the node may have: nothing to do. */
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (n->pt_opens > 0) {
		if (--n->pt_opens == 0) {
			int rc = t->ops.close(t->ops.data, n->id);

			if (rc < 0)
				vlog(VLOG_WARN, "closing backing id %d: %s", n->id, strerror(-rc));
			n->id = 0;
		}
	} else {
		assert(n->plain_opens > 0);
		n->plain_opens--;
	}
	if (!n->pt_opens && !n->plain_opens)
		node_unlink_free(t, pp);
	pthread_mutex_unlock(&t->lock);
}

uint64_t backing_count(struct backing_table *t)
{
	return atomic_load(&t->count);
}
