/*
 * pseudofs/pseudofs.c - the static tree of directories that holds the mount points.
 *
 * Nodes are kept in an array indexed by ino (slot 0 unused, 1 = root), so an
 * ino from the kernel is checked by one bounds test and never dereferenced
 * blindly. Each directory keeps its children sorted by name; since the tree
 * does not change once serving starts, a child's position is a stable
 * readdir cookie (position + PSEUDOFS_OFF_FIRST_CHILD).
 */
#include "pseudofs/pseudofs.h"

#include "config/config.h"
#include "server/log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ps_node {
	uint64_t ino;
	uint64_t parent; /* ino of the parent; the root is its own parent */
	char *name;	 /* NULL for the root */
	uint16_t mount;	 /* != 0: a mount mark (no children, never handed out) */
	struct timespec created;
	struct ps_node **children; /* sorted by name (strcmp) */
	size_t nchildren, cap;
	/* Kernel references: +1 per entry reply naming this node (lookup,
	 * placed READDIRPLUS entry), -n per forget, clamped at 0. Nodes are
	 * never freed before pseudofs_destroy, so the count is for accounting
	 * and to catch bad forgets, not for lifetime. Marks stay at 0. */
	_Atomic uint64_t nlookup;
};

struct pseudofs {
	struct config_pseudofs cfg;
	struct ps_node **nodes; /* by ino; nodes[0] is NULL */
	size_t nnodes, cap;	/* nnodes counts slot 0 */
};

static void ps_node_free(struct ps_node *n)
{
	if (!n)
		return;
	free(n->children);
	free(n->name);
	free(n);
}

void pseudofs_destroy(struct pseudofs *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->nnodes; i++)
		ps_node_free(ps->nodes[i]);
	free(ps->nodes);
	free(ps);
}

/* A new node in ps->nodes (not yet linked to a parent). NULL on -ENOMEM. */
static struct ps_node *ps_node_new(struct pseudofs *ps, uint64_t parent, const char *name)
{
	struct ps_node *n;

	if (ps->nnodes == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		struct ps_node **v = realloc(ps->nodes, cap * sizeof(*v));

		if (!v)
			return NULL;
		ps->nodes = v;
		ps->cap = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (name) {
		n->name = strdup(name);
		if (!n->name) {
			free(n);
			return NULL;
		}
	}
	n->ino = ps->nnodes;
	n->parent = parent ? parent : n->ino;
	clock_gettime(CLOCK_REALTIME, &n->created);
	atomic_init(&n->nlookup, 0);
	ps->nodes[ps->nnodes++] = n;
	return n;
}

int pseudofs_create(const struct config_pseudofs *cfg, struct pseudofs **out)
{
	struct pseudofs *ps = calloc(1, sizeof(*ps));

	*out = NULL;
	if (!ps)
		return -ENOMEM;
	ps->cfg = *cfg;
	ps->cfg.mode &= 07777;
	/* Slot 0 stays NULL so that ino 0 (a negative entry) is never a node. */
	ps->nodes = calloc(8, sizeof(*ps->nodes));
	if (!ps->nodes) {
		free(ps);
		return -ENOMEM;
	}
	ps->cap = 8;
	ps->nnodes = 1;
	if (!ps_node_new(ps, 0, NULL)) {
		pseudofs_destroy(ps);
		return -ENOMEM;
	}
	assert(ps->nodes[PSEUDOFS_ROOT_INO]->ino == PSEUDOFS_ROOT_INO);
	*out = ps;
	return 0;
}

/* Node by ino, or NULL. */
static struct ps_node *ps_node_get(struct pseudofs *ps, uint64_t ino)
{
	if (ino == 0 || ino >= ps->nnodes)
		return NULL;
	return ps->nodes[ino];
}

/* A pseudo directory by ino (a mount mark is not one), or NULL. */
static struct ps_node *ps_dir_get(struct pseudofs *ps, uint64_t ino)
{
	struct ps_node *n = ps_node_get(ps, ino);

	return n && !n->mount ? n : NULL;
}

/* Position of name among dir's children: found (true) or where it would go. */
static bool ps_child_find(const struct ps_node *dir, const char *name, size_t *pos)
{
	size_t lo = 0, hi = dir->nchildren;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dir->children[mid]->name, name);

