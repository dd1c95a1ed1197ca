/*
 * config/validate.c - the schema: generic tree -> struct vfsmux_config.
 *
 * Every check reports and carries on, so one run names all the problems it can
 * find. Each error has the position of the offending value (or of the key, for
 * a key that should not be there) and a dotted key path; sequence indexes in
 * key paths are 0-based, as in JSON ("mounts[0].source").
 */
#include "config/config_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KP_MAX 256 /* key paths longer than this are cut short in messages */

/* The one list of mount types and the keys each accepts beyond the common ones. */
static const char *const passthrough_keys[] = { "source", "fd_cache", "devices", NULL };
static const char *const memfs_keys[] = { "size", "inodes", "mode", "uid", "gid", "seed", NULL };
/* "faults" is for testing only (fault injection, backends/faulty/). */
static const char *const mount_common_keys[] = { "path",     "type",   "readonly", "id_map",
						 "timeouts", "faults", NULL };
const struct config_mount_type config_mount_types[] = {
	{ "passthrough", passthrough_keys },
	{ "memfs", memfs_keys },
};
const size_t config_mount_ntypes = sizeof(config_mount_types) / sizeof(config_mount_types[0]);

static const char *const top_keys[] = { "mountpoint", "fuse",	"timeouts", "control_socket",
					"pseudofs",   "mounts", NULL };
static const char *const fuse_keys[] = {
	"threads",     "max_threads", "allow_other", "default_permissions",
	"suid",	       "dev",	      "max_write",   "writeback_cache",
	"passthrough", "io_uring",    "fsname",	     NULL
};
static const char *const timeout_keys[] = { "entry", "attr", "negative", NULL };
static const char *const pseudofs_keys[] = { "mode", "uid", "gid", NULL };
static const char *const id_map_keys[] = { "inside", "outside", "count", NULL };

static const char *const faults_keys[] = { "rate", "errors", "delay_ms", "seed", "ops", NULL };

/* `faults: ops:` names, indexed by enum config_fault_op (the backend_ops member names). */
static const char *const fault_op_names[CONFIG_FAULT_NOPS] = {
	[CONFIG_FAULT_LOOKUP] = "lookup",
	[CONFIG_FAULT_GETATTR] = "getattr",
	[CONFIG_FAULT_SETATTR] = "setattr",
	[CONFIG_FAULT_READLINK] = "readlink",
	[CONFIG_FAULT_MKNOD] = "mknod",
	[CONFIG_FAULT_MKDIR] = "mkdir",
	[CONFIG_FAULT_SYMLINK] = "symlink",
	[CONFIG_FAULT_UNLINK] = "unlink",
	[CONFIG_FAULT_RMDIR] = "rmdir",
	[CONFIG_FAULT_RENAME] = "rename",
	[CONFIG_FAULT_LINK] = "link",
	[CONFIG_FAULT_OPEN] = "open",
	[CONFIG_FAULT_CREATE] = "create",
	[CONFIG_FAULT_READ] = "read",
	[CONFIG_FAULT_WRITE] = "write",
	[CONFIG_FAULT_FLUSH] = "flush",
	[CONFIG_FAULT_FSYNC] = "fsync",
	[CONFIG_FAULT_OPENDIR] = "opendir",
	[CONFIG_FAULT_READDIR] = "readdir",
	[CONFIG_FAULT_FSYNCDIR] = "fsyncdir",
	[CONFIG_FAULT_STATFS] = "statfs",
	[CONFIG_FAULT_ACCESS] = "access",
	[CONFIG_FAULT_SETXATTR] = "setxattr",
	[CONFIG_FAULT_GETXATTR] = "getxattr",
	[CONFIG_FAULT_LISTXATTR] = "listxattr",
	[CONFIG_FAULT_REMOVEXATTR] = "removexattr",
	[CONFIG_FAULT_FALLOCATE] = "fallocate",
	[CONFIG_FAULT_LSEEK] = "lseek",
	[CONFIG_FAULT_COPY_FILE_RANGE] = "copy_file_range",
};

/* Ops that free state the kernel already dropped (no one waits for their answer). */
static const char *const fault_never_ops[] = { "forget", "release", "releasedir", "destroy", NULL };

/*
 * The errnos a fault may carry: failures a real filesystem can give for any
 * call. Not ENOSYS (the kernel would switch the op off for the whole
 * connection), not EINTR (means "interrupted", which the caller did not ask
 * for), not ENOENT/ESTALE (they change what the kernel caches).
 */
static const struct {
	const char *name;
	int e;
} fault_errnos[] = {
	{ "EIO", EIO },	      { "ENOSPC", ENOSPC },
	{ "EDQUOT", EDQUOT }, { "EROFS", EROFS },
	{ "EACCES", EACCES }, { "EPERM", EPERM },
	{ "ENOMEM", ENOMEM }, { "EAGAIN", EAGAIN },
	{ "EBUSY", EBUSY },   { "ETIMEDOUT", ETIMEDOUT },
};
#define FAULT_NERRNOS (sizeof(fault_errnos) / sizeof(fault_errnos[0]))

const char *config_fault_op_name(unsigned op)
{
	return op < CONFIG_FAULT_NOPS ? fault_op_names[op] : NULL;
}

