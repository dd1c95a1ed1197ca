/*
 * config/yaml.c - YAML text -> generic tree, with libyaml's event parser.
 *
 * Events give each node's start mark, which is what lets every later error name
 * a line and column. Only what a config needs is accepted: one document, scalar
 * keys, no aliases (an alias would let one small file expand into a huge tree).
 */
#include "config/config_int.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct yframe {
	struct cnode *node;
	char *key; /* map only: key read, value pending */
	struct config_loc key_loc;
};

struct ybuild {
	struct yframe stack[CNODE_MAX_DEPTH];
	size_t depth;
	struct cnode *root;
	struct config_errors *errs;
};

static struct config_loc mark_loc(yaml_mark_t m)
{
	return (struct config_loc){ .line = (int)m.line + 1, .column = (int)m.column + 1 };
}

/* libyaml reports reader errors (bad UTF-8) by byte offset only. */
static struct config_loc offset_loc(const char *buf, size_t len, size_t off)
{
	struct config_loc loc = { 1, 1 };

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			loc.line++;
			loc.column = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			loc.column++;
		}
	}
	return loc;
}

static int syntax_error(const yaml_parser_t *p, const char *buf, size_t len,
			struct config_errors *errs)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	struct config_loc loc;

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		loc = offset_loc(buf, len, p->problem_offset);
		return config_error_add(errs, loc, NULL, "YAML: %s", problem) ?: -EINVAL;
	}
	loc = mark_loc(p->problem_mark);
	if (p->context)
		return config_error_add(errs, loc, NULL, "YAML: %s (%s at line %zu, column %zu)",
					problem, p->context, p->context_mark.line + 1,
					p->context_mark.column + 1)
			   ?: -EINVAL;
	return config_error_add(errs, loc, NULL, "YAML: %s", problem) ?: -EINVAL;
}

/* Place a new value node: as the root, a sequence item or a map value. Takes n. */
static int place(struct ybuild *b, struct cnode *n)
{
	struct yframe *top;
	int err;

	if (b->depth == 0) {
		assert(!b->root);
		b->root = n;
		return 0;
	}
	top = &b->stack[b->depth - 1];
	if (top->node->kind == CNODE_MAP) {
		n->key = top->key;
		n->key_loc = top->key_loc;
		top->key = NULL;
	}
	err = cnode_append(top->node, n);
	if (err) {
		cnode_free(n);
		return err;
	}
	return 0;
}

/* True when the innermost open node is a map that waits for a key. */
static bool wants_key(const struct ybuild *b)
{
	const struct yframe *top = b->depth ? &b->stack[b->depth - 1] : NULL;

	return top && top->node->kind == CNODE_MAP && !top->key;
}

static int on_scalar(struct ybuild *b, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct config_loc loc = mark_loc(ev->start_mark);
	struct cnode *n;

	if (memchr(v, '\0', len))
		return config_error_add(b->errs, loc, NULL, "strings must not contain NUL")
			   ?: -EINVAL;
	if (wants_key(b)) {
		struct yframe *top = &b->stack[b->depth - 1];

		top->key = strndup(v, len);
		if (!top->key)
			return -ENOMEM;
		top->key_loc = loc;
		return 0;
	}
	n = cnode_new(CNODE_SCALAR, loc);
	if (!n)
		return -ENOMEM;
	n->style =
	    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? CSCALAR_PLAIN : CSCALAR_STRING;
	n->str = strndup(v, len);
	if (!n->str) {
		cnode_free(n);
		return -ENOMEM;
	}
	return place(b, n);
}

static int on_start(struct ybuild *b, const yaml_event_t *ev, enum cnode_kind kind)
{
	struct config_loc loc = mark_loc(ev->start_mark);
	struct cnode *n;
	int err;

	if (wants_key(b))
		return config_error_add(b->errs, loc, NULL,
					"YAML: mapping keys must be plain strings")
			   ?: -EINVAL;
	if (b->depth == CNODE_MAX_DEPTH)
		return config_error_add(b->errs, loc, NULL, "nested deeper than %d levels",
					CNODE_MAX_DEPTH)
			   ?: -EINVAL;
	n = cnode_new(kind, loc);
	if (!n)
		return -ENOMEM;
	err = place(b, n); /* owned by the tree from here on */
	if (err)
		return err;
	b->stack[b->depth++] = (struct yframe){ .node = n };
	return 0;
}

static void on_end(struct ybuild *b)
{
	assert(b->depth > 0);
	b->depth--;
	free(b->stack[b->depth].key); /* only set if the parser let a key dangle */
	b->stack[b->depth].key = NULL;
}

int config_yaml_parse(const char *buf, size_t len, struct cnode **root, struct config_errors *errs)
{
	struct ybuild b = { .errs = errs };
	yaml_parser_t p;
	yaml_event_t ev;
	int ndocs = 0;
	bool done = false;
	int err = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done && !err) {
		if (!yaml_parser_parse(&p, &ev)) {
			err = syntax_error(&p, buf, len, errs);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1)
				err = config_error_add(errs, mark_loc(ev.start_mark), NULL,
						       "only one YAML document is allowed")
					  ?: -EINVAL;
			break;
		case YAML_ALIAS_EVENT:
			err = config_error_add(errs, mark_loc(ev.start_mark), NULL,
					       "YAML aliases are not supported")
				  ?: -EINVAL;
			break;
		case YAML_SCALAR_EVENT:
			err = on_scalar(&b, &ev);
			break;
		case YAML_MAPPING_START_EVENT:
			err = on_start(&b, &ev, CNODE_MAP);
			break;
		case YAML_SEQUENCE_START_EVENT:
			err = on_start(&b, &ev, CNODE_SEQ);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			on_end(&b);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	while (b.depth)
		on_end(&b);
	yaml_parser_delete(&p);
	if (err) {
		cnode_free(b.root);
		return err;
	}
	*root = b.root; /* NULL for an empty stream */
	return 0;
}
