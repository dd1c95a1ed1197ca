/*
 * backends/memfs/memfs_pages.c - sparse page store of a memfs file.
 *
 * A radix tree of 64-way nodes indexed by page number (offset >> 12). A file
 * written only at 1 GiB holds one page and a few nodes; holes cost nothing.
 * The tree grows in height as larger indices arrive and shrinks back to empty;
 * empty interior nodes are pruned on removal. The caller locks (inode->lock).
 */
#include "memfs_int.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#define RADIX_BITS	 6
#define RADIX_FAN	 (1u << RADIX_BITS)
#define RADIX_MAX_HEIGHT 11 /* 66 bits: covers every uint64_t index */

struct memfs_rnode {
	void *slot[RADIX_FAN]; /* height 1: pages; above: child nodes */
	unsigned count;	       /* non-NULL slots */
};

static inline unsigned radix_shift(unsigned height)
{
	return (height - 1) * RADIX_BITS;
}

/* Can a tree of this height hold idx? */
static bool radix_covers(unsigned height, uint64_t idx)
{
	if (height >= RADIX_MAX_HEIGHT)
		return true;
	return (idx >> (height * RADIX_BITS)) == 0;
}

static inline unsigned radix_slot(unsigned height, uint64_t idx)
{
	unsigned sh = radix_shift(height);

	return sh >= 64 ? 0 : (unsigned)((idx >> sh) & (RADIX_FAN - 1));
}

void memfs_pages_init(struct memfs_pages *p)
{
	p->root = NULL;
	p->height = 0;
	p->npages = 0;
}

static void radix_free(void *n, unsigned height)
{
	struct memfs_rnode *node = n;

	if (!node)
		return;
	for (unsigned i = 0; i < RADIX_FAN; i++) {
		if (!node->slot[i])
			continue;
		if (height == 1)
			free(node->slot[i]);
		else
			radix_free(node->slot[i], height - 1);
	}
	free(node);
}

void memfs_pages_fini(struct memfs_pages *p)
{
	radix_free(p->root, p->height);
	memfs_pages_init(p);
}

void *memfs_pages_get(const struct memfs_pages *p, uint64_t idx)
{
	struct memfs_rnode *node = p->root;

	if (!node || !radix_covers(p->height, idx))
		return NULL;
	for (unsigned h = p->height; h > 1; h--) {
		node = node->slot[radix_slot(h, idx)];
		if (!node)
			return NULL;
	}
	return node->slot[radix_slot(1, idx)];
}

/* After a failed insert: free the empty nodes hung on idx's path. */
static void radix_prune(struct memfs_rnode *node, unsigned h, uint64_t idx)
{
	unsigned s = radix_slot(h, idx);
	struct memfs_rnode *child = node->slot[s];

	if (h == 1 || !child)
		return;
	radix_prune(child, h - 1, idx);
	if (!child->count) {
		free(child);
		node->slot[s] = NULL;
		node->count--;
	}
}

int memfs_pages_insert(struct memfs_pages *p, uint64_t idx, void *page)
{
	struct memfs_rnode *node;

	assert(page);
	if (!p->root) {
		node = calloc(1, sizeof(*node));
		if (!node)
			return -ENOMEM;
		p->root = node;
		p->height = 1;
	}
	/* Grow: a new root whose slot 0 holds the old tree. A taller tree
	 * holds the same pages, so growth needs no undo. */
	while (!radix_covers(p->height, idx)) {
		node = calloc(1, sizeof(*node));
		if (!node)
			goto fail;
		node->slot[0] = p->root;
		node->count = 1;
		p->root = node;
		p->height++;
	}
	node = p->root;
	for (unsigned h = p->height; h > 1; h--) {
		unsigned s = radix_slot(h, idx);
		struct memfs_rnode *child = node->slot[s];

		if (!child) {
			child = calloc(1, sizeof(*child));
			if (!child)
				goto fail;
			node->slot[s] = child;
			node->count++;
		}
		node = child;
	}
	assert(!node->slot[radix_slot(1, idx)]);
	node->slot[radix_slot(1, idx)] = page;
	node->count++;
	p->npages++;
	return 0;

fail:
	radix_prune(p->root, p->height, idx);
	if (!((struct memfs_rnode *)p->root)->count) {
		free(p->root);
		memfs_pages_init(p);
	}
	return -ENOMEM;
}

/* Remove idx below node (height h); returns the page and whether node became empty. */
static void *radix_remove(struct memfs_rnode *node, unsigned h, uint64_t idx)
{
	unsigned s = radix_slot(h, idx);
	void *child = node->slot[s];
	void *page;

	if (!child)
		return NULL;
	if (h == 1) {
		page = child;
	} else {
		struct memfs_rnode *c = child;

		page = radix_remove(c, h - 1, idx);
		if (!page || c->count)
			return page;
		free(c);
	}
	node->slot[s] = NULL;
	node->count--;
	return page;
}

void *memfs_pages_remove(struct memfs_pages *p, uint64_t idx)
{
	struct memfs_rnode *root = p->root;
	void *page;

	if (!root || !radix_covers(p->height, idx))
		return NULL;
	page = radix_remove(root, p->height, idx);
	if (!page)
		return NULL;
	p->npages--;
	if (!root->count) {
		free(root);
		memfs_pages_init(p);
	}
	return page;
}

static bool radix_next(const struct memfs_rnode *node, unsigned h, uint64_t base, uint64_t from,
		       uint64_t *found)
{
	unsigned sh = radix_shift(h);
	unsigned first = from > base ? radix_slot(h, from) : 0;

	for (unsigned i = first; i < RADIX_FAN; i++) {
		uint64_t cbase;

		if (!node->slot[i])
			continue;
		cbase = sh >= 64 ? base : base + ((uint64_t)i << sh);
		if (h == 1) {
			*found = cbase;
			return true;
		}
		if (radix_next(node->slot[i], h - 1, cbase, from > cbase ? from : cbase, found))
			return true;
	}
	return false;
}

bool memfs_pages_next(const struct memfs_pages *p, uint64_t idx, uint64_t *found)
{
	if (!p->root || !radix_covers(p->height, idx))
		return false;
	return radix_next(p->root, p->height, 0, idx, found);
}
