/*
 * vfs/fd_budget.c - the daemon's fd budget and its one shared fd cache; the
 * contract is in fd_budget.h.
 */
#include "vfs/fd_budget.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/resource.h>
#include <unistd.h>

#define FDB_LIMIT_MAX	(1u << 22) /* an unlimited or huge RLIMIT_NOFILE counts as this */
#define FDB_RESERVE_MIN 64	   /* server fds: /dev/fuse clones, rings, sockets, logs */
#define FDB_BATCH	16	   /* victims closed per pass, after the lock */
#define FDB_RETRIES	4	   /* retries of one open after EMFILE/ENFILE */

static struct {
	pthread_mutex_t lock; /* see fd_budget.h */
	struct fdb_link lru;  /* every unpinned entry, head = most recently used */
	size_t ncached;
	size_t limit, reserve, cache_max, debug_max;
	uint64_t reclaims;
	atomic_long charged; /* open files and directories; read without the lock */
} fdb = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.lru = { &fdb.lru, &fdb.lru },
};
static pthread_once_t fdb_once = PTHREAD_ONCE_INIT;

static void link_init(struct fdb_link *l)
{
	l->prev = l->next = l;
}

static void link_del(struct fdb_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link_init(l);
}

static void link_add(struct fdb_link *head, struct fdb_link *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

static void size_budget(void)
{
	struct rlimit rl;
	size_t limit = FDB_LIMIT_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			struct rlimit up = { rl.rlim_max, rl.rlim_max };

			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				rl.rlim_cur = rl.rlim_max;
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < FDB_LIMIT_MAX)
			limit = (size_t)rl.rlim_cur;
	}
	fdb.limit = limit;
	fdb.reserve = FDB_RESERVE_MIN + limit / 32;
	if (fdb.reserve > limit / 2)
		fdb.reserve = limit / 2;
	/* Half of what is left: the other half absorbs a burst of opens that
	 * arrive faster than the cache shrinks (fdb_charge after the open). */
	fdb.cache_max = (limit - fdb.reserve) / 2;
	if (fdb.cache_max == 0)
		fdb.cache_max = 1;
}

void fd_budget_init(void)
{
	pthread_once(&fdb_once, size_budget);
}

/* The shared cache's bound now: its size less what clients hold open. */
static size_t cap_locked(void)
{
	size_t max = fdb.debug_max ? fdb.debug_max : fdb.cache_max;
	long charged = atomic_load_explicit(&fdb.charged, memory_order_relaxed);
	size_t room = fdb.limit - fdb.reserve;

	if (charged > 0)
		room = (size_t)charged < room ? room - (size_t)charged : 0;
	return max < room ? max : room;
}

static struct fdb_entry *entry_of(struct fdb_link *l, bool own)
{
	return (struct fdb_entry *)((char *)l - (own ? offsetof(struct fdb_entry, own)
						     : offsetof(struct fdb_entry, all)));
}

/* Take e's fd out of the cache; e is unpinned and cached. Returns the fd. */
static int unlink_locked(struct fdb_entry *e)
{
	int fd = e->fd;

	assert(fd >= 0 && e->pins == 0);
	link_del(&e->all);
	link_del(&e->own);
	e->fd = -1;
	e->owner->ncached--;
	fdb.ncached--;
	return fd;
}

/*
 * Evict what is over a bound, preferring o's own least recently used entry
 * when o is over its own bound (o may be NULL). Fills out[] (up to FDB_BATCH);
 * returns how many, each to be closed after the lock.
 */
static int evict_locked(struct fdb_owner *o, int out[FDB_BATCH])
{
	int n = 0;

	while (n < FDB_BATCH) {
		struct fdb_entry *v;

		if (o && o->max && o->ncached > o->max && o->lru.prev != &o->lru)
			v = entry_of(o->lru.prev, true);
		else if (fdb.ncached > cap_locked() && fdb.lru.prev != &fdb.lru)
			v = entry_of(fdb.lru.prev, false);
		else
			break;
		v->owner->evictions++;
		out[n++] = unlink_locked(v);
	}
	return n;
}

