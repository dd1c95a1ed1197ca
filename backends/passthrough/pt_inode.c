/*
 * backends/passthrough/pt_inode.c - the inode map: ino -> inode and
 * (st_dev, st_ino) -> inode, lookup counts, and the per-filesystem mount fds.
 * The identifiers are described in pt_int.h.
 */
#include "backends/passthrough/pt_int.h"
#include "server/log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#define PT_TABLE_MIN 64

void pt_list_del(struct pt_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

void pt_list_add(struct pt_list *head, struct pt_list *e)
{
	e->next = head->next;
	e->prev = head;
	head->next->prev = e;
	head->next = e;
}

int pt_table_init(struct pt_table *t)
{
	t->b = calloc(PT_TABLE_MIN, sizeof(*t->b));
	if (!t->b)
		return -ENOMEM;
	t->mask = PT_TABLE_MIN - 1;
	t->n = 0;
	return 0;
}

static size_t hash_ino(uint64_t ino)
{
	return (size_t)((ino * UINT64_C(0x9e3779b97f4a7c15)) >> 16);
}

static size_t hash_key(dev_t dev, ino_t hino)
{
	uint64_t h = ((uint64_t)dev * UINT64_C(0xff51afd7ed558ccd)) ^ (uint64_t)hino;

	return hash_ino(h);
}

static struct pt_inode **chain(struct pt_inode *i, bool key)
{
	return key ? &i->next_key : &i->next_ino;
}

static size_t bucket(const struct pt_table *t, const struct pt_inode *i, bool key)
{
	return (key ? hash_key(i->dev, i->hino) : hash_ino(i->ino)) & t->mask;
}

/* Double the buckets when the load passes 1; on ENOMEM keep the longer chains. */
/* Rehash into n buckets (a power of two); on ENOMEM keep the old ones. */
static void table_resize(struct pt_table *t, bool key, size_t n)
{
	struct pt_inode **nb;
	struct pt_table nt;

	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	nt = (struct pt_table){ .b = nb, .mask = n - 1, .n = t->n };
	for (size_t i = 0; i <= t->mask; i++) {
		struct pt_inode *e = t->b[i], *next;

		for (; e; e = next) {
			size_t j = bucket(&nt, e, key);

			next = *chain(e, key);
			*chain(e, key) = nb[j];
			nb[j] = e;
		}
	}
	free(t->b);
	*t = nt;
}

static void table_insert(struct pt_table *t, struct pt_inode *i, bool key)
{
	size_t j = bucket(t, i, key);

	*chain(i, key) = t->b[j];
	t->b[j] = i;
	t->n++;
	if (t->n > t->mask + 1)
		table_resize(t, key, (t->mask + 1) * 2);
}

static void table_remove(struct pt_table *t, struct pt_inode *i, bool key)
{
	struct pt_inode **p = &t->b[bucket(t, i, key)];

	while (*p && *p != i)
		p = chain(*p, key);
	assert(*p == i);
	*p = *chain(i, key);
	t->n--;
	if (t->mask + 1 > PT_TABLE_MIN && t->n < (t->mask + 1) / 8)
		table_resize(t, key, (t->mask + 1) / 2);
}

static struct pt_inode *find_ino_locked(struct backend *be, uint64_t ino)
{
	struct pt_inode *i = be->by_ino.b[hash_ino(ino) & be->by_ino.mask];

	while (i && i->ino != ino)
		i = i->next_ino;
	return i;
}

static struct pt_inode *find_key_locked(struct backend *be, dev_t dev, ino_t hino)
{
	struct pt_inode *i = be->by_key.b[hash_key(dev, hino) & be->by_key.mask];

	while (i && (i->dev != dev || i->hino != hino))
		i = i->next_key;
	return i;
}

/* The slot (1..PT_SLOT_MAX) of a host device, given on first sight; 0 when none is left. */
static uint32_t dev_slot_locked(struct backend *be, dev_t dev)
{
	dev_t *more;

	for (uint32_t k = 0; k < be->nslots; k++)
		if (be->slots[k] == dev)
			return k + 1;
	if (be->nslots == PT_SLOT_MAX)
		return 0;
	more = realloc(be->slots, (be->nslots + 1) * sizeof(*more));
	if (!more)
		return 0;
	be->slots = more;
	be->slots[be->nslots++] = dev;
	return be->nslots;
}

/* (dev, hino)'s derived number, or 0 when it has none or an older object holds it. */
static uint64_t derived_ino_locked(struct backend *be, dev_t dev, ino_t hino)
{
	uint32_t slot = dev_slot_locked(be, dev);
	uint64_t ino;

	if (!slot || hino == 0 || (uint64_t)hino > UINT32_MAX)
		return 0;
	ino = ((uint64_t)slot << 32) | (uint64_t)hino;
	return find_ino_locked(be, ino) ? 0 : ino;
}

/* The number a new inode for (dev, hino) gets: see "ino" in pt_int.h. */
static uint64_t ino_for_locked(struct backend *be, dev_t dev, ino_t hino)
{
	uint64_t ino;

	if (!be->root)
		return BACKEND_ROOT_INO;
	ino = derived_ino_locked(be, dev, hino);
	return ino ? ino : be->next_ino++;
}

static struct pt_inode *inode_alloc_locked(struct backend *be, dev_t dev, ino_t hino)
{
	struct pt_inode *i = calloc(1, sizeof(*i));

	if (!i)
		return NULL;
	i->ino = ino_for_locked(be, dev, hino);
	assert(i->ino <= BACKEND_INO_MAX && !find_ino_locked(be, i->ino));
	i->dev = dev;
	i->hino = hino;
	i->pinned_fd = -1;
	fdb_entry_init(&i->fde, &be->fdo);
	i->link.prev = i->link.next = &i->link;
	table_insert(&be->by_ino, i, false);
	table_insert(&be->by_key, i, true);
	i->hashed_key = true;
	return i;
}

/* Take i out of both tables; returns the fds to close after the lock. */
static void inode_unhash_locked(struct backend *be, struct pt_inode *i, int fds[2])
{
	table_remove(&be->by_ino, i, false);
	if (i->hashed_key)
		table_remove(&be->by_key, i, true);
	i->hashed_key = false;
	if (i->hint) {
		pt_list_del(&i->link);
		be->nhints--;
	} else {
		be->ninodes--;
	}
	fds[0] = pt_fdcache_drop_locked(be, i);
	fds[1] = i->pinned_fd;
	if (i->pinned_fd >= 0)
		be->npinned--;
	i->pinned_fd = -1;
}

/*
 * Close fds (from inode_unhash_locked or inode_retire_locked) and free i (may
 * be NULL). Returns the parent i held a reference to, for the caller to put.
 */
static struct pt_inode *inode_free(struct pt_inode *i, const int fds[2])
{
	struct pt_inode *parent;

	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (!i)
		return NULL;
	parent = i->parent;
	free(i->name);
	free(i->handle);
	free(i);
	return parent;
}

/*
 * Record dir/(*name) as where BY_NAME inode i is found now: *name (malloc'd)
 * is taken, and the old name left in *name for the caller to free. Returns
 * the former parent, whose reference the caller drops after the lock.
 */
static struct pt_inode *place_locked(struct pt_inode *i, struct pt_inode *dir, char **name)
{
	struct pt_inode *old = NULL;
	char *t;

	/* The root is reached by the source path, never by a name inside it. */
	if (i->reach != PT_BY_NAME || !*name || i == dir || i->ino == BACKEND_ROOT_INO)
		return NULL;
	t = i->name;
	i->name = *name;
	*name = t;
	if (i->parent != dir) {
		old = i->parent;
		dir->refs++;
		i->parent = dir;
	}
	return old;
}

static bool inode_unused(const struct backend *be, const struct pt_inode *i)
{
	return i != be->root && !i->hint && i->nlookup == 0 && i->refs == 0;
}

/* Unhash the oldest hint when there are too many; the caller frees it after the lock. */
static struct pt_inode *hint_evict_locked(struct backend *be)
{
	struct pt_inode *victim;
	int fds[2];

	if (be->nhints < be->hint_max)
		return NULL;
	victim = (struct pt_inode *)((char *)be->hints.prev - offsetof(struct pt_inode, link));
	inode_unhash_locked(be, victim, fds);
	assert(fds[0] < 0 && fds[1] < 0); /* hints hold no fd */
	return victim;
}

/*
 * The kernel holds i no more and no op uses it. One with a handle stays as a
 * hint with its handle and number, fds dropped: an allocated number (see "ino"
 * in pt_int.h) so the file keeps it at its next lookup rather than switching
 * to its derived one, and any number so that the kernel can still decode a
 * file handle of it (LOOKUP "."); *victim is a hint pushed out to make room.
 * Others go (returns true: free it after the lock with fds).
 */
static bool inode_retire_locked(struct backend *be, struct pt_inode *i, int fds[2],
				struct pt_inode **victim)
{
	*victim = NULL;
	if (!inode_unused(be, i))
		return false;
	if (i->reach == PT_BY_HANDLE && i->handle && i->hashed_key) {
		*victim = hint_evict_locked(be);
		fds[0] = pt_fdcache_drop_locked(be, i);
		i->opened = false; /* the kernel's pages went with its inode */
		be->ninodes--;
		i->hint = true;
		pt_list_add(&be->hints, &i->link);
		be->nhints++;
		return false;
	}
	inode_unhash_locked(be, i, fds);
	return true;
}

struct pt_inode *pt_inode_get(struct backend *be, uint64_t ino)
{
	struct pt_inode *i;

	pthread_mutex_lock(&be->lock);
	i = find_ino_locked(be, ino);
	if (i && i->hint)
		i = NULL; /* never given to the kernel as a node: a stale or forged id */
	if (i)
		i->refs++;
	pthread_mutex_unlock(&be->lock);
	return i;
}

void pt_inode_put(struct backend *be, struct pt_inode *i)
{
	static const int none[2] = { -1, -1 };

	/* A freed inode drops the reference it held on its parent: up the chain. */
	while (i) {
		int fds[2] = { -1, -1 };
		struct pt_inode *victim, *next = NULL;
		bool dead;

		pthread_mutex_lock(&be->lock);
		assert(i->refs > 0);
		i->refs--;
		dead = inode_retire_locked(be, i, fds, &victim);
		pthread_mutex_unlock(&be->lock);
		inode_free(victim, none); /* a hint: no parent */
		if (dead)
			next = inode_free(i, fds);
		else if (fds[0] >= 0)
			close(fds[0]);
		i = next;
	}
}

void pt_inode_ref_lookup(struct backend *be, struct pt_inode *i)
{
	pthread_mutex_lock(&be->lock);
	assert(i->refs > 0);
	i->nlookup++;
	pthread_mutex_unlock(&be->lock);
}

void pt_inode_forget(struct backend *be, uint64_t ino, uint64_t n)
{
	static const int none[2] = { -1, -1 };
	int fds[2] = { -1, -1 };
	struct pt_inode *i, *victim;
	bool dead = false;

	pthread_mutex_lock(&be->lock);
	i = find_ino_locked(be, ino);
	if (!i || i->hint) {
		pthread_mutex_unlock(&be->lock);
		vlog_once(VLOG_WARN, "passthrough %s: forget of unknown inode %" PRIu64, be->source,
			  ino);
		return;
	}
	if (i == be->root) {
		/* vfs keeps the root's count; a forget here is harmless and ignored. */
		pthread_mutex_unlock(&be->lock);
		return;
	}
	if (i->nlookup < n) {
		vlog_once(VLOG_WARN,
			  "passthrough %s: forget %" PRIu64 " > nlookup %" PRIu64
			  " of inode %" PRIu64 "; clamped",
			  be->source, n, i->nlookup, ino);
		n = i->nlookup;
	}
	i->nlookup -= n;
	dead = inode_retire_locked(be, i, fds, &victim);
	pthread_mutex_unlock(&be->lock);
	inode_free(victim, none);
	if (dead)
		pt_inode_put(be, inode_free(i, fds));
	else if (fds[0] >= 0)
		close(fds[0]);
}

/*
 * Filesystems without a ->flush of their own: on these, close(2) of our
 * duplicate does nothing (no write-back error to report early), and the locks
 * a FLUSH would drop are the kernel's, which it drops itself. A FOPEN_NOFLUSH
 * open then spares the caller's close(2) a synchronous round trip. Network,
 * stacked (overlayfs) and unknown filesystems keep FLUSH.
 */
static bool fs_type_noflush(long type)
{
	switch ((unsigned long)type) {
	case 0xEF53:	 /* ext2/3/4 */
	case 0x58465342: /* xfs */
	case 0x9123683E: /* btrfs */
	case 0x01021994: /* tmpfs */
	case 0x858458F6: /* ramfs */
	case 0xF2F52010: /* f2fs */
		return true;
	default:
		return false;
	}
}

/*
 * The filesystem of the object at fd. A filesystem met for the first time gets
 * its mount fd from a directory on it (open_by_handle_at wants one opened
 * O_RDONLY|O_DIRECTORY); until then its non-directories pin their fds.
 */
struct pt_fs *pt_fs_get(struct backend *be, int fd, const struct stat *st)
{
	struct statfs sfs;
	struct file_handle *h = NULL;
	char path[PT_PROC_FD_LEN];
	struct pt_fs *fs, *nfs;
	int mid, mfd = -1;

	pthread_mutex_lock(&be->lock);
	for (fs = be->fs_list; fs && fs->dev != st->st_dev; fs = fs->next)
		;
	pthread_mutex_unlock(&be->lock);
	if (fs || !S_ISDIR(st->st_mode))
		return fs;

	nfs = calloc(1, sizeof(*nfs));
	h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
	if (!nfs || !h)
		goto out_free;
	nfs->dev = st->st_dev;
	nfs->pinned_mfd = -1;
	nfs->noflush = fstatfs(fd, &sfs) == 0 && fs_type_noflush((long)sfs.f_type);
	h->handle_bytes = MAX_HANDLE_SZ;
	if (!be->no_handles && name_to_handle_at(fd, "", h, &mid, AT_EMPTY_PATH) == 0) {
		pt_proc_path(path, fd);
		mfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd >= 0) {
			int probe = open_by_handle_at(mfd, h, O_PATH | O_CLOEXEC);

			if (probe >= 0) {
				close(probe);
				nfs->handles = true;
			}
		}
	}
	free(h);
	h = NULL;
	/* Only the root's filesystem is met before the root exists (pt_inode_make_root). */
	nfs->by_source = nfs->handles && !be->root;
	fdb_entry_init(&nfs->mfd, &be->fdo);
	if (nfs->handles && !nfs->by_source) {
		nfs->pinned_mfd = mfd;
		mfd = -1;
	}

	pthread_mutex_lock(&be->lock);
	for (fs = be->fs_list; fs && fs->dev != st->st_dev; fs = fs->next)
		;
	if (!fs) {
		nfs->next = be->fs_list;
		be->fs_list = fs = nfs;
		nfs = NULL;
		/* by_source: mfd is closed below; a mount takes no fd until used. */
		vlog(VLOG_INFO, "passthrough %s: filesystem %u:%u uses %s", be->source,
		     major(st->st_dev), minor(st->st_dev), fs->handles ? "handles" : "names");
	}
	pthread_mutex_unlock(&be->lock);
	if (nfs && nfs->pinned_mfd >= 0)
		close(nfs->pinned_mfd); /* lost a race: the other thread's entry stands */
	if (mfd >= 0)
		close(mfd);
out_free:
	free(h);
	free(nfs);
	return fs;
}

