/*
 * tests/stress/stress_own.c - a worker's private tree, mirrored in memory.
 *
 * Model: names (relative paths) point at files; a file has its bytes, size,
 * link count (names pointing at it), open count (held fds) and an optional
 * user.stress xattr. A file lives while it has a name or a held fd, exactly
 * like an inode; bytes past `size` in the mirror are always zero, so growing
 * by truncate or by a write past the end needs no extra bookkeeping.
 * Directories are relative paths too ("" is the worker's root), at most
 * STRESS_MAX_DEPTH deep. Nobody else touches the tree, so every answer the
 * mount gives is checked exactly: errno, bytes, sizes, link counts, listings.
 */
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_NAMES	 40
#define MAX_DIRS	 10
#define MAX_HOLD	 4
#define STRESS_MAX_DEPTH 3

struct sfile {
	uint64_t id;   /* stable across renames, for the manifest */
	uint8_t *data; /* STRESS_MAX_FILE bytes; zero past size */
	size_t size;
	unsigned links; /* names pointing here */
	unsigned held;	/* held fds on it */
	ino_t ino;	/* st_ino seen first (0: not yet); must never change */
	bool xset;
	size_t xlen;
	uint8_t xval[STRESS_XMAX];
};

struct sname {
	char rel[STRESS_REL_MAX];
	struct sfile *f;
};

struct shold {
	int fd; /* O_RDWR */
	struct sfile *f;
};

struct stress_worker {
	int idx;
	const char *root;
	int rootfd;
	struct srng rng;
	struct stress_stats *st;
	struct sname names[MAX_NAMES];
	size_t nnames;
	char dirs[MAX_DIRS][STRESS_REL_MAX]; /* dirs[0] = "" (the root) */
	size_t ndirs;
	struct shold holds[MAX_HOLD];
	size_t nholds;
	uint64_t next_id, next_name;
	uint8_t buf[STRESS_MAX_IO], rbuf[STRESS_MAX_FILE + 1];
};

bool stress_ino_may_change;

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p)
		stress_fail("out of memory");
	return p;
}

static void full_path(const struct stress_worker *w, const char *rel, char *out, size_t len)
{
	if (*rel)
		snprintf(out, len, "%s/%s", w->root, rel);
	else
		snprintf(out, len, "%s", w->root);
}

static const char *rel_or_dot(const char *rel)
{
	return *rel ? rel : ".";
}

/* Parent directory of rel ("" for a top-level entry); returns its length. */
static size_t parent_len(const char *rel)
{
	const char *s = strrchr(rel, '/');

	return s ? (size_t)(s - rel) : 0;
}

static bool in_dir(const char *rel, const char *dir)
{
	size_t pl = parent_len(rel);

	return pl == strlen(dir) && strncmp(rel, dir, pl) == 0;
}

static unsigned depth(const char *rel)
{
	unsigned d = *rel ? 1 : 0;

	for (; *rel; rel++)
		d += *rel == '/';
	return d;
}

/* rel is dir or somewhere under it */
static bool under(const char *rel, const char *dir)
{
	size_t dl = strlen(dir);

	if (!dl)
		return true;
	return strncmp(rel, dir, dl) == 0 && (rel[dl] == 0 || rel[dl] == '/');
}

/* Our names are short; a listed name too long for a rel path cannot be ours. */
static void join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, STRESS_REL_MAX, "%s%s%s", dir, *dir ? "/" : "", name);

	if (n < 0 || n >= STRESS_REL_MAX)
		stress_fail("path %s/%s is longer than any this test makes", dir, name);
}

static void new_name(struct stress_worker *w, const char *dir, char prefix, char *out)
{
	char b[24];

	snprintf(b, sizeof(b), "%c%llu", prefix, (unsigned long long)w->next_name++);
	join(out, dir, b);
}

static const char *rand_dir(struct stress_worker *w)
{
	return w->dirs[srng_below(&w->rng, w->ndirs)];
}

static void file_put(struct sfile *f)
{
	if (f->links == 0 && f->held == 0) {
		free(f->data);
		free(f);
	}
}

static void name_remove(struct stress_worker *w, size_t i)
{
	struct sfile *f = w->names[i].f;

	w->names[i] = w->names[--w->nnames];
	f->links--;
	file_put(f);
}