static void close_all(const int *fds, int n)
{
	for (int k = 0; k < n; k++)
		close(fds[k]);
}

void fd_budget_stats(struct fd_budget_stats *out)
{
	fd_budget_init();
	pthread_mutex_lock(&fdb.lock);
	*out = (struct fd_budget_stats){
		.limit = fdb.limit,
		.cache_max = fdb.debug_max ? fdb.debug_max : fdb.cache_max,
		.cached = fdb.ncached,
		.charged = (size_t)atomic_load(&fdb.charged),
		.reclaims = fdb.reclaims,
	};
	pthread_mutex_unlock(&fdb.lock);
}

void fd_budget_debug_cache_max(size_t max)
{
	int victims[FDB_BATCH], n;

	fd_budget_init();
	pthread_mutex_lock(&fdb.lock);
	fdb.debug_max = max;
	pthread_mutex_unlock(&fdb.lock);
	do {
		pthread_mutex_lock(&fdb.lock);
		n = evict_locked(NULL, victims);
		pthread_mutex_unlock(&fdb.lock);
		close_all(victims, n);
	} while (n == FDB_BATCH);
}

void fdb_owner_init(struct fdb_owner *o, size_t max)
{
	fd_budget_init();
	*o = (struct fdb_owner){ .max = max };
	link_init(&o->lru);
}

size_t fdb_owner_max(const struct fdb_owner *o)
{
	size_t max;

	pthread_mutex_lock(&fdb.lock);
	max = cap_locked();
	if (o->max && o->max < max)
		max = o->max;
	pthread_mutex_unlock(&fdb.lock);
	return max;
}

void fdb_owner_stats(const struct fdb_owner *o, struct fdb_owner_stats *out)
{
	pthread_mutex_lock(&fdb.lock);
	*out = (struct fdb_owner_stats){ .cached = o->ncached,
					 .hits = o->hits,
					 .misses = o->misses,
					 .evictions = o->evictions };
	out->max = cap_locked();
	if (o->max && o->max < out->max)
		out->max = o->max;
	pthread_mutex_unlock(&fdb.lock);
}

void fdb_owner_evict_all(struct fdb_owner *o)
{
	int victims[FDB_BATCH], n;

	do {
		n = 0;
		pthread_mutex_lock(&fdb.lock);
		while (n < FDB_BATCH && o->lru.prev != &o->lru) {
			struct fdb_entry *v = entry_of(o->lru.prev, true);

			o->evictions++;
			victims[n++] = unlink_locked(v);
		}
		pthread_mutex_unlock(&fdb.lock);
		close_all(victims, n);
	} while (n == FDB_BATCH);
}

void fdb_owner_fini(struct fdb_owner *o)
{
	fdb_owner_evict_all(o);
	assert(o->ncached == 0); /* nothing pinned once the owner goes */
}

void fdb_entry_init(struct fdb_entry *e, struct fdb_owner *o)
{
	link_init(&e->all);
	link_init(&e->own);
	e->owner = o;
	e->fd = -1;
	e->pins = 0;
}

int fdb_get(struct fdb_entry *e)
{
	int fd = -1;

	pthread_mutex_lock(&fdb.lock);
	if (e->fd >= 0) {
		if (e->pins++ == 0) {
			link_del(&e->all);
			link_del(&e->own);
		}
		e->owner->hits++;
		fd = e->fd;
	} else {
		e->owner->misses++;
	}
	pthread_mutex_unlock(&fdb.lock);
	return fd;
}