static bool handles_equal(const struct file_handle *a, const struct file_handle *b)
{
	return a->handle_type == b->handle_type && a->handle_bytes == b->handle_bytes &&
	       memcmp(a->f_handle, b->f_handle, a->handle_bytes) == 0;
}

/* A fresh handle for fd, or NULL with *err = 0 when the filesystem has none. */
static struct file_handle *handle_of(int fd, int *err)
{
	struct file_handle *h = malloc(sizeof(*h) + MAX_HANDLE_SZ), *small;
	int mid;

	*err = 0;
	if (!h) {
		*err = -ENOMEM;
		return NULL;
	}
	h->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", h, &mid, AT_EMPTY_PATH) < 0) {
		if (errno != EOPNOTSUPP && errno != ENOTSUP)
			*err = -errno;
		free(h);
		return NULL;
	}
	/* Shrink to the handle's real size; if that fails h is still valid. */
	small = realloc(h, sizeof(*h) + h->handle_bytes);
	// cppcheck-suppress memleak ; h is returned when realloc fails, and freed by it otherwise
	return small ? small : h;
}

/* 32 bits of a host handle (FNV-1a): different objects, different values. */
static uint32_t handle_gen(const struct file_handle *h)
{
	uint32_t x = 2166136261u;
	uint8_t type[sizeof(h->handle_type)];

	memcpy(type, &h->handle_type, sizeof(type));
	for (size_t k = 0; k < sizeof(type); k++)
		x = (x ^ type[k]) * 16777619u;
	for (unsigned k = 0; k < h->handle_bytes; k++)
		x = (x ^ h->f_handle[k]) * 16777619u;
	return x;
}

