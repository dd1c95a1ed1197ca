/* config/node.c - the generic document tree and the error list. */
#include "config/config_int.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cnode *cnode_new(enum cnode_kind kind, struct config_loc loc)
{
	struct cnode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->loc = loc;
	return n;
}

int cnode_append(struct cnode *parent, struct cnode *kid)
{
	assert(parent->kind != CNODE_SCALAR);
	if (parent->nkids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct cnode **kids = reallocarray(parent->kids, cap, sizeof(*kids));

		if (!kids)
			return -ENOMEM;
		parent->kids = kids;
		parent->cap = cap;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

void cnode_free(struct cnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		cnode_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n->key);
	free(n);
}

static void scrub_controls(char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			*s = '?';
	}
}

int config_error_vadd(struct config_errors *errs, struct config_loc loc, const char *key,
		      const char *fmt, va_list ap)
{
	struct config_error *v;
	char *msg = NULL;
	char *k = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	if (key) {
		k = strdup(key);
		if (!k)
			goto out_free;
		scrub_controls(k);
	}
	v = reallocarray(errs->v, errs->n + 1, sizeof(*v));
	if (!v)
		goto out_free;
	errs->v = v;
	scrub_controls(msg);
	v[errs->n++] = (struct config_error){ .loc = loc, .key = k, .msg = msg };
	return 0;
out_free:
	free(k);
	free(msg);
	return -ENOMEM;
}

int config_error_add(struct config_errors *errs, struct config_loc loc, const char *key,
		     const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = config_error_vadd(errs, loc, key, fmt, ap);
	va_end(ap);
	return err;
}

void config_errors_fini(struct config_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].key);
		free(errs->v[i].msg);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

void config_errors_print(const struct config_errors *errs, const char *file, FILE *to)
{
	if (!file)
		file = "<config>";
	for (size_t i = 0; i < errs->n; i++) {
		const struct config_error *e = &errs->v[i];

		fputs(file, to);
		if (e->loc.line > 0)
			fprintf(to, ":%d:%d", e->loc.line, e->loc.column);
		fputs(": ", to);
		if (e->key)
			fprintf(to, "%s: ", e->key);
		fprintf(to, "%s\n", e->msg);
	}
}