const char *config_fault_errno_name(int e)
{
	for (size_t i = 0; i < FAULT_NERRNOS; i++)
		if (fault_errnos[i].e == e)
			return fault_errnos[i].name;
	return NULL;
}

#define FUSE_THREADS_MAX   1024
#define FUSE_MAX_WRITE_MIN (4u << 10)
#define FUSE_MAX_WRITE_MAX (1u << 20)	/* the kernel's FUSE_MAX_MAX_PAGES * 4 KiB */
#define TIMEOUT_MAX	   4294967295.0 /* whole seconds must fit the kernel's u64 easily */
#define FSNAME_MAX	   127
#define MOUNTS_MAX	   65535 /* mount index 0 is the pseudofs; indexes are 16 bits */

struct vctx {
	struct config_errors *errs;
	struct vfsmux_config *cfg;
	int oom;  /* -ENOMEM once any allocation failed, else 0 */
	bool bad; /* at least one error reported */
};

__attribute__((format(printf, 4, 5))) static void verr(struct vctx *v, struct config_loc loc,
						       const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (config_error_vadd(v->errs, loc, key, fmt, ap))
		v->oom = -ENOMEM;
	va_end(ap);
	v->bad = true;
}

/* A too long key path is cut short and ends in "..." so the cut shows. */
static void kp_mark_cut(char *dst, int n)
{
	if (n >= KP_MAX)
		memcpy(dst + KP_MAX - 4, "...", sizeof("..."));
}

static void kp_key(char *dst, const char *parent, const char *key)
{
	kp_mark_cut(dst, snprintf(dst, KP_MAX, "%s%s%s", parent, parent[0] ? "." : "", key));
}

static void kp_index(char *dst, const char *parent, size_t i)
{
	kp_mark_cut(dst, snprintf(dst, KP_MAX, "%s[%zu]", parent, i));
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* "a, b, c" into buf (truncated if need be). */
static const char *join(char *buf, size_t sz, const char *const *a, const char *const *b)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int pass = 0; pass < 2; pass++)
		for (const char *const *p = pass ? b : a; p && *p && n < sz; p++)
			n += (size_t)snprintf(buf + n, sz - n, "%s%s", n ? ", " : "", *p);
	return buf;
}

static const char *type_names(char *buf, size_t sz)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < config_mount_ntypes && n < sz; i++)
		n += (size_t)snprintf(buf + n, sz - n, "%s%s", i ? ", " : "",
				      config_mount_types[i].name);
	return buf;
}