int pt_inode_intern(struct backend *be, int fd, bool own, const struct stat *st,
		    struct pt_inode *dir, const char *name, uint64_t *ino, uint32_t *gen)
{
	struct file_handle *h = NULL;
	int fds[2] = { -1, -1 };
	struct pt_inode *i, *old_free = NULL, *old_parent = NULL;
	int pfd = own ? fd : -1; /* the O_PATH fd we may keep */
	int err = 0, spare = -1;
	char *place = NULL;
	enum pt_reach reach;
	uint32_t new_gen;
	struct pt_fs *fs;

	fs = pt_fs_get(be, fd, st);
	/* The handle also names the object where it cannot reopen it (BY_NAME):
	 * its generation tells a reused host number from the object we knew. */
	h = handle_of(fd, &err);
	if (err)
		goto out_close;
	if (fs && fs->handles && h)
		reach = PT_BY_HANDLE;
	else if (dir && name)
		reach = PT_BY_NAME;
	else
		reach = PT_PINNED;
	if (dir && name && !(place = strdup(name))) {
		err = -ENOMEM;
		goto out_close;
	}
	new_gen = h ? handle_gen(h) : 0;
	if (reach != PT_BY_HANDLE && pfd < 0) {
		/*
		 * Pinned mode needs an O_PATH fd of its own for the caller's I/O fd.
		 * BY_NAME caches one: a file created open and then unlinked (its
		 * name gone) is reached through it while it stays cached. No O_NOFOLLOW: with
		 * O_PATH it would open the /proc magic link itself (a procfs symlink, S_IFLNK
		 * 0300), not the file. Following it is safe: it names the object of our own fd and
		 * nothing else.
		 */
		char path[PT_PROC_FD_LEN];
		int tries = 0;

		pt_proc_path(path, fd);
		PT_RETRY_OPEN(pfd, tries, open(path, O_PATH | O_CLOEXEC));
		if (pfd < 0) {
			err = -errno;
			goto out_close;
		}
	}

