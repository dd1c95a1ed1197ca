/*
 * config/print.c - the namespace a config makes, drawn as a tree for
 * `vfsmux check`: pseudo directories implied by mount paths, each mount with
 * its type, source and whatever it sets apart from the defaults.
 */
#include "config/config_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NAME_COL_MIN 23 /* the description column starts here at least */

/* Component k (0-based) of a normalized absolute path, or NULL; *len its length. */
static const char *component(const char *path, size_t k, size_t *len)
{
	const char *c = path + 1;

	for (; k > 0; k--) {
		c = strchr(c, '/');
		if (!c)
			return NULL;
		c++;
	}
	if (!*c)
		return NULL;
	*len = strcspn(c, "/");
	return c;
}

/* Rank of a path byte: end of string first, then '/', then every other byte. */
static unsigned path_rank(char c)
{
	return c == '/' ? 1u : c ? (unsigned char)c + 1u : 0u;
}

/* Path order that keeps each directory's entries adjacent ("/a", "/a/b", "/a-b"). */
static int path_cmp(const void *a, const void *b)
{
	const char *x = (*(const struct mount_config *const *)a)->path;
	const char *y = (*(const struct mount_config *const *)b)->path;

	for (;; x++, y++) {
		unsigned rx = path_rank(*x), ry = path_rank(*y);

		if (rx != ry)
			return rx < ry ? -1 : 1;
		if (!rx)
			return 0;
	}
}

static void print_size(FILE *to, uint64_t n)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };

	for (int i = 0; i < 4; i++) {
		uint64_t u = 1ull << (10 * (4 - i));

		if (n >= u && n % u == 0) {
			fprintf(to, "%" PRIu64 "%s", n / u, units[i]);
			return;
		}
	}
	fprintf(to, "%" PRIu64, n);
}

/* ", " between the items in parentheses, "(" before the first. */
static void sep(FILE *to, bool *first)
{
	fputs(*first ? " (" : ", ", to);
	*first = false;
}

/* "faults rate 0.2 EIO/ENOSPC delay 5ms seed 1 ops read,write" (testing only). */
static void print_faults(FILE *to, const struct config_faults *f)
{
	fprintf(to, "faults rate %g ", f->rate);
	for (uint32_t i = 0; i < f->nerrors; i++) {
		const char *name = config_fault_errno_name(f->errors[i]);

		fprintf(to, "%s%s", i ? "/" : "", name ? name : "?");
	}
	if (f->delay_ms)
		fprintf(to, " delay %" PRIu32 "ms", f->delay_ms);
	fprintf(to, " seed %" PRIu64, f->seed);
	if (f->ops != CONFIG_FAULT_OPS_ALL) {
		fputs(" ops ", to);
		for (unsigned op = 0, n = 0; op < CONFIG_FAULT_NOPS; op++)
			if (f->ops & (UINT64_C(1) << op))
				fprintf(to, "%s%s", n++ ? "," : "", config_fault_op_name(op));
	}
}

static void print_mount(FILE *to, const struct vfsmux_config *cfg, const struct mount_config *m)
{
	const struct config_timeouts *g = &cfg->timeouts, *t = &m->timeouts;
	bool first = true;

	fputs(m->type ? m->type : "?", to);
	if (m->source)
		fprintf(to, " %s", m->source);
	if (m->readonly) {
		sep(to, &first);
		fputs("readonly", to);
	}
	if (m->uid_map.count) {
		sep(to, &first);
		fprintf(to, "id_map %" PRIu32 ":%" PRIu32 ":%" PRIu32, m->uid_map.inside,
			m->uid_map.outside, m->uid_map.count);
	}
	if (m->size_limit) {
		sep(to, &first);
		fputs("size ", to);
		print_size(to, m->size_limit);
	}
	if (m->inode_limit) {
		sep(to, &first);
		fprintf(to, "inodes %" PRIu64, m->inode_limit);
	}
	if (m->has_root_mode) {
		sep(to, &first);
		fprintf(to, "mode %04" PRIo32, m->root_mode);
	}
	if (m->has_root_owner) {
		sep(to, &first);
		fprintf(to, "uid %" PRIu32 ", gid %" PRIu32, m->root_uid, m->root_gid);
	}
	if (m->seed) {
		sep(to, &first);
		fprintf(to, "seed %s", m->seed);
	}
	if (m->fd_cache) {
		sep(to, &first);
		fprintf(to, "fd_cache %" PRIu32, m->fd_cache);
	}
	if (m->allow_devices) {
		sep(to, &first);
		fputs("devices", to);
	}
	if (m->faults.enabled) {
		sep(to, &first);
		print_faults(to, &m->faults); /* testing only */
	}
	if (t->entry != g->entry) {
		sep(to, &first);
		fprintf(to, "entry timeout %gs", t->entry);
	}
	if (t->attr != g->attr) {
		sep(to, &first);
		fprintf(to, "attr timeout %gs", t->attr);
	}
	if (t->negative != g->negative) {
		sep(to, &first);
		fprintf(to, "negative timeout %gs", t->negative);
	}
	if (!first)
		fputc(')', to);
}