static bool is_null(const struct cnode *n)
{
	if (n->kind != CNODE_SCALAR)
		return false;
	if (n->style == CSCALAR_NULL)
		return true;
	return n->style == CSCALAR_PLAIN &&
	       (!strcmp(n->str, "") || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
		!strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

/* What a value is, for "expected X, got Y" (the text is cut short if long). */
static const char *describe(const struct cnode *n, char *buf, size_t sz)
{
	if (n->kind == CNODE_MAP)
		return "a mapping";
	if (n->kind == CNODE_SEQ)
		return "a list";
	if (is_null(n))
		return "nothing (null)";
	switch (n->style) {
	case CSCALAR_STRING:
		snprintf(buf, sz, "the string \"%.40s\"", n->str);
		break;
	case CSCALAR_NUMBER:
		snprintf(buf, sz, "the number %.40s", n->str);
		break;
	default:
		snprintf(buf, sz, "'%.40s'", n->str);
		break;
	}
	return buf;
}

/* The value of key in map n (its first occurrence), or NULL. */
static const struct cnode *map_get(const struct cnode *n, const char *key)
{
	for (size_t i = 0; i < n->nkids; i++)
		if (!n->kids[i]->dup && !strcmp(n->kids[i]->key, key))
			return n->kids[i];
	return NULL;
}

static void wrong_type(struct vctx *v, const struct cnode *n, const char *kp, const char *want)
{
	char d[64];

	verr(v, n->loc, kp, "expected %s, got %s", want, describe(n, d, sizeof(d)));
}

/* ---- scalars. Each returns 0, or -1 after reporting. ---- */

static int get_string(struct vctx *v, const struct cnode *n, const char *kp, const char **out)
{
	if (n->kind != CNODE_SCALAR || is_null(n) ||
	    (n->style != CSCALAR_STRING && n->style != CSCALAR_PLAIN)) {
		wrong_type(v, n, kp, "a string");
		return -1;
	}
	*out = n->str;
	return 0;
}

static int get_bool(struct vctx *v, const struct cnode *n, const char *kp, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", NULL };
	static const char *const no[] = { "false", "False", "FALSE", NULL };

	if (n->kind == CNODE_SCALAR && (n->style == CSCALAR_BOOL || n->style == CSCALAR_PLAIN)) {
		if (in_list(yes, n->str)) {
			*out = true;
			return 0;
		}
		if (in_list(no, n->str)) {
			*out = false;
			return 0;
		}
	}
	wrong_type(v, n, kp, "a boolean (true or false)");
	return -1;
}

/* The text of a number-like scalar (JSON number or YAML plain), else NULL. */
static const char *number_text(const struct cnode *n)
{
	if (n->kind != CNODE_SCALAR || is_null(n))
		return NULL;
	if (n->style != CSCALAR_NUMBER && n->style != CSCALAR_PLAIN)
		return NULL;
	return n->str;
}

static bool parses_as_real(const char *s, double *d)
{
	char *end;

	if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
		return false; /* strtod would take "inf", "nan", " 1", "0x1p3"... */
	errno = 0;
	*d = strtod(s, &end);
	return end != s && *end == '\0' && !strchr(s, 'x') && !strchr(s, 'X');
}

static int get_uint(struct vctx *v, const struct cnode *n, const char *kp, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	const char *s = number_text(n);
	bool too_big = false;
	uint64_t x = 0;
	double d;

	if (!s) {
		wrong_type(v, n, kp, "an integer");
		return -1;
	}
	if (*s == '-' && parses_as_real(s, &d) && d < 0) {
		verr(v, n->loc, kp, "must not be negative (got %.40s)", s);
		return -1;
	}
	if (*s < '0' || *s > '9' || s[strspn(s, "0123456789")] != '\0') {
		if (parses_as_real(s, &d))
			verr(v, n->loc, kp, "expected an integer, got %.40s", s);
		else
			wrong_type(v, n, kp, "an integer");
		return -1;
	}
	for (; *s; s++) {
		unsigned dig = (unsigned)(*s - '0');

		if (x > (UINT64_MAX - dig) / 10) {
			too_big = true;
			break;
		}
		x = x * 10 + dig;
	}
	if (too_big || x > max) {
		verr(v, n->loc, kp, "%.40s is too large (at most %" PRIu64 ")", n->str, max);
		return -1;
	}
	if (x < min) {
		verr(v, n->loc, kp, "must be at least %" PRIu64 " (got %" PRIu64 ")", min, x);
		return -1;
	}
	*out = x;
	return 0;
}

static int get_u32(struct vctx *v, const struct cnode *n, const char *kp, uint32_t min,
		   uint32_t max, uint32_t *out)
{
	uint64_t x;

	if (get_uint(v, n, kp, min, max, &x))
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* A uid or gid: (uid_t)-1 means "leave unchanged" to chown(), so it is never an owner. */
static int get_id(struct vctx *v, const struct cnode *n, const char *kp, uint32_t *out)
{
	return get_u32(v, n, kp, 0, UINT32_MAX - 1, out);
}

static int get_seconds(struct vctx *v, const struct cnode *n, const char *kp, double *out)
{
	const char *s = number_text(n);
	double d;

	if (!s || !parses_as_real(s, &d) || !isfinite(d)) {
		wrong_type(v, n, kp, "a number of seconds");
		return -1;
	}
	if (d < 0 || (d == 0 && *s == '-')) {
		verr(v, n->loc, kp, "must not be negative (got %.40s)", s);
		return -1;
	}
	if (d > TIMEOUT_MAX) {
		verr(v, n->loc, kp, "%.40s is too large (at most %.0f seconds)", s, TIMEOUT_MAX);
		return -1;
	}
	*out = d;
	return 0;
}

static int get_size(struct vctx *v, const struct cnode *n, const char *kp, uint64_t *out)
{
	const char *s;
	int err;

	if (n->kind != CNODE_SCALAR || is_null(n) || n->style == CSCALAR_BOOL) {
		wrong_type(v, n, kp, "a size (bytes, or a number with a unit like 64MiB)");
		return -1;
	}
	s = n->str;
	err = config_parse_size(s, out);
	if (err == -ERANGE) {
		verr(v, n->loc, kp, "size '%.40s' is too large", s);
		return -1;
	}
	if (err) {
		if (*s == '-')
			verr(v, n->loc, kp, "size must not be negative (got '%.40s')", s);
		else
			verr(v, n->loc, kp,
			     "invalid size '%.40s' (expected bytes, or a number with a unit: "
			     "k, M, G, T, KiB, MiB, GiB, TiB, KB, MB, GB, TB)",
			     s);
		return -1;
	}
	return 0;
}

/*
 * Permission bits: a quoted string is always octal ("0755", "755"); an
 * unquoted YAML number is octal when written with a leading 0 or 0o (0755,
 * 0o755), else decimal, as YAML 1.1 and 1.2 read them; a JSON number is decimal.
 */
static int get_mode(struct vctx *v, const struct cnode *n, const char *kp, uint32_t *out)
{
	const char *s;
	int base = 10;
	char *end;
	unsigned long m;

	if (n->kind != CNODE_SCALAR || is_null(n) || n->style == CSCALAR_BOOL)
		goto out_bad;
	s = n->str;
	if (n->style == CSCALAR_STRING || (n->style == CSCALAR_PLAIN && s[0] == '0' && s[1]))
		base = 8;
	if (base == 8 && s[0] == '0' && s[1] == 'o')
		s += 2;
	if (*s < '0' || *s > '9' || strlen(s) > 11)
		goto out_bad;
	errno = 0;
	m = strtoul(s, &end, base);
	if (*end || errno)
		goto out_bad;
	if (m > 07777) {
		verr(v, n->loc, kp, "mode %.40s is out of range (at most 07777)", n->str);
		return -1;
	}
	*out = (uint32_t)m;
	return 0;
out_bad:
	wrong_type(v, n, kp, "a mode (an octal string like \"0755\")");
	return -1;
}

/* An absolute path, normalized; *out is malloc'd. */
static int get_abs_path(struct vctx *v, const struct cnode *n, const char *kp, char **out)
{
	char buf[PATH_MAX];
	const char *s;
	int err;

	if (get_string(v, n, kp, &s))
		return -1;
	err = config_path_normalize(s, buf, sizeof(buf));
	if (err == -ENAMETOOLONG) {
		verr(v, n->loc, kp, "path is too long (at most %d bytes)", PATH_MAX - 1);
		return -1;
	}
	if (err) {
		if (s[0] != '/')
			verr(v, n->loc, kp, "path '%.200s' must be absolute", s);
		else
			verr(v, n->loc, kp, "path '%.200s' must not contain '..'", s);
		return -1;
	}
	*out = strdup(buf);
	if (!*out) {
		v->oom = -ENOMEM;
		return -1;
	}
	return 0;
}

/* An existing, searchable and readable host directory, named by what it is for. */
static void check_dir(struct vctx *v, struct config_loc loc, const char *kp, const char *what,
		      const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		int e = errno;

		if (e == ENOENT)
			verr(v, loc, kp, "%s '%s' does not exist", what, path);
		else
			verr(v, loc, kp, "cannot stat %s '%s': %s", what, path, strerror(e));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		verr(v, loc, kp, "%s '%s' is not a directory", what, path);
		return;
	}
	if (access(path, R_OK | X_OK)) {
		int e = errno;

		verr(v, loc, kp, "%s '%s' is not readable: %s", what, path, strerror(e));
	}
}

/* ---- containers ---- */

static bool expect_map(struct vctx *v, const struct cnode *n, const char *kp)
{
	if (n->kind == CNODE_MAP)
		return true;
	wrong_type(v, n, kp, "a mapping");
	return false;
}

static void unknown_key(struct vctx *v, const struct cnode *kid, const char *kp,
			const char *const *valid)
{
	char list[512];

	verr(v, kid->key_loc, kp, "unknown key '%.100s' (valid keys: %s)", kid->key,
	     join(list, sizeof(list), valid, NULL));
}

/* Mark and report repeated keys in every map of the tree; the first one counts. */
static void check_dups(struct vctx *v, struct cnode *n, const char *kp)
{
	char sub[KP_MAX];

	for (size_t i = 0; i < n->nkids; i++) {
		struct cnode *k = n->kids[i];

		if (n->kind == CNODE_MAP) {
			kp_key(sub, kp, k->key);
			for (size_t j = 0; j < i; j++) {
				const struct cnode *first = n->kids[j];

				if (first->dup || strcmp(first->key, k->key))
					continue;
				k->dup = true;
				verr(v, k->key_loc, sub,
				     "duplicate key '%.100s' (first at line %d, column %d)", k->key,
				     first->key_loc.line, first->key_loc.column);
				break;
			}
			if (k->dup)
				continue;
		} else {
			kp_index(sub, kp, i);
		}
		check_dups(v, k, sub);
	}
}

/* Which keys of a timeouts map were given, so per-mount ones override one by one. */
static void do_timeouts(struct vctx *v, const struct cnode *n, const char *kp,
			struct config_timeouts *t)
{
	char sub[KP_MAX];

	if (!expect_map(v, n, kp))
		return;
	for (size_t i = 0; i < n->nkids; i++) {
		const struct cnode *k = n->kids[i];

		if (k->dup)
			continue;
		kp_key(sub, kp, k->key);
		if (!strcmp(k->key, "entry"))
			get_seconds(v, k, sub, &t->entry);
		else if (!strcmp(k->key, "attr"))
			get_seconds(v, k, sub, &t->attr);
		else if (!strcmp(k->key, "negative"))
			get_seconds(v, k, sub, &t->negative);
		else
			unknown_key(v, k, sub, timeout_keys);
	}
}

static bool fsname_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > FSNAME_MAX)
		return false;
	/* It becomes a mount option: a ',' would smuggle in options of its own. */
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == ',' || *s == 0x7f || *s == '\\')
			return false;
	return true;
}