		if (c == 0) {
			*pos = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

static int ps_child_insert(struct ps_node *dir, size_t pos, struct ps_node *child)
{
	if (dir->nchildren == dir->cap) {
		size_t cap = dir->cap ? dir->cap * 2 : 4;
		struct ps_node **v = realloc(dir->children, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dir->children = v;
		dir->cap = cap;
	}
	memmove(dir->children + pos + 1, dir->children + pos,
		(dir->nchildren - pos) * sizeof(*dir->children));
	dir->children[pos] = child;
	dir->nchildren++;
	return 0;
}

/* Child name of dir (made when missing): *out. A made node is a plain directory. */
static int ps_child_get_or_make(struct pseudofs *ps, struct ps_node *dir, const char *name,
				struct ps_node **out)
{
	struct ps_node *child;
	uint64_t dir_ino = dir->ino;
	size_t pos;
	int err;

	if (ps_child_find(dir, name, &pos)) {
		*out = dir->children[pos];
		return 0;
	}
	child = ps_node_new(ps, dir_ino, name);
	if (!child)
		return -ENOMEM;
	err = ps_child_insert(dir, pos, child);
	if (err) {
		/* Unlink from the ino array again: it was the last one added. */
		ps->nodes[--ps->nnodes] = NULL;
		ps_node_free(child);
		return err;
	}
	*out = child;
	return 0;
}

int pseudofs_add_mount(struct pseudofs *ps, const char *path, uint16_t index, uint64_t *parent)
{
	char comp[NAME_MAX + 1];
	struct ps_node *dir = ps->nodes[PSEUDOFS_ROOT_INO];
	struct ps_node *child;
	const char *p = path;
	size_t pos;
	int err;

	if (index == 0 || !path || path[0] != '/')
		return -EINVAL;
	for (;;) {
		const char *end;
		size_t len;

		while (*p == '/')
			p++;
		if (*p == '\0')
			return -EINVAL; /* "/" itself, or nothing after the last dir */
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0)
			return -EINVAL;
		p = end;
		while (*p == '/')
			p++;
		if (*p == '\0')
			break; /* comp is the last component: the mark */
		err = ps_child_get_or_make(ps, dir, comp, &child);
		if (err)
			return err;
		if (child->mount)
			return -EINVAL; /* nested mounts are a later step */
		dir = child;
	}
	if (ps_child_find(dir, comp, &pos))
		return -EEXIST;
	err = ps_child_get_or_make(ps, dir, comp, &child);
	if (err)
		return err;
	child->mount = index;
	if (parent)
		*parent = dir->ino;
	return 0;
}

static void ps_fill_attr(const struct pseudofs *ps, const struct ps_node *n, struct stat *st)
{
	nlink_t subdirs = 0;

	memset(st, 0, sizeof(*st));
	/* Every child is a directory: pseudo dirs, and mount points (backend roots). */
	subdirs = (nlink_t)n->nchildren;
	st->st_ino = n->ino;
	st->st_mode = S_IFDIR | ps->cfg.mode;
	st->st_nlink = 2 + subdirs;
	st->st_uid = ps->cfg.uid;
	st->st_gid = ps->cfg.gid;
	st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_atim = n->created;
	st->st_mtim = n->created;
	st->st_ctim = n->created;
}

int pseudofs_lookup(struct pseudofs *ps, uint64_t parent, const char *name,
		    struct pseudofs_entry *out)
{
	struct ps_node *dir = ps_dir_get(ps, parent);
	struct ps_node *n;
	size_t pos;

	memset(out, 0, sizeof(*out));
	if (!dir)
		return -ESTALE;
	if (strcmp(name, ".") == 0) {
		n = dir;
	} else if (strcmp(name, "..") == 0) {
		n = ps->nodes[dir->parent];
	} else {
		if (!ps_child_find(dir, name, &pos))
			return -ENOENT;
		n = dir->children[pos];
	}
	out->ino = n->ino;
	if (n->mount) {
		out->mount = n->mount;
		return 0;
	}
	ps_fill_attr(ps, n, &out->attr);
	atomic_fetch_add_explicit(&n->nlookup, 1, memory_order_relaxed);
	return 0;
}

int pseudofs_ref(struct pseudofs *ps, uint64_t ino)
{
	struct ps_node *n = ps_dir_get(ps, ino);

	if (!n)
		return -ESTALE;
	atomic_fetch_add_explicit(&n->nlookup, 1, memory_order_relaxed);
	return 0;
}

void pseudofs_forget(struct pseudofs *ps, uint64_t ino, uint64_t n)
{
	struct ps_node *node = ps_dir_get(ps, ino);
	uint64_t cur, next;

	if (!node) {
		vlog_once(VLOG_WARN, "pseudofs: forget for unknown ino %" PRIu64, ino);
		return;
	}
	cur = atomic_load_explicit(&node->nlookup, memory_order_relaxed);
	do {
		if (n > cur)
			vlog_once(VLOG_WARN,
				  "pseudofs: forget %" PRIu64 " > nlookup %" PRIu64
				  " on ino %" PRIu64 "; clamped",
				  n, cur, ino);
		next = n > cur ? 0 : cur - n;
	} while (!atomic_compare_exchange_weak_explicit(
	    &node->nlookup, &cur, next, memory_order_relaxed, memory_order_relaxed));
}

uint64_t pseudofs_lookups(struct pseudofs *ps, uint64_t ino)
{
	uint64_t sum = 0;
	struct ps_node *n;

	if (ino != 0) {
		n = ps_node_get(ps, ino);
		return n ? atomic_load_explicit(&n->nlookup, memory_order_relaxed) : 0;
	}
	for (size_t i = 1; i < ps->nnodes; i++)
		sum += atomic_load_explicit(&ps->nodes[i]->nlookup, memory_order_relaxed);
	return sum;
}

int pseudofs_getattr(struct pseudofs *ps, uint64_t ino, struct stat *out)
{
	struct ps_node *n = ps_dir_get(ps, ino);

	if (!n)
		return -ESTALE;
	ps_fill_attr(ps, n, out);
	return 0;
}

int pseudofs_readdir(struct pseudofs *ps, uint64_t ino, uint64_t off, pseudofs_fill_fn fill,
		     void *data)
{
	struct ps_node *dir = ps_dir_get(ps, ino);
	struct pseudofs_dirent d;
	int r;

	if (!dir)
		return -ESTALE;
	/* Position p: 0 ".", 1 "..", 2 + i child i; the cookie after p is p + 1. */
	for (uint64_t p = off; p < dir->nchildren + 2; p++) {
		if (p == 0) {
			d = (struct pseudofs_dirent){ ".", dir->ino, 0, 1 };
		} else if (p == 1) {
			d = (struct pseudofs_dirent){ "..", dir->parent, 0, 2 };
		} else {
			const struct ps_node *c = dir->children[p - 2];

			d = (struct pseudofs_dirent){ c->name, c->ino, c->mount, p + 1 };
		}
		r = fill(data, &d);
		if (r < 0)
			return r;
		if (r > 0)
			break;
	}
	return 0;
}

void pseudofs_statfs(struct pseudofs *ps, struct statvfs *out)
{
	(void)ps;
	memset(out, 0, sizeof(*out));
	out->f_bsize = 4096;
	out->f_frsize = 4096;
	out->f_namemax = 255;
}

int pseudofs_access(struct pseudofs *ps, uint64_t ino, uint32_t uid, uint32_t gid, int mask)
{
	struct ps_node *n = ps_dir_get(ps, ino);
	mode_t mode = ps->cfg.mode;
	mode_t bits;

	if (!n)
		return -ESTALE;
	mask &= R_OK | W_OK | X_OK;
	if (uid == 0) {
		/* Root reads and writes past the bits, but executes only where someone may. */
		if ((mask & X_OK) && !(mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
			return -EACCES;
		return 0;
	}
	if (uid == ps->cfg.uid)
		bits = (mode >> 6) & 7;
	else if (gid == ps->cfg.gid)
		bits = (mode >> 3) & 7;
	else
		bits = mode & 7;
	/* R_OK, W_OK, X_OK are 4, 2, 1: the same layout as one rwx triple. */
	return ((mode_t)mask & ~bits) ? -EACCES : 0;
}