struct tree_out {
	FILE *to;
	const struct vfsmux_config *cfg;
	const struct mount_config **v; /* mounts sorted by path_cmp */
	int col;
	char indent[4096]; /* "│   " / "    " per level above */
};

/* Print the entries at depth d of v[lo, hi), which share their first d components. */
static void print_level(struct tree_out *o, size_t lo, size_t hi, size_t d, int indent_cols)
{
	size_t indent_len = strlen(o->indent);

	while (lo < hi) {
		size_t len = 0, glen = 0, g = lo + 1, sub = lo;
		const char *name = component(o->v[lo]->path, d, &len);
		const struct mount_config *here = NULL;
		bool last;
		int w;

		for (; g < hi; g++) {
			const char *gn = component(o->v[g]->path, d, &glen);

			if (glen != len || memcmp(gn, name, len))
				break;
		}
		last = g == hi;
		if (!component(o->v[lo]->path, d + 1, &glen)) {
			here = o->v[lo]; /* the mount itself sorts before what is below it */
			sub = lo + 1;
		}
		w = indent_cols + 4 + (int)len;
		fprintf(o->to, "%s%s%.*s", o->indent, last ? "└── " : "├── ", (int)len, name);
		if (here) {
			fprintf(o->to, "%*s", w < o->col ? o->col - w : 1, "");
			print_mount(o->to, o->cfg, here);
		}
		fputc('\n', o->to);
		if (sub < g && indent_len + 8 < sizeof(o->indent)) {
			snprintf(o->indent + indent_len, sizeof(o->indent) - indent_len, "%s",
				 last ? "    " : "│   ");
			print_level(o, sub, g, d + 1, indent_cols + 4);
			o->indent[indent_len] = '\0';
		}
		lo = g;
	}
}

void config_print_tree(const struct vfsmux_config *cfg, FILE *to)
{
	struct tree_out *o = calloc(1, sizeof(*o));
	const struct config_pseudofs *p = &cfg->pseudofs;
	size_t n = 0;
	int w;

	fprintf(to, "mountpoint: %s\n",
		cfg->mountpoint ? cfg->mountpoint : "(none, give one on the command line)");
	if (!o) {
		fputs("(out of memory)\n", to);
		return;
	}
	o->to = to;
	o->cfg = cfg;
	o->col = NAME_COL_MIN;
	o->v = calloc(cfg->nmounts ? cfg->nmounts : 1, sizeof(*o->v));
	if (!o->v) {
		fputs("(out of memory)\n", to);
		free(o);
		return;
	}
	for (size_t i = 0; i < cfg->nmounts; i++) {
		size_t len;

		if (!cfg->mounts[i].path || !strcmp(cfg->mounts[i].path, "/"))
			continue; /* a valid config has neither */
		o->v[n++] = &cfg->mounts[i];
		for (size_t d = 0; component(cfg->mounts[i].path, d, &len); d++) {
			w = 4 * (int)(d + 1) + (int)len + 2;
			if (w > o->col)
				o->col = w;
		}
	}
	qsort(o->v, n, sizeof(*o->v), path_cmp);
	fprintf(to, "/%*spseudofs (mode %04" PRIo32 ", uid %" PRIu32 ", gid %" PRIu32 ")\n",
		o->col - 1, "", p->mode, p->uid, p->gid);
	print_level(o, 0, n, 0, 0);
	free(o->v);
	free(o);
}