	pthread_mutex_lock(&be->lock);
	i = find_key_locked(be, st->st_dev, st->st_ino);
	if (i && i->hint && i->handle &&
	    (i->type != (st->st_mode & S_IFMT) || !h || !handles_equal(i->handle, h))) {
		/* A remembered number whose object the host has since replaced. */
		inode_unhash_locked(be, i, fds);
		old_free = i;
		i = NULL;
	}
	if (i && i->hint) {
		/* A number readdir showed becomes a real inode: d_ino stays right. */
		pt_list_del(&i->link);
		be->nhints--;
		be->ninodes++;
		i->hint = false;
		goto fill;
	}
	if (i) {
		/*
		 * Same object when the type agrees and either an fd of ours keeps the
		 * old object alive (its number cannot be reused meanwhile) or the
		 * handles (which carry the generation) agree.
		 */
		bool same = (i->type == (st->st_mode & S_IFMT)) &&
			    (i->pinned_fd >= 0 || fdb_cached(&i->fde) || !i->handle || !h ||
			     handles_equal(i->handle, h));

		if (same) {
			i->nlookup++;
			/* Cached already or pinned: the donation comes back as spare. */
			spare = pt_fdcache_donate_locked(be, i, pfd);
			pfd = -1;
			old_parent = place_locked(i, dir, &place); /* found here just now */
			*ino = i->ino;
			*gen = i->gen;
			pthread_mutex_unlock(&be->lock);
			goto out_close; /* err == 0 */
		}
		/* The host reused the number for a new object: the old inode keeps its
		 * ino until the kernel forgets it, the key now names the new one. */
		table_remove(&be->by_key, i, true);
		i->hashed_key = false;
		if (inode_unused(be, i)) {
			inode_unhash_locked(be, i, fds);
			old_free = i;
		}
	}
	i = inode_alloc_locked(be, st->st_dev, st->st_ino);
	if (!i) {
		pthread_mutex_unlock(&be->lock);
		err = -ENOMEM;
		goto out_close;
	}
	be->ninodes++;
fill:
	i->type = st->st_mode & S_IFMT;
	i->gen = new_gen;
	i->fs = fs;
	free(i->handle);
	i->handle = h;
	i->reach = reach;
	if (reach == PT_PINNED) {
		i->pinned_fd = pfd;
		be->npinned++;
	} else {
		old_parent = place_locked(i, dir, &place); /* NULL: it had none */
		spare = pt_fdcache_donate_locked(be, i, pfd);
	}
	h = NULL;
	pfd = -1;
	i->nlookup = 1;
	*ino = i->ino;
	*gen = i->gen;
	pthread_mutex_unlock(&be->lock);
out_close:
	if (old_free)
		pt_inode_put(be, inode_free(old_free, fds));
	pt_inode_put(be, old_parent);
	if (spare >= 0)
		close(spare);
	if (pfd >= 0)
		close(pfd);
	free(place);
	free(h);
	return err;
}

