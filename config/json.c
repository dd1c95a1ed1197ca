/*
 * config/json.c - JSON text -> generic tree.
 *
 * jansson is the judge of syntax (its error carries line and column), but its
 * values carry no positions, and a map it builds has already dropped duplicate
 * keys. So once jansson has accepted the text, a small scanner walks the same
 * text again and builds the position-carrying tree. The scanner can trust the
 * grammar it sees, yet still checks every byte it reads and fails cleanly if it
 * ever disagrees with jansson.
 */
#include "config/config_int.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct jscan {
	const char *p, *end;
	struct config_loc loc; /* of *p; columns count characters, as jansson does */
	int depth;
	struct config_errors *errs;
};

static void advance(struct jscan *s)
{
	assert(s->p < s->end);
	if (*s->p == '\n') {
		s->loc.line++;
		s->loc.column = 1;
	} else if (((unsigned char)*s->p & 0xc0) != 0x80) {
		s->loc.column++;
	}
	s->p++;
}

static void skip_ws(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		advance(s);
}

static int peek(const struct jscan *s)
{
	return s->p < s->end ? (unsigned char)*s->p : -1;
}

static int disagree(struct jscan *s)
{
	return config_error_add(s->errs, s->loc, NULL, "JSON: unexpected input") ?: -EINVAL;
}

