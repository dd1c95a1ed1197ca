/*
 * config/config_int.h - private to config/: the generic document tree.
 *
 * Both front-ends (yaml.c, json.c) turn their text into the same small tree of
 * maps, sequences and scalars, each node carrying the line and column where it
 * starts; validate.c then checks that one tree against the schema once, so the
 * two formats cannot drift apart and every semantic error has a position.
 */
#ifndef VFSMUX_CONFIG_INT_H
#define VFSMUX_CONFIG_INT_H

#include "config/config.h"

#include <stdarg.h>

/* Deeper nesting than this is refused by both front-ends (the schema needs 4). */
#define CNODE_MAX_DEPTH 64
/* Largest config text we read; anything bigger is surely not a config. */
#define CONFIG_MAX_TEXT (16u << 20)

enum cnode_kind {
	CNODE_MAP,
	CNODE_SEQ,
	CNODE_SCALAR,
};

/*
 * How a scalar was written, which decides what it may stand for:
 *   PLAIN   YAML unquoted: a number, a boolean, null or a bare string
 *   STRING  YAML quoted or JSON string: only ever a string
 *   NUMBER  JSON number token (raw text kept, converted by the validator)
 *   BOOL    JSON true/false (text "true"/"false")
 *   NULL    JSON null
 */
enum cscalar_style {
	CSCALAR_PLAIN,
	CSCALAR_STRING,
	CSCALAR_NUMBER,
	CSCALAR_BOOL,
	CSCALAR_NULL,
};

struct cnode {
	enum cnode_kind kind;
	enum cscalar_style style; /* CNODE_SCALAR only */
	struct config_loc loc;	  /* where the value starts */
	char *str;		  /* CNODE_SCALAR: text, NUL-terminated, no inner NUL */
	/* Set when this node is a mapping value: its key and where the key stands. */
	char *key;
	struct config_loc key_loc;
	bool dup;	     /* a later repeat of a key in the same map; reported, then ignored */
	struct cnode **kids; /* map values (with key) or sequence items, in order */
	size_t nkids, cap;
};

/* A node of kind, at loc; NULL on ENOMEM. */
struct cnode *cnode_new(enum cnode_kind kind, struct config_loc loc);
/* Append kid to parent (takes ownership on success); 0 or -ENOMEM. */
int cnode_append(struct cnode *parent, struct cnode *kid);
void cnode_free(struct cnode *n); /* NULL is a no-op; frees the subtree */

/*
 * Append one error. key may be NULL; msg is printf-formatted. Control
 * characters from user text are replaced by '?' so a hostile key cannot forge
 * extra lines in the output. 0 or -ENOMEM.
 */
int config_error_add(struct config_errors *errs, struct config_loc loc, const char *key,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int config_error_vadd(struct config_errors *errs, struct config_loc loc, const char *key,
		      const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/*
 * Front-ends: parse text (len bytes, need not be NUL-terminated) into a tree.
 * On a syntax error add it to errs and return -EINVAL; -ENOMEM on allocation
 * failure. On success *root is the document's top node (any kind).
 */
int config_yaml_parse(const char *buf, size_t len, struct cnode **root, struct config_errors *errs);
int config_json_parse(const char *buf, size_t len, struct cnode **root, struct config_errors *errs);

/*
 * Check the tree against the schema and fill cfg (already holding defaults).
 * Repeated keys are marked (cnode.dup) and reported.
 * Every problem found is added to errs. Returns 0 when none was found,
 * -EINVAL when some were, -ENOMEM on allocation failure.
 */
int config_validate(struct cnode *root, struct vfsmux_config *cfg, struct config_errors *errs);

/* Mount types known to the config and the keys each accepts beyond the common ones. */
struct config_mount_type {
	const char *name;
	const char *const *keys; /* NULL-terminated */
};
extern const struct config_mount_type config_mount_types[];
extern const size_t config_mount_ntypes;

#endif