void pt_inode_moved(struct backend *be, struct pt_inode *dir, int dirfd, const char *name)
{
	struct pt_inode *i, *old = NULL;
	struct stat st;
	char *place;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !(place = strdup(name)))
		return; /* moved on again meanwhile: a later lookup places it */
	pthread_mutex_lock(&be->lock);
	i = find_key_locked(be, st.st_dev, st.st_ino);
	if (i && !i->hint && i != be->root)
		old = place_locked(i, dir, &place);
	pthread_mutex_unlock(&be->lock);
	free(place);
	pt_inode_put(be, old);
}

bool pt_inode_is(const struct pt_inode *i, int fd)
{
	struct file_handle *h;
	struct stat st;
	bool same;
	int err;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != i->dev ||
	    st.st_ino != i->hino || (st.st_mode & S_IFMT) != i->type)
		return false;
	if (!i->handle)
		return true;
	h = handle_of(fd, &err);
	same = h && handles_equal(h, i->handle);
	free(h);
	return same;
}

int pt_inode_reopen_forgotten(struct backend *be, uint64_t ino, int *fd)
{
	struct file_handle *h = NULL;
	struct pt_fs *fs = NULL;
	struct pt_inode *i;
	int nfd;

	*fd = -1;
	pthread_mutex_lock(&be->lock);
	i = find_ino_locked(be, ino);
	if (i && i->hint && i->reach == PT_BY_HANDLE && i->handle && i->fs && i->fs->handles) {
		h = malloc(sizeof(*h) + i->handle->handle_bytes);
		if (h)
			memcpy(h, i->handle, sizeof(*h) + i->handle->handle_bytes);
		fs = i->fs; /* lives as long as the backend */
	}
	pthread_mutex_unlock(&be->lock);
	if (!h)
		return fs ? -ENOMEM : -ESTALE;
	nfd = pt_handle_open(be, fs, h, O_PATH | O_CLOEXEC);
	free(h);
	if (nfd >= 0) {
		*fd = nfd;
		return 0;
	}
	/* The host object is gone (ESTALE), or cannot be reached any more. */
	return nfd == -ENOMEM || nfd == -EMFILE || nfd == -ENFILE ? nfd : -ESTALE;
}