int fdb_install(struct fdb_entry *e, int fd)
{
	int victims[FDB_BATCH], n = 0, spare = -1, use;

	pthread_mutex_lock(&fdb.lock);
	if (e->fd >= 0) {
		/* Another thread reopened it meanwhile: use theirs. */
		if (e->pins++ == 0) {
			link_del(&e->all);
			link_del(&e->own);
		}
		spare = fd;
	} else {
		e->fd = fd;
		e->pins = 1;
		e->owner->ncached++;
		fdb.ncached++;
		n = evict_locked(e->owner, victims);
	}
	use = e->fd;
	pthread_mutex_unlock(&fdb.lock);
	if (spare >= 0)
		close(spare);
	close_all(victims, n);
	return use;
}

void fdb_put(struct fdb_entry *e)
{
	int victims[FDB_BATCH], n = 0;

	pthread_mutex_lock(&fdb.lock);
	assert(e->fd >= 0 && e->pins > 0);
	if (--e->pins == 0) {
		link_add(&fdb.lru, &e->all);
		link_add(&e->owner->lru, &e->own);
		n = evict_locked(e->owner, victims);
	}
	pthread_mutex_unlock(&fdb.lock);
	close_all(victims, n);
}

int fdb_donate(struct fdb_entry *e, int fd)
{
	int victims[FDB_BATCH], n, ret;

	if (fd < 0)
		return -1;
	pthread_mutex_lock(&fdb.lock);
	if (e->fd >= 0) {
		pthread_mutex_unlock(&fdb.lock);
		return fd;
	}
	e->fd = fd;
	e->pins = 0;
	link_add(&fdb.lru, &e->all);
	link_add(&e->owner->lru, &e->own);
	e->owner->ncached++;
	fdb.ncached++;
	/* One in, at most one out: the caller closes that one after its lock. */
	n = evict_locked(e->owner, victims);
	ret = n ? victims[0] : -1;
	pthread_mutex_unlock(&fdb.lock);
	/* More than one only when the budget shrank meanwhile; they are not
	 * the caller's object, so closing them under its lock is harmless. */
	close_all(victims + 1, n > 1 ? n - 1 : 0);
	return ret;
}

int fdb_drop(struct fdb_entry *e)
{
	int fd = -1;

	pthread_mutex_lock(&fdb.lock);
	if (e->fd >= 0)
		fd = unlink_locked(e);
	pthread_mutex_unlock(&fdb.lock);
	return fd;
}

bool fdb_cached(struct fdb_entry *e)
{
	bool cached;

	pthread_mutex_lock(&fdb.lock);
	cached = e->fd >= 0;
	pthread_mutex_unlock(&fdb.lock);
	return cached;
}

void fdb_charge(int n)
{
	int victims[FDB_BATCH], k;

	atomic_fetch_add_explicit(&fdb.charged, n, memory_order_relaxed);
	if (n <= 0)
		return;
	do {
		pthread_mutex_lock(&fdb.lock);
		k = evict_locked(NULL, victims);
		pthread_mutex_unlock(&fdb.lock);
		close_all(victims, k);
	} while (k == FDB_BATCH);
}

bool fdb_retry(int err, int *tries)
{
	int victims[FDB_BATCH], n = 0;
	size_t want;

	if ((err != EMFILE && err != ENFILE) || (*tries)++ >= FDB_RETRIES)
		return false;
	pthread_mutex_lock(&fdb.lock);
	/* A quarter of the cache (at least a batch): room for the burst that met the wall. */
	want = fdb.ncached / 4;
	do {
		n = 0;
		while (n < FDB_BATCH && fdb.lru.prev != &fdb.lru) {
			struct fdb_entry *v = entry_of(fdb.lru.prev, false);

			v->owner->evictions++;
			victims[n++] = unlink_locked(v);
		}
		fdb.reclaims += (uint64_t)n;
		want = want > (size_t)n ? want - (size_t)n : 0;
		pthread_mutex_unlock(&fdb.lock);
		close_all(victims, n);
		pthread_mutex_lock(&fdb.lock);
	} while (n == FDB_BATCH && want > 0);
	pthread_mutex_unlock(&fdb.lock);
	return true; /* even with nothing cached: another thread may have closed one */
}