static int name_find(struct stress_worker *w, const char *rel)
{
	for (size_t i = 0; i < w->nnames; i++)
		if (strcmp(w->names[i].rel, rel) == 0)
			return (int)i;
	return -1;
}

/* Write all of n bytes at off, or fail the run. */
static void pwrite_all(int fd, const void *buf, size_t n, off_t off, const char *what)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = pwrite(fd, p, n, off);

		if (r < 0)
			stress_fail("%s: pwrite(%zu @ %lld): %s", what, n, (long long)off,
				    strerror(errno));
		if (r == 0)
			stress_fail("%s: pwrite(%zu @ %lld) wrote 0", what, n, (long long)off);
		p += r;
		n -= (size_t)r;
		off += r;
	}
}

/* Read up to n bytes at off (fewer only at EOF); returns the count. */
static size_t pread_full(int fd, void *buf, size_t n, off_t off, const char *what)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, off + (off_t)got);

		if (r < 0)
			stress_fail("%s: pread(%zu @ %lld): %s", what, n - got,
				    (long long)(off + (off_t)got), strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void compare(const struct sfile *f, const uint8_t *got, size_t n, size_t off, size_t want_n,
		    const char *what)
{
	if (n != want_n)
		stress_fail("%s: read %zu bytes at %zu, expected %zu (mirror size %zu)", what, n,
			    off, want_n, f->size);
	if (memcmp(got, f->data + off, n) == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (got[i] != f->data[off + i])
			stress_fail("%s: first difference at file offset %zu: got 0x%02x, "
				    "expected 0x%02x (read %zu @ %zu, size %zu)",
				    what, off + i, got[i], f->data[off + i], n, off, f->size);
}

/* Apply a write of n bytes at off to the mirror (the file already has it). */
static void mirror_write(struct sfile *f, const uint8_t *buf, size_t n, size_t off)
{
	memcpy(f->data + off, buf, n);
	if (off + n > f->size)
		f->size = off + n;
}

static void mirror_truncate(struct sfile *f, size_t size)
{
	if (size < f->size)
		memset(f->data + size, 0, f->size - size);
	f->size = size;
}

/* A file target: a held fd (fd >= 0, nothing to close) or a name opened here. */
struct target {
	int fd;
	bool close;
	struct sfile *f;
	char what[STRESS_REL_MAX + 16];
};

static bool pick_target(struct stress_worker *w, int flags, struct target *t)
{
	if (w->nholds && srng_below(&w->rng, 10) < 4) {
		struct shold *h = &w->holds[srng_below(&w->rng, w->nholds)];

		t->fd = h->fd;
		t->close = false;
		t->f = h->f;
		snprintf(t->what, sizeof(t->what), "held fd %d (file #%llu)", h->fd,
			 (unsigned long long)h->f->id);
		return true;
	}
	if (!w->nnames)
		return false;
	struct sname *n = &w->names[srng_below(&w->rng, w->nnames)];

	t->fd = openat(w->rootfd, n->rel, flags);
	if (t->fd < 0)
		stress_fail("open %s: %s", n->rel, strerror(errno));
	t->close = true;
	t->f = n->f;
	snprintf(t->what, sizeof(t->what), "%s", n->rel);
	return true;
}

static void target_done(struct target *t)
{
	if (t->close && close(t->fd) < 0)
		stress_fail("close %s: %s", t->what, strerror(errno));
}

/* ------------------------------------------------------------------ ops */

static bool op_create(struct stress_worker *w)
{
	char rel[STRESS_REL_MAX];
	struct sfile *f;
	int fd;

	if (w->nnames >= MAX_NAMES)
		return false;
	new_name(w, rand_dir(w), 'f', rel);
	stress_log("create %s", rel);
	fd = openat(w->rootfd, rel, O_CREAT | O_EXCL | O_RDWR, 0644);
	if (fd < 0)
		stress_fail("create %s: %s", rel, strerror(errno));
	f = xcalloc(1, sizeof(*f));
	f->data = xcalloc(1, STRESS_MAX_FILE);
	f->id = w->next_id++;
	f->links = 1;
	snprintf(w->names[w->nnames].rel, STRESS_REL_MAX, "%s", rel);
	w->names[w->nnames++].f = f;
	if (srng_below(&w->rng, 2)) {
		size_t n = 1 + srng_below(&w->rng, STRESS_MAX_IO);

		srng_fill(&w->rng, w->buf, n);
		pwrite_all(fd, w->buf, n, 0, rel);
		mirror_write(f, w->buf, n, 0);
		w->st->bytes_written += n;
	}
	if (w->nholds < MAX_HOLD && srng_below(&w->rng, 4) == 0) {
		w->holds[w->nholds].fd = fd;
		w->holds[w->nholds++].f = f;
		f->held++;
	} else if (close(fd) < 0) {
		stress_fail("close %s: %s", rel, strerror(errno));
	}
	return true;
}

static bool op_write(struct stress_worker *w)
{
	struct target t;
	size_t n = 1 + srng_below(&w->rng, STRESS_MAX_IO), off;

	if (!pick_target(w, O_WRONLY, &t))
		return false;
	/* Mostly inside or just past the end; sometimes far out (a hole). */
	if (srng_below(&w->rng, 4))
		off = srng_below(&w->rng, t.f->size + 4096);
	else
		off = srng_below(&w->rng, STRESS_MAX_FILE);
	if (off + n > STRESS_MAX_FILE)
		off = STRESS_MAX_FILE - n;
	stress_log("write %s %zu @ %zu (size %zu)", t.what, n, off, t.f->size);
	srng_fill(&w->rng, w->buf, n);
	pwrite_all(t.fd, w->buf, n, (off_t)off, t.what);
	mirror_write(t.f, w->buf, n, off);
	w->st->bytes_written += n;
	target_done(&t);
	return true;
}

static bool op_read(struct stress_worker *w)
{
	struct target t;
	size_t n = 1 + srng_below(&w->rng, STRESS_MAX_IO), off, got, want;

	if (!pick_target(w, O_RDONLY, &t))
		return false;
	off = srng_below(&w->rng, t.f->size + 1024);
	want = off >= t.f->size ? 0 : (t.f->size - off < n ? t.f->size - off : n);
	stress_log("read %s %zu @ %zu (size %zu)", t.what, n, off, t.f->size);
	got = pread_full(t.fd, w->rbuf, n, (off_t)off, t.what);
	compare(t.f, w->rbuf, got, off, want, t.what);
	w->st->bytes_read_checked += got;
	target_done(&t);
	return true;
}

static bool op_trunc(struct stress_worker *w)
{
	size_t size;

	if (!w->nnames && !w->nholds)
		return false;
	size = srng_below(&w->rng, 3) ? srng_below(&w->rng, STRESS_MAX_FILE / 4)
				      : srng_below(&w->rng, STRESS_MAX_FILE + 1);
	if (w->nholds && srng_below(&w->rng, 2)) {
		struct shold *h = &w->holds[srng_below(&w->rng, w->nholds)];

		stress_log("ftruncate held fd %d (file #%llu) %zu -> %zu", h->fd,
			   (unsigned long long)h->f->id, h->f->size, size);
		if (ftruncate(h->fd, (off_t)size) < 0)
			stress_fail("ftruncate: %s", strerror(errno));
		mirror_truncate(h->f, size);
	} else if (w->nnames) {
		struct sname *n = &w->names[srng_below(&w->rng, w->nnames)];
		char p[PATH_MAX];

		full_path(w, n->rel, p, sizeof(p));
		stress_log("truncate %s %zu -> %zu", n->rel, n->f->size, size);
		if (truncate(p, (off_t)size) < 0)
			stress_fail("truncate %s: %s", n->rel, strerror(errno));
		mirror_truncate(n->f, size);
	} else {
		return false;
	}
	return true;
}

static bool op_rename(struct stress_worker *w)
{
	size_t i, j;
	char dst[STRESS_REL_MAX];
	bool noreplace = false;

	if (!w->nnames)
		return false;
	i = srng_below(&w->rng, w->nnames);
	if (w->nnames > 1 && srng_below(&w->rng, 3) == 0) {
		/* over an existing name */
		j = srng_below(&w->rng, w->nnames);
		if (j == i)
			return false;
		snprintf(dst, sizeof(dst), "%s", w->names[j].rel);
		if (srng_below(&w->rng, 4) == 0) {
			stress_log("rename %s -> %s NOREPLACE (exists)", w->names[i].rel, dst);
			if (renameat2(w->rootfd, w->names[i].rel, w->rootfd, dst,
				      RENAME_NOREPLACE) == 0 ||
			    errno != EEXIST)
				stress_fail("rename %s -> %s NOREPLACE: want EEXIST, got %s",
					    w->names[i].rel, dst, strerror(errno));
			return true;
		}
		stress_log("rename %s -> %s (replacing)", w->names[i].rel, dst);
		if (renameat(w->rootfd, w->names[i].rel, w->rootfd, dst) < 0)
			stress_fail("rename %s -> %s: %s", w->names[i].rel, dst, strerror(errno));
		if (w->names[i].f == w->names[j].f)
			return true; /* two links of one file: POSIX says nothing happens */
		name_remove(w, j);
		if (i == w->nnames) /* name_remove moved the last slot into j */
			i = j;
		snprintf(w->names[i].rel, STRESS_REL_MAX, "%s", dst);
		return true;
	}
	new_name(w, rand_dir(w), 'f', dst);
	noreplace = srng_below(&w->rng, 2);
	stress_log("rename %s -> %s%s", w->names[i].rel, dst, noreplace ? " NOREPLACE" : "");
	if (renameat2(w->rootfd, w->names[i].rel, w->rootfd, dst,
		      noreplace ? RENAME_NOREPLACE : 0) < 0)
		stress_fail("rename %s -> %s: %s", w->names[i].rel, dst, strerror(errno));
	snprintf(w->names[i].rel, STRESS_REL_MAX, "%s", dst);
	return true;
}

static bool op_exchange(struct stress_worker *w)
{
	size_t i, j;
	struct sfile *t;

	if (w->nnames < 2)
		return false;
	i = srng_below(&w->rng, w->nnames);
	j = srng_below(&w->rng, w->nnames);
	if (i == j)
		return false;
	stress_log("exchange %s <-> %s", w->names[i].rel, w->names[j].rel);
	if (renameat2(w->rootfd, w->names[i].rel, w->rootfd, w->names[j].rel, RENAME_EXCHANGE) < 0)
		stress_fail("exchange %s <-> %s: %s", w->names[i].rel, w->names[j].rel,
			    strerror(errno));
	t = w->names[i].f;
	w->names[i].f = w->names[j].f;
	w->names[j].f = t;
	return true;
}

static bool op_link(struct stress_worker *w)
{
	struct sname *n;
	char dst[STRESS_REL_MAX];

	if (!w->nnames || w->nnames >= MAX_NAMES)
		return false;
	n = &w->names[srng_below(&w->rng, w->nnames)];
	new_name(w, rand_dir(w), 'l', dst);
	stress_log("link %s -> %s", n->rel, dst);
	if (linkat(w->rootfd, n->rel, w->rootfd, dst, 0) < 0)
		stress_fail("link %s -> %s: %s", n->rel, dst, strerror(errno));
	snprintf(w->names[w->nnames].rel, STRESS_REL_MAX, "%s", dst);
	w->names[w->nnames++].f = n->f;
	n->f->links++;
	return true;
}

static bool op_unlink(struct stress_worker *w)
{
	size_t i;

	if (!w->nnames)
		return false;
	i = srng_below(&w->rng, w->nnames);
	stress_log("unlink %s (links %u, held %u)", w->names[i].rel, w->names[i].f->links,
		   w->names[i].f->held);
	if (unlinkat(w->rootfd, w->names[i].rel, 0) < 0)
		stress_fail("unlink %s: %s", w->names[i].rel, strerror(errno));
	name_remove(w, i);
	return true;
}

static bool dir_empty(struct stress_worker *w, const char *dir)
{
	for (size_t i = 0; i < w->nnames; i++)
		if (in_dir(w->names[i].rel, dir))
			return false;
	for (size_t i = 1; i < w->ndirs; i++)
		if (in_dir(w->dirs[i], dir))
			return false;
	return true;
}

static bool op_mkdir(struct stress_worker *w)
{
	const char *parent = rand_dir(w);
	char rel[STRESS_REL_MAX];

	if (w->ndirs >= MAX_DIRS || depth(parent) >= STRESS_MAX_DEPTH)
		return false;
	new_name(w, parent, 'd', rel);
	stress_log("mkdir %s", rel);
	if (mkdirat(w->rootfd, rel, 0755) < 0)
		stress_fail("mkdir %s: %s", rel, strerror(errno));
	snprintf(w->dirs[w->ndirs++], STRESS_REL_MAX, "%s", rel);
	return true;
}

static bool op_rmdir(struct stress_worker *w)
{
	size_t i;
	bool empty;

	if (w->ndirs < 2)
		return false;
	i = 1 + srng_below(&w->rng, w->ndirs - 1);
	empty = dir_empty(w, w->dirs[i]);
	stress_log("rmdir %s (%s)", w->dirs[i], empty ? "empty" : "not empty");
	if (unlinkat(w->rootfd, w->dirs[i], AT_REMOVEDIR) == 0) {
		if (!empty)
			stress_fail("rmdir %s succeeded on a non-empty directory", w->dirs[i]);
		memmove(w->dirs[i], w->dirs[w->ndirs - 1], STRESS_REL_MAX);
		w->ndirs--;
		return true;
	}
	if (empty || (errno != ENOTEMPTY && errno != EEXIST))
		stress_fail("rmdir %s: %s", w->dirs[i], strerror(errno));
	return true;
}

/* Height of the subtree at dir: 1 for a leaf. */
static unsigned height(struct stress_worker *w, const char *dir)
{
	unsigned d0 = depth(dir), h = 1;

	for (size_t i = 1; i < w->ndirs; i++)
		if (under(w->dirs[i], dir) && depth(w->dirs[i]) - d0 + 1 > h)
			h = depth(w->dirs[i]) - d0 + 1;
	return h;
}

static void reprefix(char *rel, size_t oldlen, const char *newp)
{
	char t[STRESS_REL_MAX];

	snprintf(t, sizeof(t), "%s%s", newp, rel + oldlen);
	snprintf(rel, STRESS_REL_MAX, "%s", t);
}

static bool op_rendir(struct stress_worker *w)
{
	size_t i, oldlen;
	const char *parent;
	char old[STRESS_REL_MAX], dst[STRESS_REL_MAX];

	if (w->ndirs < 2)
		return false;
	i = 1 + srng_below(&w->rng, w->ndirs - 1);
	parent = rand_dir(w);
	if (under(parent, w->dirs[i]) || depth(parent) + height(w, w->dirs[i]) > STRESS_MAX_DEPTH)
		return false;
	snprintf(old, sizeof(old), "%s", w->dirs[i]);
	new_name(w, parent, 'd', dst);
	stress_log("rename dir %s -> %s", old, dst);
	if (renameat(w->rootfd, old, w->rootfd, dst) < 0)
		stress_fail("rename dir %s -> %s: %s", old, dst, strerror(errno));
	oldlen = strlen(old);
	for (size_t k = 1; k < w->ndirs; k++)
		if (under(w->dirs[k], old))
			reprefix(w->dirs[k], oldlen, dst);
	for (size_t k = 0; k < w->nnames; k++)
		if (under(w->names[k].rel, old))
			reprefix(w->names[k].rel, oldlen, dst);
	return true;
}

/* An xattr op goes through a path or a held fd. */
static bool xattr_target(struct stress_worker *w, struct sfile **f, int *fd, char *path,
			 size_t plen)
{
	if (w->nholds && srng_below(&w->rng, 3) == 0) {
		struct shold *h = &w->holds[srng_below(&w->rng, w->nholds)];

		*f = h->f;
		*fd = h->fd;
		snprintf(path, plen, "held fd %d (file #%llu)", h->fd,
			 (unsigned long long)h->f->id);
		return true;
	}
	if (!w->nnames)
		return false;
	struct sname *n = &w->names[srng_below(&w->rng, w->nnames)];

	*f = n->f;
	*fd = -1;
	full_path(w, n->rel, path, plen);
	return true;
}

static bool op_setx(struct stress_worker *w)
{
	struct sfile *f;
	int fd, r;
	char p[PATH_MAX];
	size_t n = 1 + srng_below(&w->rng, STRESS_XMAX);

	if (!xattr_target(w, &f, &fd, p, sizeof(p)))
		return false;
	srng_fill(&w->rng, w->buf, n);
	stress_log("setxattr %s %zu bytes", p, n);
	r = fd >= 0 ? fsetxattr(fd, STRESS_XATTR, w->buf, n, 0)
		    : lsetxattr(p, STRESS_XATTR, w->buf, n, 0);
	if (r < 0)
		stress_fail("setxattr %s: %s", p, strerror(errno));
	memcpy(f->xval, w->buf, n);
	f->xlen = n;
	f->xset = true;
	return true;
}

static void check_xattr(const struct sfile *f, int fd, const char *p)
{
	uint8_t v[STRESS_XMAX + 8];
	ssize_t r = fd >= 0 ? fgetxattr(fd, STRESS_XATTR, v, sizeof(v))
			    : lgetxattr(p, STRESS_XATTR, v, sizeof(v));

	if (r < 0) {
		if (errno == ENODATA && !f->xset)
			return;
		stress_fail("getxattr %s: %s (set: %d)", p, strerror(errno), f->xset);
	}
	if (!f->xset)
		stress_fail("getxattr %s: found %zd bytes on a file that has none", p, r);
	if ((size_t)r != f->xlen || memcmp(v, f->xval, f->xlen) != 0)
		stress_fail("getxattr %s: value differs (%zd bytes, expected %zu)", p, r, f->xlen);
}

static bool op_getx(struct stress_worker *w)
{
	struct sfile *f;
	int fd;
	char p[PATH_MAX];

	if (!xattr_target(w, &f, &fd, p, sizeof(p)))
		return false;
	stress_log("getxattr %s (set %d)", p, f->xset);
	check_xattr(f, fd, p);
	return true;
}

static bool op_rmx(struct stress_worker *w)
{
	struct sfile *f;
	int fd, r;
	char p[PATH_MAX];

	if (!xattr_target(w, &f, &fd, p, sizeof(p)))
		return false;
	stress_log("removexattr %s (set %d)", p, f->xset);
	r = fd >= 0 ? fremovexattr(fd, STRESS_XATTR) : lremovexattr(p, STRESS_XATTR);
	if (r == 0 && !f->xset)
		stress_fail("removexattr %s succeeded, but nothing was set", p);
	if (r < 0 && (f->xset || errno != ENODATA))
		stress_fail("removexattr %s: %s (set: %d)", p, strerror(errno), f->xset);
	f->xset = false;
	return true;
}

/* stat a name: type, size, link count; st_ino stable and unique among our files. */
static void check_stat(struct stress_worker *w, const struct sname *n, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		stress_fail("stat %s: mode 0%o is not a regular file", n->rel, st->st_mode);
	if ((size_t)st->st_size != n->f->size)
		stress_fail("stat %s: size %lld, expected %zu", n->rel, (long long)st->st_size,
			    n->f->size);
	if (st->st_nlink != n->f->links)
		stress_fail("stat %s: nlink %lu, expected %u", n->rel, (unsigned long)st->st_nlink,
			    n->f->links);
	if (n->f->ino != 0 && n->f->ino != st->st_ino && stress_ino_may_change)
		n->f->ino = 0; /* -I: take the new number, check it is unique */
	if (n->f->ino == 0) {
		for (size_t i = 0; i < w->nnames; i++)
			if (w->names[i].f != n->f && w->names[i].f->ino == st->st_ino)
				stress_fail("stat %s: st_ino %lu already belongs to %s", n->rel,
					    (unsigned long)st->st_ino, w->names[i].rel);
		n->f->ino = st->st_ino;
	} else if (n->f->ino != st->st_ino) {
		stress_fail("stat %s: st_ino %lu, was %lu: the st_ino of a live file changed "
			    "(renumbered after the kernel forgot its inode?)",
			    n->rel, (unsigned long)st->st_ino, (unsigned long)n->f->ino);
	}
}

static bool op_stat(struct stress_worker *w)
{
	struct sname *n;
	struct stat st;

	if (!w->nnames)
		return false;
	n = &w->names[srng_below(&w->rng, w->nnames)];
	stress_log("stat %s", n->rel);
	if (fstatat(w->rootfd, n->rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		stress_fail("stat %s: %s", n->rel, strerror(errno));
	check_stat(w, n, &st);
	return true;
}

/* List dir and compare with the model: names, types, d_ino == st_ino. */
static void check_dir(struct stress_worker *w, const char *dir)
{
	char p[PATH_MAX], rel[STRESS_REL_MAX];
	bool seen_n[MAX_NAMES] = { false }, seen_d[MAX_DIRS] = { false };
	size_t listed = 0, want = 0;
	struct dirent *de;
	DIR *d;

	full_path(w, dir, p, sizeof(p));
	d = opendir(p);
	if (!d)
		stress_fail("opendir %s: %s", rel_or_dot(dir), strerror(errno));
	for (;;) {
		struct stat st;
		int k;

		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		listed++;
		join(rel, dir, de->d_name);
		k = name_find(w, rel);
		if (k >= 0) {
			if (seen_n[k])
				stress_fail("readdir %s: %s listed twice", rel_or_dot(dir),
					    de->d_name);
			seen_n[k] = true;
			if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
				stress_fail("readdir %s: file %s has d_type %u", rel_or_dot(dir),
					    de->d_name, de->d_type);
		} else {
			size_t j;

			for (j = 1; j < w->ndirs && strcmp(w->dirs[j], rel) != 0; j++)
				;
			if (j == w->ndirs)
				stress_fail("readdir %s: unexpected entry %s", rel_or_dot(dir),
					    de->d_name);
			if (seen_d[j])
				stress_fail("readdir %s: %s listed twice", rel_or_dot(dir),
					    de->d_name);
			seen_d[j] = true;
			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				stress_fail("readdir %s: dir %s has d_type %u", rel_or_dot(dir),
					    de->d_name, de->d_type);
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			stress_fail("stat %s: %s", rel, strerror(errno));
		if (st.st_ino != de->d_ino && !stress_ino_may_change)
			stress_fail("readdir %s: %s has d_ino %lu but st_ino %lu", rel_or_dot(dir),
				    de->d_name, (unsigned long)de->d_ino, (unsigned long)st.st_ino);
		if (k >= 0)
			check_stat(w, &w->names[k], &st);
	}
	if (errno)
		stress_fail("readdir %s: %s", rel_or_dot(dir), strerror(errno));
	closedir(d);
	for (size_t i = 0; i < w->nnames; i++)
		want += in_dir(w->names[i].rel, dir);
	for (size_t i = 1; i < w->ndirs; i++)
		want += in_dir(w->dirs[i], dir);
	if (listed != want)
		stress_fail("readdir %s: %zu entries, expected %zu", rel_or_dot(dir), listed, want);
}

static bool op_readdir(struct stress_worker *w)
{
	const char *dir = rand_dir(w);

	stress_log("readdir %s", rel_or_dot(dir));
	check_dir(w, dir);
	return true;
}

static bool op_open(struct stress_worker *w)
{
	struct sname *n;
	int fd;

	if (!w->nnames || w->nholds >= MAX_HOLD)
		return false;
	n = &w->names[srng_below(&w->rng, w->nnames)];
	stress_log("open-hold %s (file #%llu)", n->rel, (unsigned long long)n->f->id);
	fd = openat(w->rootfd, n->rel, O_RDWR);
	if (fd < 0)
		stress_fail("open %s: %s", n->rel, strerror(errno));
	w->holds[w->nholds].fd = fd;
	w->holds[w->nholds++].f = n->f;
	n->f->held++;
	return true;
}

static void hold_close(struct stress_worker *w, size_t i)
{
	struct shold h = w->holds[i];

	stress_log("close held fd %d (file #%llu, links %u)", h.fd, (unsigned long long)h.f->id,
		   h.f->links);
	if (close(h.fd) < 0)
		stress_fail("close held fd %d: %s", h.fd, strerror(errno));
	w->holds[i] = w->holds[--w->nholds];
	h.f->held--;
	file_put(h.f);
}

static bool op_close(struct stress_worker *w)
{
	if (!w->nholds)
		return false;
	hold_close(w, srng_below(&w->rng, w->nholds));
	return true;
}

static bool op_fsync(struct stress_worker *w)
{
	struct shold *h;

	if (!w->nholds)
		return false;
	h = &w->holds[srng_below(&w->rng, w->nholds)];
	stress_log("fsync held fd %d", h->fd);
	if ((srng_below(&w->rng, 2) ? fsync(h->fd) : fdatasync(h->fd)) < 0)
		stress_fail("fsync: %s", strerror(errno));
	return true;
}

struct own_op {
	enum stress_op op;
	unsigned weight;
	bool (*run)(struct stress_worker *w);
};

static const struct own_op own_ops[] = {
	{ SOP_CREATE, 8, op_create },	{ SOP_WRITE, 20, op_write },
	{ SOP_READ, 20, op_read },	{ SOP_TRUNC, 5, op_trunc },
	{ SOP_RENAME, 6, op_rename },	{ SOP_EXCHANGE, 2, op_exchange },
	{ SOP_LINK, 4, op_link },	{ SOP_UNLINK, 6, op_unlink },
	{ SOP_MKDIR, 2, op_mkdir },	{ SOP_RMDIR, 2, op_rmdir },
	{ SOP_RENDIR, 2, op_rendir },	{ SOP_SETX, 3, op_setx },
	{ SOP_GETX, 3, op_getx },	{ SOP_RMX, 1, op_rmx },
	{ SOP_READDIR, 4, op_readdir }, { SOP_STAT, 6, op_stat },
	{ SOP_OPEN, 3, op_open },	{ SOP_CLOSE, 3, op_close },
	{ SOP_FSYNC, 1, op_fsync },
};

struct stress_worker *stress_own_create(int idx, const char *root, uint64_t seed,
					struct stress_stats *st)
{
	struct stress_worker *w = xcalloc(1, sizeof(*w));

	w->idx = idx;
	w->root = root;
	w->st = st;
	w->rng.s = seed;
	w->ndirs = 1; /* the root, "" */
	w->next_id = 1;
	if (mkdir(root, 0755) < 0)
		stress_fail("mkdir %s: %s", root, strerror(errno));
	w->rootfd = open(root, O_RDONLY | O_DIRECTORY);
	if (w->rootfd < 0)
		stress_fail("open %s: %s", root, strerror(errno));
	return w;
}

void stress_own_step(struct stress_worker *w)
{
	unsigned total = 0;

	for (size_t i = 0; i < sizeof(own_ops) / sizeof(own_ops[0]); i++)
		total += own_ops[i].weight;
	for (;;) {
		unsigned r = (unsigned)srng_below(&w->rng, total);
		size_t i = 0;

		while (r >= own_ops[i].weight)
			r -= own_ops[i++].weight;
		if (own_ops[i].run(w)) {
			w->st->ops[own_ops[i].op]++;
			return;
		}
	}
}

void stress_own_finish(struct stress_worker *w, const char *manifest)
{
	FILE *m;

	stress_log("finish: closing %zu held fds", w->nholds);
	while (w->nholds)
		hold_close(w, w->nholds - 1);
	/* Every name read back whole, every directory listed, every xattr read. */
	for (size_t i = 0; i < w->nnames; i++) {
		struct sname *n = &w->names[i];
		char p[PATH_MAX];
		size_t got;
		int fd = openat(w->rootfd, n->rel, O_RDONLY);

		stress_log("final read %s", n->rel);
		if (fd < 0)
			stress_fail("open %s: %s", n->rel, strerror(errno));
		got = pread_full(fd, w->rbuf, STRESS_MAX_FILE + 1, 0, n->rel);
		compare(n->f, w->rbuf, got, 0, n->f->size, n->rel);
		close(fd);
		full_path(w, n->rel, p, sizeof(p));
		check_xattr(n->f, -1, p);
	}
	for (size_t i = 0; i < w->ndirs; i++)
		check_dir(w, w->dirs[i]);

	m = fopen(manifest, "w");
	if (!m)
		stress_fail("%s: %s", manifest, strerror(errno));
	for (size_t i = 1; i < w->ndirs; i++)
		fprintf(m, "D %s\n", w->dirs[i]);
	for (size_t i = 0; i < w->nnames; i++) {
		const struct sfile *f = w->names[i].f;

		fprintf(m, "F %llu %zu %016llx %u ", (unsigned long long)f->id, f->size,
			(unsigned long long)stress_hash(f->data, f->size), f->links);
		if (f->xset)
			for (size_t k = 0; k < f->xlen; k++)
				fprintf(m, "%02x", f->xval[k]);
		else
			fputc('-', m);
		fprintf(m, " %s\n", w->names[i].rel);
	}
	if (fclose(m) != 0)
		stress_fail("%s: write error", manifest);
	close(w->rootfd);
}