uint64_t pt_inode_hint(struct backend *be, dev_t dev, ino_t hino)
{
	int fds[2] = { -1, -1 };
	struct pt_inode *i, *victim = NULL;
	uint64_t ino = 0;

	pthread_mutex_lock(&be->lock);
	i = find_key_locked(be, dev, hino);
	if (i) {
		ino = i->ino;
		goto out_unlock;
	}
	/*
	 * A free derived number is what a lookup would give now, and nothing
	 * else can take it while the host object exists (no two live objects
	 * share a host number): no hint needed. A plain READDIR of a big
	 * directory used to fill the hint FIFO with these.
	 */
	ino = derived_ino_locked(be, dev, hino);
	if (ino)
		goto out_unlock;
	victim = hint_evict_locked(be); /* the kernel holds no hint as a node */
	i = inode_alloc_locked(be, dev, hino);
	if (!i)
		goto out_unlock;
	i->hint = true;
	pt_list_add(&be->hints, &i->link);
	be->nhints++;
	ino = i->ino;
out_unlock:
	pthread_mutex_unlock(&be->lock);
	inode_free(victim, fds); /* a hint: no parent */
	return ino;
}

int pt_inode_make_root(struct backend *be, int fd, const struct stat *st)
{
	struct file_handle *h = NULL;
	struct pt_inode *i;
	struct pt_fs *fs = pt_fs_get(be, fd, st);
	int err = 0, spare = -1;

	h = handle_of(fd, &err);
	if (err) {
		close(fd);
		return err;
	}
	pthread_mutex_lock(&be->lock);
	assert(!be->root);
	i = inode_alloc_locked(be, st->st_dev, st->st_ino);
	if (i) {
		i->type = S_IFDIR;
		i->fs = fs;
		i->nlookup = 1;
		i->handle = h;
		h = NULL;
		/* Reopened when first used, by handle or by the source path: a
		 * mount holds no fd for life, and takes none until used. */
		i->reach = fs && fs->handles && i->handle ? PT_BY_HANDLE : PT_BY_NAME;
		spare = fd;
		be->ninodes++;
		be->root = i;
	} else {
		spare = fd;
	}
	pthread_mutex_unlock(&be->lock);
	if (spare >= 0)
		close(spare);
	free(h);
	return i ? 0 : -ENOMEM;
}

void pt_inodes_fini(struct backend *be)
{
	fdb_owner_fini(&be->fdo); /* every cached fd of ours, off the shared lists */
	for (size_t b = 0; be->by_ino.b && b <= be->by_ino.mask; b++) {
		struct pt_inode *i = be->by_ino.b[b], *next;

		for (; i; i = next) {
			next = i->next_ino;
			if (i->pinned_fd >= 0)
				close(i->pinned_fd);
			free(i->name);
			free(i->handle);
			free(i);
		}
	}
	free(be->slots);
	be->slots = NULL;
	free(be->by_ino.b);
	free(be->by_key.b);
	be->by_ino.b = be->by_key.b = NULL;
	while (be->fs_list) {
		struct pt_fs *fs = be->fs_list;

		be->fs_list = fs->next;
		if (fs->pinned_mfd >= 0)
			close(fs->pinned_mfd);
		free(fs); /* its cached mount fd went with fdb_owner_fini */
	}
}
