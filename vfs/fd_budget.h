/*
 * vfs/fd_budget.h - the daemon's one budget of file descriptors (DESIGN §10),
 * and the one cache of fds that every mount shares.
 *
 * The budget is RLIMIT_NOFILE (raised to its hard limit at start), less a
 * reserve for the server's own fds (cloned /dev/fuse fds, rings, sockets,
 * logs). Inside it, fds a backend merely caches (O_PATH fds of inodes, mount
 * fds for open_by_handle_at) compete with fds that clients asked for (open
 * files and directories): the cache is bounded by the budget less what is
 * charged for open ones (fdb_charge), so when the budget is tight the cache
 * gives its fds back first, and an open that still meets EMFILE/ENFILE evicts
 * cached fds and retries (fdb_retry) before a client sees the error.
 *
 * The cache is one LRU over all owners (a passthrough mount is an owner);
 * an owner may also bound its own share (config fd_cache). An entry is
 * embedded in whatever the fd names (an inode); an op pins it while it uses
 * the fd, and only unpinned entries are evicted, so the cache can pass its
 * bound by the fds ops in flight pin, and shrinks back as they finish.
 *
 * Locking: one mutex (in fd_budget.c) guards every entry's fd, pins and links
 * and every owner's counts. It is a leaf: taken under a backend's own lock,
 * never the other way round, and never held across a close() or an open.
 */
#ifndef VFSMUX_FD_BUDGET_H
#define VFSMUX_FD_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdb_link {
	struct fdb_link *prev, *next;
};

/* One user of the cache (a passthrough mount). Fields: the budget's lock. */
struct fdb_owner {
	struct fdb_link lru; /* its unpinned entries, head = most recently used */
	size_t ncached;	     /* entries holding an fd, pinned or not */
	size_t max;	     /* its own bound; 0: only the daemon-wide one */
	uint64_t hits, misses, evictions;
};

/* A cached fd, embedded in what it names. Fields: the budget's lock. */
struct fdb_entry {
	struct fdb_link all, own; /* linked exactly when fd >= 0 && pins == 0 */
	struct fdb_owner *owner;
	int fd; /* -1: not cached */
	uint32_t pins;
};

/*
 * Read RLIMIT_NOFILE (raising the soft limit to the hard one first) and size
 * the budget. The server calls it once at start; the first owner made calls
 * it too, so a backend used alone (unit tests) gets a budget. Idempotent.
 */
void fd_budget_init(void);

struct fd_budget_stats {
	size_t limit;	   /* RLIMIT_NOFILE when sized */
	size_t cache_max;  /* bound of the shared cache with nothing charged */
	size_t cached;	   /* fds in the shared cache, all owners */
	size_t charged;	   /* fds charged as open files and directories */
	uint64_t reclaims; /* fds given back because an open met EMFILE/ENFILE */
};
void fd_budget_stats(struct fd_budget_stats *out);
/* Test knob: bound the shared cache to max fds (0: back to the sized bound). */
void fd_budget_debug_cache_max(size_t max);

/* An owner with its own bound max (0: none); fini closes its cached fds (none pinned). */
void fdb_owner_init(struct fdb_owner *o, size_t max);
void fdb_owner_fini(struct fdb_owner *o);
/* Bound of o's share as it stands now (its own or the daemon-wide one). */
size_t fdb_owner_max(const struct fdb_owner *o);
struct fdb_owner_stats {
	size_t cached, max;
	uint64_t hits, misses, evictions;
};
void fdb_owner_stats(const struct fdb_owner *o, struct fdb_owner_stats *out);

void fdb_entry_init(struct fdb_entry *e, struct fdb_owner *o);

/* The cached fd, pinned (>= 0), or -1 on a miss. Counts the hit or miss. */
int fdb_get(struct fdb_entry *e);
/*
 * Install fd (just opened after a miss) pinned, and return the fd to use: fd,
 * or the one another thread installed meanwhile (fd is then closed). May
 * evict; closes what it evicts. Not under a lock that a close must not be under.
 */
int fdb_install(struct fdb_entry *e, int fd);
/* Unpin; may evict (and close) the least recently used entries. */
void fdb_put(struct fdb_entry *e);
/*
 * Offer a fresh fd unpinned; callable under the owner's lock. Returns an fd
 * the caller must close after its lock (fd itself when e is cached already,
 * or an evicted one), or -1.
 */
int fdb_donate(struct fdb_entry *e, int fd);
/* Take e's fd out of the cache (e must be unpinned); returns it for closing, or -1. */
int fdb_drop(struct fdb_entry *e);
/* Whether e holds an fd now (the answer may change once the lock is gone). */
bool fdb_cached(struct fdb_entry *e);
/* Close every unpinned fd of o (as pressure on the budget would). */
void fdb_owner_evict_all(struct fdb_owner *o);

/* n fds opened (n > 0) or closed (n < 0) for clients; shrinks the cache to fit. */
void fdb_charge(int n);
/*
 * After an open failed with err: on EMFILE/ENFILE give back cached fds and
 * return true (retry), at most a few times per *tries (start it at 0);
 * otherwise false.
 */
bool fdb_retry(int err, int *tries);

#endif