static int hex4(struct jscan *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		int c = peek(s);

		if (c >= '0' && c <= '9')
			v = v * 16 + (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (uint32_t)(c - 'A' + 10);
		else
			return -EINVAL;
		advance(s);
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One \u escape (the "\u" already consumed), pairing surrogates. */
static int unicode_escape(struct jscan *s, uint32_t *cp)
{
	uint32_t hi, lo;

	if (hex4(s, &hi))
		return -EINVAL;
	if (hi < 0xd800 || hi > 0xdfff) {
		*cp = hi;
		return hi ? 0 : -EINVAL; /* \u0000 would cut the string short */
	}
	if (hi > 0xdbff || peek(s) != '\\')
		return -EINVAL;
	advance(s);
	if (peek(s) != 'u')
		return -EINVAL;
	advance(s);
	if (hex4(s, &lo) || lo < 0xdc00 || lo > 0xdfff)
		return -EINVAL;
	*cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

/* A string at *p (the opening quote); *out is malloc'd and NUL-terminated. */
static int scan_string(struct jscan *s, char **out)
{
	/* Decoding never grows the text: an escape is longer than what it makes. */
	char *buf = malloc((size_t)(s->end - s->p) + 1);
	size_t n = 0;
	uint32_t cp;

	if (!buf)
		return -ENOMEM;
	advance(s); /* opening quote */
	for (;;) {
		int c = peek(s);

		if (c < 0x20) /* end of text or a raw control character */
			goto out_bad;
		advance(s);
		if (c == '"')
			break;
		if (c != '\\') {
			buf[n++] = (char)c;
			continue;
		}
		c = peek(s);
		if (c < 0)
			goto out_bad;
		advance(s);
		switch (c) {
		case '"':
		case '\\':
		case '/':
			buf[n++] = (char)c;
			break;
		case 'b':
			buf[n++] = '\b';
			break;
		case 'f':
			buf[n++] = '\f';
			break;
		case 'n':
			buf[n++] = '\n';
			break;
		case 'r':
			buf[n++] = '\r';
			break;
		case 't':
			buf[n++] = '\t';
			break;
		case 'u':
			if (unicode_escape(s, &cp))
				goto out_bad;
			n += put_utf8(buf + n, cp);
			break;
		default:
			goto out_bad;
		}
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
out_bad:
	free(buf);
	return disagree(s);
}

static int scan_value(struct jscan *s, struct cnode **out);

static int scan_container(struct jscan *s, struct cnode *n)
{
	const bool map = n->kind == CNODE_MAP;
	const char close = map ? '}' : ']';
	int err;

	if (++s->depth > CNODE_MAX_DEPTH)
		return config_error_add(s->errs, n->loc, NULL, "nested deeper than %d levels",
					CNODE_MAX_DEPTH)
			   ?: -EINVAL;
	advance(s); /* opening bracket */
	skip_ws(s);
	if (peek(s) == close) {
		advance(s);
		s->depth--;
		return 0;
	}
	for (;;) {
		struct config_loc key_loc = { 0, 0 };
		struct cnode *kid;
		char *key = NULL;

		skip_ws(s);
		if (map) {
			key_loc = s->loc;
			if (peek(s) != '"')
				return disagree(s);
			err = scan_string(s, &key);
			if (err)
				return err;
			skip_ws(s);
			if (peek(s) != ':') {
				free(key);
				return disagree(s);
			}
			advance(s);
		}
		err = scan_value(s, &kid);
		if (err) {
			free(key);
			return err;
		}
		kid->key = key;
		kid->key_loc = key_loc;
		err = cnode_append(n, kid);
		if (err) {
			cnode_free(kid);
			return err;
		}
		skip_ws(s);
		if (peek(s) == close)
			break;
		if (peek(s) != ',')
			return disagree(s);
		advance(s);
	}
	advance(s);
	s->depth--;
	return 0;
}

static int scan_word(struct jscan *s, const char *w)
{
	size_t len = strlen(w);

	if ((size_t)(s->end - s->p) < len || memcmp(s->p, w, len))
		return disagree(s);
	for (size_t i = 0; i < len; i++)
		advance(s);
	return 0;
}

static int scan_scalar(struct jscan *s, struct cnode *n)
{
	const char *start = s->p;
	int c = peek(s);
	int err;

	switch (c) {
	case '"':
		n->style = CSCALAR_STRING;
		return scan_string(s, &n->str);
	case 't':
	case 'f':
		n->style = CSCALAR_BOOL;
		err = scan_word(s, c == 't' ? "true" : "false");
		break;
	case 'n':
		n->style = CSCALAR_NULL;
		err = scan_word(s, "null");
		break;
	default:
		if (c != '-' && (c < '0' || c > '9'))
			return disagree(s);
		n->style = CSCALAR_NUMBER;
		while ((c = peek(s)) > 0 && (strchr("+-.eE", c) || (c >= '0' && c <= '9')))
			advance(s);
		err = 0;
		break;
	}
	if (err)
		return err;
	n->str = strndup(start, (size_t)(s->p - start));
	return n->str ? 0 : -ENOMEM;
}

static int scan_value(struct jscan *s, struct cnode **out)
{
	struct cnode *n;
	int c, err;

	skip_ws(s);
	c = peek(s);
	n = cnode_new(c == '{' ? CNODE_MAP : c == '[' ? CNODE_SEQ : CNODE_SCALAR, s->loc);
	if (!n)
		return -ENOMEM;
	if (n->kind == CNODE_SCALAR)
		err = scan_scalar(s, n);
	else
		err = scan_container(s, n);
	if (err) {
		cnode_free(n);
		return err;
	}
	*out = n;
	return 0;
}

int config_json_parse(const char *buf, size_t len, struct cnode **root, struct config_errors *errs)
{
	struct jscan s = { .p = buf, .end = buf + len, .loc = { 1, 1 }, .errs = errs };
	json_error_t jerr;
	json_t *doc;
	int err;

	*root = NULL;
	/*
	 * Integers as reals: a number too big for json_int_t must reach the
	 * validator (which names the key) instead of failing as "syntax".
	 */
	doc = json_loadb(buf, len, JSON_DECODE_INT_AS_REAL, &jerr);
	if (!doc) {
		struct config_loc loc = { jerr.line > 0 ? jerr.line : 1,
					  jerr.column > 0 ? jerr.column : 1 };

		return config_error_add(errs, loc, NULL, "JSON: %s", jerr.text) ?: -EINVAL;
	}
	json_decref(doc);
	err = scan_value(&s, root);
	if (err)
		return err;
	skip_ws(&s);
	if (s.p != s.end) {
		cnode_free(*root);
		*root = NULL;
		return disagree(&s);
	}
	return 0;
}