static void do_fuse(struct vctx *v, const struct cnode *n, const char *kp)
{
	struct config_fuse *f = &v->cfg->fuse;
	const struct cnode *max_node = NULL, *threads_node = NULL, *perm_node = NULL;
	char sub[KP_MAX];
	uint64_t mw;
	const char *s;

	if (!expect_map(v, n, kp))
		return;
	for (size_t i = 0; i < n->nkids; i++) {
		const struct cnode *k = n->kids[i];

		if (k->dup)
			continue;
		kp_key(sub, kp, k->key);
		if (!strcmp(k->key, "threads")) {
			if (!get_u32(v, k, sub, 1, FUSE_THREADS_MAX, &f->threads))
				threads_node = k;
		} else if (!strcmp(k->key, "max_threads")) {
			if (!get_u32(v, k, sub, 1, FUSE_THREADS_MAX, &f->max_threads))
				max_node = k;
		} else if (!strcmp(k->key, "allow_other")) {
			get_bool(v, k, sub, &f->allow_other);
		} else if (!strcmp(k->key, "default_permissions")) {
			if (!get_bool(v, k, sub, &f->default_permissions))
				perm_node = k;
		} else if (!strcmp(k->key, "suid")) {
			get_bool(v, k, sub, &f->suid);
		} else if (!strcmp(k->key, "dev")) {
			get_bool(v, k, sub, &f->dev);
		} else if (!strcmp(k->key, "writeback_cache")) {
			get_bool(v, k, sub, &f->writeback_cache);
		} else if (!strcmp(k->key, "passthrough")) {
			get_bool(v, k, sub, &f->passthrough);
		} else if (!strcmp(k->key, "io_uring")) {
			get_bool(v, k, sub, &f->io_uring);
		} else if (!strcmp(k->key, "max_write")) {
			if (get_size(v, k, sub, &mw))
				continue;
			if (mw < FUSE_MAX_WRITE_MIN || mw > FUSE_MAX_WRITE_MAX)
				verr(v, k->loc, sub, "must be between 4KiB and 1MiB (got %s)",
				     k->str);
			else
				f->max_write = (uint32_t)mw;
		} else if (!strcmp(k->key, "fsname")) {
			if (get_string(v, k, sub, &s))
				continue;
			if (!fsname_ok(s)) {
				verr(v, k->loc, sub,
				     "must be 1 to %d characters without spaces, ',' or '\\'",
				     FSNAME_MAX);
				continue;
			}
			free(f->fsname);
			f->fsname = strdup(s);
			if (!f->fsname)
				v->oom = -ENOMEM;
		} else {
			unknown_key(v, k, sub, fuse_keys);
		}
	}
	if (!max_node)
		f->max_threads = f->threads > 16 ? f->threads : 16;
	else if (!threads_node && f->threads > f->max_threads)
		f->threads = f->max_threads; /* the CPU-count default yields to an explicit bound */
	else if (f->max_threads < f->threads)
		verr(v, max_node->loc, "fuse.max_threads",
		     "max_threads (%" PRIu32 ") must be at least threads (%" PRIu32 ")",
		     f->max_threads, f->threads);
	/*
	 * Without default_permissions nobody checks permissions: the kernel leaves
	 * it to us, and backends act with the daemon's own rights (passthrough
	 * switches to the caller only to create; memfs checks little). That is
	 * safe only while nobody but the mounting user can reach the mount.
	 * default_permissions is true unless given, so perm_node is set here.
	 */
	if (f->allow_other && !f->default_permissions && perm_node)
		verr(v, perm_node->loc, "fuse.default_permissions",
		     "false is refused with allow_other: true: backends do not check "
		     "permissions themselves, so any local user could act with the daemon's "
		     "privileges in every mount; use default_permissions: true (the kernel then "
		     "checks) or drop allow_other");
}

static void do_pseudofs(struct vctx *v, const struct cnode *n, const char *kp)
{
	struct config_pseudofs *p = &v->cfg->pseudofs;
	char sub[KP_MAX];

	if (!expect_map(v, n, kp))
		return;
	for (size_t i = 0; i < n->nkids; i++) {
		const struct cnode *k = n->kids[i];

		if (k->dup)
			continue;
		kp_key(sub, kp, k->key);
		if (!strcmp(k->key, "mode"))
			get_mode(v, k, sub, &p->mode);
		else if (!strcmp(k->key, "uid"))
			get_id(v, k, sub, &p->uid);
		else if (!strcmp(k->key, "gid"))
			get_id(v, k, sub, &p->gid);
		else
			unknown_key(v, k, sub, pseudofs_keys);
	}
}

static void do_id_map(struct vctx *v, const struct cnode *n, const char *kp, struct mount_config *m)
{
	const struct cnode *got[3] = { NULL, NULL, NULL };
	uint32_t val[3] = { 0, 0, 0 };
	char sub[KP_MAX];
	bool ok = true;

	if (!expect_map(v, n, kp))
		return;
	for (size_t i = 0; i < n->nkids; i++) {
		const struct cnode *k = n->kids[i];
		size_t j;

		if (k->dup)
			continue;
		kp_key(sub, kp, k->key);
		for (j = 0; id_map_keys[j] && strcmp(id_map_keys[j], k->key); j++)
			;
		if (!id_map_keys[j]) {
			unknown_key(v, k, sub, id_map_keys);
			continue;
		}
		if (get_u32(v, k, sub, j == 2 ? 1 : 0, UINT32_MAX, &val[j]))
			ok = false;
		got[j] = k;
	}
	for (size_t j = 0; j < 3; j++) {
		if (got[j])
			continue;
		verr(v, n->loc, kp, "missing required key '%s'", id_map_keys[j]);
		ok = false;
	}
	if (!ok)
		return;
	/* Ranges are [start, start + count): start + count may be 2^32, not more. */
	for (size_t j = 0; j < 2; j++) {
		if ((uint64_t)val[j] + val[2] <= (uint64_t)UINT32_MAX + 1)
			continue;
		kp_key(sub, kp, id_map_keys[j]);
		verr(v, got[j]->loc, sub,
		     "%s + count = %" PRIu64 " goes past the last id 4294967295 (%s %" PRIu32
		     ", count %" PRIu32 ")",
		     id_map_keys[j], (uint64_t)val[j] + val[2], id_map_keys[j], val[j], val[2]);
		ok = false;
	}
	if (!ok)
		return;
	m->uid_map = (struct config_id_map){ .inside = val[0], .outside = val[1], .count = val[2] };
	m->gid_map = m->uid_map;
}

/* `faults: errors:` - a list of names from fault_errnos, each at most once. */
static void do_fault_errors(struct vctx *v, const struct cnode *n, const char *kp,
			    struct config_faults *f)
{
	char sub[KP_MAX], list[256];
	const char *s;
	size_t j, k;

	_Static_assert(FAULT_NERRNOS <= CONFIG_FAULT_ERRORS_MAX, "errors[] too small");
	if (n->kind != CNODE_SEQ || n->nkids == 0) {
		wrong_type(v, n, kp, "a non-empty list of errno names like [EIO, ENOSPC]");
		return;
	}
	list[0] = '\0';
	for (size_t i = 0, len = 0; i < FAULT_NERRNOS && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
					fault_errnos[i].name);
	f->nerrors = 0;
	for (size_t i = 0; i < n->nkids; i++) {
		kp_index(sub, kp, i);
		if (get_string(v, n->kids[i], sub, &s))
			continue;
		for (j = 0; j < FAULT_NERRNOS && strcmp(fault_errnos[j].name, s); j++)
			;
		if (j == FAULT_NERRNOS) {
			verr(v, n->kids[i]->loc, sub,
			     "unknown or unsupported errno '%.40s' (one of: %s)", s, list);
			continue;
		}
		for (k = 0; k < f->nerrors && f->errors[k] != fault_errnos[j].e; k++)
			;
		if (k < f->nerrors) {
			verr(v, n->kids[i]->loc, sub, "errno %s is listed twice", s);
			continue;
		}
		/* Distinct names only, and FAULT_NERRNOS <= CONFIG_FAULT_ERRORS_MAX: it fits. */
		f->errors[f->nerrors++] = fault_errnos[j].e;
	}
}

/* `faults: ops:` - a list of op names; forget/release/releasedir/destroy are refused. */
static void do_fault_ops(struct vctx *v, const struct cnode *n, const char *kp,
			 struct config_faults *f)
{
	char sub[KP_MAX];
	const char *s;
	unsigned op;

	if (n->kind != CNODE_SEQ || n->nkids == 0) {
		wrong_type(v, n, kp, "a non-empty list of op names like [read, write]");
		return;
	}
	f->ops = 0;
	for (size_t i = 0; i < n->nkids; i++) {
		kp_index(sub, kp, i);
		if (get_string(v, n->kids[i], sub, &s))
			continue;
		for (op = 0; op < CONFIG_FAULT_NOPS && strcmp(fault_op_names[op], s); op++)
			;
		if (op < CONFIG_FAULT_NOPS)
			f->ops |= UINT64_C(1) << op;
		else if (in_list(fault_never_ops, s))
			verr(v, n->kids[i]->loc, sub,
			     "op '%s' never fails (it frees state the kernel already dropped)", s);
		else
			verr(v, n->kids[i]->loc, sub,
			     "unknown op '%.40s' (backend op names like lookup, getattr, "
			     "read, write, create, readdir, fsync)",
			     s);
	}
}

/* `faults:` of a mount: testing only (backends/faulty/). */
static void do_faults(struct vctx *v, const struct cnode *n, const char *kp, struct mount_config *m)
{
	struct config_faults *f = &m->faults;
	char sub[KP_MAX];
	const char *s;
	double d;

	if (!expect_map(v, n, kp))
		return;
	/* Defaults: nothing fails until rate says so; EIO; every faultable op. */
	*f = (struct config_faults){
		.enabled = true, .nerrors = 1, .errors = { EIO }, .ops = CONFIG_FAULT_OPS_ALL
	};
	for (size_t i = 0; i < n->nkids; i++) {
		const struct cnode *k = n->kids[i];

		if (k->dup)
			continue;
		kp_key(sub, kp, k->key);
		if (!strcmp(k->key, "rate")) {
			s = number_text(k);
			if (!s || !parses_as_real(s, &d) || !isfinite(d))
				wrong_type(v, k, sub, "a fraction between 0 and 1");
			else if (d < 0 || d > 1)
				verr(v, k->loc, sub, "must be between 0 and 1 (got %.40s)", s);
			else
				f->rate = d;
		} else if (!strcmp(k->key, "errors")) {
			do_fault_errors(v, k, sub, f);
		} else if (!strcmp(k->key, "delay_ms")) {
			get_u32(v, k, sub, 0, CONFIG_FAULT_DELAY_MAX_MS, &f->delay_ms);
		} else if (!strcmp(k->key, "seed")) {
			get_uint(v, k, sub, 0, UINT64_MAX, &f->seed);
		} else if (!strcmp(k->key, "ops")) {
			do_fault_ops(v, k, sub, f);
		} else {
			unknown_key(v, k, sub, faults_keys);
		}
	}
	if (f->nerrors == 0)
		f->nerrors = 1; /* every name was bad (already reported): keep EIO */
}

static const struct config_mount_type *find_type(const char *name)
{
	for (size_t i = 0; i < config_mount_ntypes; i++)
		if (!strcmp(config_mount_types[i].name, name))
			return &config_mount_types[i];
	return NULL;
}

static bool key_of_any_type(const char *key)
{
	for (size_t i = 0; i < config_mount_ntypes; i++)
		if (in_list(config_mount_types[i].keys, key))
			return true;
	return false;
}

/* The type-specific keys; the caller has checked the key suits the type. */
static void do_type_key(struct vctx *v, const struct cnode *k, const char *kp,
			struct mount_config *m)
{
	if (!strcmp(k->key, "source")) {
		free(m->source);
		m->source = NULL;
		get_abs_path(v, k, kp, &m->source);
	} else if (!strcmp(k->key, "seed")) {
		free(m->seed);
		m->seed = NULL;
		if (!get_abs_path(v, k, kp, &m->seed))
			check_dir(v, k->loc, kp, "seed", m->seed);
	} else if (!strcmp(k->key, "fd_cache")) {
		get_u32(v, k, kp, 1, UINT32_MAX, &m->fd_cache);
	} else if (!strcmp(k->key, "devices")) {
		get_bool(v, k, kp, &m->allow_devices);
	} else if (!strcmp(k->key, "size")) {
		get_size(v, k, kp, &m->size_limit);
	} else if (!strcmp(k->key, "inodes")) {
		get_uint(v, k, kp, 0, UINT64_MAX, &m->inode_limit);
	} else if (!strcmp(k->key, "mode")) {
		if (!get_mode(v, k, kp, &m->root_mode))
			m->has_root_mode = true;
	} else if (!strcmp(k->key, "uid")) {
		if (!get_id(v, k, kp, &m->root_uid))
			m->has_root_owner = true;
	} else if (!strcmp(k->key, "gid")) {
		if (!get_id(v, k, kp, &m->root_gid))
			m->has_root_owner = true;
	} else {
		assert(!"a type's key list names a key with no handler");
	}
}

/* One entry of mounts:. *path_loc gets where its path stands (0/0 when absent). */
static void do_mount(struct vctx *v, const struct cnode *n, const char *kp, struct mount_config *m,
		     struct config_loc *path_loc)
{
	const struct config_mount_type *type = NULL;
	const struct cnode *type_node;
	char sub[KP_MAX], list[512];
	const char *s;

	m->timeouts = v->cfg->timeouts;
	m->root_mode = 0755;
	m->loc = n->loc;
	if (!expect_map(v, n, kp))
		return;
	/* The type decides which other keys are allowed, so read it first. */
	type_node = map_get(n, "type");
	if (!type_node) {
		verr(v, n->loc, kp, "missing required key 'type' (known types: %s)",
		     type_names(list, sizeof(list)));
	} else {
		kp_key(sub, kp, "type");
		if (!get_string(v, type_node, sub, &s)) {
			type = find_type(s);
			if (!type)
				verr(v, type_node->loc, sub,
				     "unknown type '%.100s' (known types: %s)", s,
				     type_names(list, sizeof(list)));
			else if (!(m->type = strdup(s)))
				v->oom = -ENOMEM;
		}
	}
	for (size_t i = 0; i < n->nkids; i++) {
		const struct cnode *k = n->kids[i];

		if (k->dup || !strcmp(k->key, "type"))
			continue;
		kp_key(sub, kp, k->key);
		if (!strcmp(k->key, "path")) {
			free(m->path);
			m->path = NULL;
			if (!get_abs_path(v, k, sub, &m->path))
				*path_loc = k->loc;
		} else if (!strcmp(k->key, "readonly")) {
			get_bool(v, k, sub, &m->readonly);
		} else if (!strcmp(k->key, "id_map")) {
			do_id_map(v, k, sub, m);
		} else if (!strcmp(k->key, "timeouts")) {
			do_timeouts(v, k, sub, &m->timeouts);
		} else if (!strcmp(k->key, "faults")) {
			do_faults(v, k, sub, m);
		} else if (type && in_list(type->keys, k->key)) {
			do_type_key(v, k, sub, m);
		} else if (key_of_any_type(k->key)) {
			if (type)
				verr(v, k->key_loc, sub, "key '%s' is not valid for type %s",
				     k->key, type->name);
			/* else the type error already said what is wrong */
		} else if (type) {
			verr(v, k->key_loc, sub,
			     "unknown key '%.100s' (valid keys for type %s: %s)", k->key,
			     type->name, join(list, sizeof(list), mount_common_keys, type->keys));
		} else {
			verr(v, k->key_loc, sub, "unknown key '%.100s'", k->key);
		}
	}
	if (!map_get(n, "path"))
		verr(v, n->loc, kp, "missing required key 'path'");
	if (!type)
		return;
	if (!strcmp(type->name, "passthrough")) {
		const struct cnode *src = map_get(n, "source");

		kp_key(sub, kp, "source");
		if (!src)
			verr(v, n->loc, sub, "missing required key 'source' for type %s",
			     type->name);
		else if (m->source)
			check_dir(v, src->loc, sub, "source", m->source);
	}
}

static bool path_inside(const char *outer, const char *inner)
{
	size_t len = strlen(outer);

	return !strncmp(outer, inner, len) && inner[len] == '/';
}

/* Mount paths against each other: no "/", no repeats, no mount inside another. */
static void check_mount_paths(struct vctx *v, const struct config_loc *locs)
{
	const struct vfsmux_config *cfg = v->cfg;
	char kp[KP_MAX];

	for (size_t j = 0; j < cfg->nmounts; j++) {
		const char *pj = cfg->mounts[j].path;

		if (!pj)
			continue;
		kp_mark_cut(kp, snprintf(kp, KP_MAX, "mounts[%zu].path", j));
		if (!strcmp(pj, "/")) {
			verr(v, locs[j], kp, "a mount at / is not supported yet");
			continue;
		}
		for (const char *c = pj + 1, *e; *c; c = *e ? e + 1 : e) {
			e = strchrnul(c, '/');
			if (e - c > NAME_MAX) {
				verr(v, locs[j], kp, "a path component is longer than %d bytes",
				     NAME_MAX);
				break;
			}
		}
		/* One conflict per path is enough to act on; name the first. */
		for (size_t i = 0; i < j; i++) {
			const char *pi = cfg->mounts[i].path;

			if (!pi || !strcmp(pi, "/"))
				continue;
			if (!strcmp(pi, pj)) {
				verr(v, locs[j], kp,
				     "duplicate mount path '%s' (also mounts[%zu] at line %d, "
				     "column %d)",
				     pj, i, locs[i].line, locs[i].column);
				break;
			}
			if (path_inside(pi, pj) || path_inside(pj, pi)) {
				verr(v, locs[j], kp,
				     "mount path '%s' and mounts[%zu] '%s' (line %d, column %d) "
				     "are nested: nested mounts are not supported yet",
				     pj, i, pi, locs[i].line, locs[i].column);
				break;
			}
		}
	}
}

static void do_mounts(struct vctx *v, const struct cnode *n)
{
	struct vfsmux_config *cfg = v->cfg;
	struct config_loc *locs;
	char kp[KP_MAX];

	if (is_null(n))
		return; /* "mounts:" with nothing after it: no mounts */
	if (n->kind != CNODE_SEQ) {
		wrong_type(v, n, "mounts", "a list");
		return;
	}
	if (n->nkids == 0)
		return;
	if (n->nkids > MOUNTS_MAX) {
		verr(v, n->loc, "mounts", "too many mounts (%zu, at most %d)", n->nkids,
		     MOUNTS_MAX);
		return;
	}
	cfg->mounts = calloc(n->nkids, sizeof(*cfg->mounts));
	locs = calloc(n->nkids, sizeof(*locs));
	if (!cfg->mounts || !locs) {
		free(locs);
		v->oom = -ENOMEM;
		return;
	}
	cfg->nmounts = n->nkids;
	for (size_t i = 0; i < n->nkids; i++) {
		kp_index(kp, "mounts", i);
		do_mount(v, n->kids[i], kp, &cfg->mounts[i], &locs[i]);
	}
	check_mount_paths(v, locs);
	free(locs);
}

static bool loc_before(struct config_loc a, struct config_loc b)
{
	return a.line < b.line || (a.line == b.line && a.column < b.column);
}

/* Errors [from, n) into file order; stable, so one place keeps its checks' order. */
static void sort_errors(struct config_errors *errs, size_t from)
{
	for (size_t i = from + 1; i < errs->n; i++) {
		struct config_error e = errs->v[i];
		size_t j = i;

		for (; j > from && loc_before(e.loc, errs->v[j - 1].loc); j--)
			errs->v[j] = errs->v[j - 1];
		errs->v[j] = e;
	}
}

int config_validate(struct cnode *root, struct vfsmux_config *cfg, struct config_errors *errs)
{
	const size_t first_err = errs->n;
	struct vctx v = { .errs = errs, .cfg = cfg };
	const struct cnode *mounts = NULL;
	struct config_loc start = { 1, 1 };

	if (!root || is_null(root)) {
		verr(&v, root ? root->loc : start, NULL, "the config is empty");
		return v.oom ?: -EINVAL;
	}
	if (root->kind != CNODE_MAP) {
		wrong_type(&v, root, NULL, "a mapping at the top level");
		return v.oom ?: -EINVAL;
	}
	check_dups(&v, root, "");
	for (size_t i = 0; i < root->nkids; i++) {
		const struct cnode *k = root->kids[i];

		if (k->dup)
			continue;
		if (!strcmp(k->key, "mountpoint")) {
			get_abs_path(&v, k, k->key, &cfg->mountpoint);
		} else if (!strcmp(k->key, "control_socket")) {
			get_abs_path(&v, k, k->key, &cfg->control_socket);
		} else if (!strcmp(k->key, "fuse")) {
			do_fuse(&v, k, k->key);
		} else if (!strcmp(k->key, "timeouts")) {
			do_timeouts(&v, k, k->key, &cfg->timeouts);
		} else if (!strcmp(k->key, "pseudofs")) {
			do_pseudofs(&v, k, k->key);
		} else if (!strcmp(k->key, "mounts")) {
			mounts = k; /* after the global timeouts, which mounts inherit */
		} else {
			unknown_key(&v, k, k->key, top_keys);
		}
	}
	if (mounts)
		do_mounts(&v, mounts);
	sort_errors(errs, first_err);
	if (v.oom)
		return v.oom;
	return v.bad ? -EINVAL : 0;
}
