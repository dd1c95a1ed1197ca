/*
 * tests/stress/stress_shared.c - workers racing on the same names.
 *
 * In shared/, every worker creates, renames, links and unlinks the names
 * s0..s15 (at the top or inside sd0..sd2) and creates and removes sd0..sd2.
 * Nobody can predict the outcome, so the check is on form, not history: files
 * are published whole (written under a private temporary name .t.<worker>.<n>,
 * then renamed over a racy name) and never written again, so every file a
 * reader opens must be one complete record whose hash matches. A torn, mixed,
 * truncated or stale record is a bug (rename is atomic; a published file is
 * immutable). ENOENT, EEXIST and ENOTEMPTY are the expected outcomes of races
 * and are only counted; any other error fails the run.
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
#include <unistd.h>

struct stress_shared {
	int idx;
	int dirfd;
	const char *dir;
	struct srng rng;
	struct stress_stats *st;
	uint64_t serial;
	uint8_t buf[sizeof(struct stress_rec) + STRESS_MAX_IO + 1];
};

/* A racy file name: "s<k>" or "sd<j>/s<k>". */
static void rand_name(struct stress_shared *s, char *out, size_t len)
{
	unsigned k = (unsigned)srng_below(&s->rng, STRESS_SHARED_NAMES);

	if (srng_below(&s->rng, 3) == 0)
		snprintf(out, len, "sd%u/s%u", (unsigned)srng_below(&s->rng, STRESS_SHARED_DIRS),
			 k);
	else
		snprintf(out, len, "s%u", k);
}

static void race_errno(struct stress_shared *s, int e, const char *what, const char *name)
{
	if (e == ENOENT || e == EEXIST || e == ENOTEMPTY) {
		s->st->lost_races++;
		return;
	}
	stress_fail("%s %s: %s", what, name, strerror(e));
}

static void sh_publish(struct stress_shared *s)
{
	struct stress_rec h = { .magic = STRESS_REC_MAGIC, .worker = (uint32_t)s->idx };
	char tmp[64], dst[64];
	size_t n = srng_below(&s->rng, STRESS_MAX_IO);
	int fd;

	h.serial = ++s->serial;
	h.len = n;
	srng_fill(&s->rng, s->buf + sizeof(h), n);
	h.hash = stress_hash(s->buf + sizeof(h), n);
	memcpy(s->buf, &h, sizeof(h));
	snprintf(tmp, sizeof(tmp), ".t.%d.%llu", s->idx, (unsigned long long)h.serial);
	rand_name(s, dst, sizeof(dst));
	stress_log("sh-publish %s (%zu bytes) -> %s", tmp, n, dst);
	fd = openat(s->dirfd, tmp, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0)
		stress_fail("create %s: %s", tmp, strerror(errno));
	for (size_t off = 0; off < sizeof(h) + n;) {
		ssize_t r = write(fd, s->buf + off, sizeof(h) + n - off);

		if (r <= 0)
			stress_fail("write %s: %s", tmp, r ? strerror(errno) : "wrote 0");
		off += (size_t)r;
	}
	if (srng_below(&s->rng, 8) == 0 && fsync(fd) < 0)
		stress_fail("fsync %s: %s", tmp, strerror(errno));
	if (close(fd) < 0)
		stress_fail("close %s: %s", tmp, strerror(errno));
	if (renameat(s->dirfd, tmp, s->dirfd, dst) == 0)
		return;
	race_errno(s, errno, "rename to", dst); /* sd<j> was removed meanwhile */
	if (unlinkat(s->dirfd, tmp, 0) < 0)
		stress_fail("unlink %s: %s", tmp, strerror(errno));
}

static void sh_read(struct stress_shared *s)
{
	char name[64], why[160];
	struct stat st;
	size_t got = 0;
	int fd;

	rand_name(s, name, sizeof(name));
	stress_log("sh-read %s", name);
	fd = openat(s->dirfd, name, O_RDONLY);
	if (fd < 0) {
		race_errno(s, errno, "open", name);
		return;
	}
	if (fstat(fd, &st) < 0)
		stress_fail("fstat %s: %s", name, strerror(errno));
	for (;;) {
		ssize_t r = read(fd, s->buf + got, sizeof(s->buf) - got);

		if (r < 0)
			stress_fail("read %s: %s", name, strerror(errno));
		if (r == 0 || got + (size_t)r == sizeof(s->buf)) {
			got += (size_t)r;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	/* The file is immutable once it has a racy name: stat and content agree. */
	if ((size_t)st.st_size != got)
		stress_fail("sh-read %s: fstat says %lld bytes, read gave %zu", name,
			    (long long)st.st_size, got);
	if (stress_rec_check(s->buf, got, why, sizeof(why)) < 0)
		stress_fail("sh-read %s: %s", name, why);
	s->st->bytes_read_checked += got;
}

static void sh_link(struct stress_shared *s)
{
	char a[64], b[64];

	rand_name(s, a, sizeof(a));
	rand_name(s, b, sizeof(b));
	stress_log("sh-link %s -> %s", a, b);
	if (linkat(s->dirfd, a, s->dirfd, b, 0) < 0)
		race_errno(s, errno, "link", a);
}

static void sh_unlink(struct stress_shared *s)
{
	char a[64];

	rand_name(s, a, sizeof(a));
	stress_log("sh-unlink %s", a);
	if (unlinkat(s->dirfd, a, 0) < 0)
		race_errno(s, errno, "unlink", a);
}

static void sh_rename(struct stress_shared *s)
{
	char a[64], b[64];

	rand_name(s, a, sizeof(a));
	rand_name(s, b, sizeof(b));
	stress_log("sh-rename %s -> %s", a, b);
	if (renameat(s->dirfd, a, s->dirfd, b) < 0)
		race_errno(s, errno, "rename", a);
}

static void sh_mkdir(struct stress_shared *s)
{
	char d[32];

	snprintf(d, sizeof(d), "sd%u", (unsigned)srng_below(&s->rng, STRESS_SHARED_DIRS));
	stress_log("sh-mkdir %s", d);
	if (mkdirat(s->dirfd, d, 0755) < 0)
		race_errno(s, errno, "mkdir", d);
}

static void sh_rmdir(struct stress_shared *s)
{
	char d[32];

	snprintf(d, sizeof(d), "sd%u", (unsigned)srng_below(&s->rng, STRESS_SHARED_DIRS));
	stress_log("sh-rmdir %s", d);
	if (unlinkat(s->dirfd, d, AT_REMOVEDIR) < 0)
		race_errno(s, errno, "rmdir", d);
}

/* Names seen must be ours: s<k>, sd<j>, .t.<w>.<n>; listing must not fail. */
static void sh_readdir(struct stress_shared *s)
{
	struct dirent *de;
	DIR *d;
	int fd;

	stress_log("sh-readdir");
	fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		stress_fail("open shared dir: %s", strerror(errno));
	d = fdopendir(fd);
	if (!d)
		stress_fail("fdopendir: %s", strerror(errno));
	for (;;) {
		unsigned a, b;
		char c;

		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (sscanf(de->d_name, "sd%u%c", &a, &c) == 1 && a < STRESS_SHARED_DIRS)
			continue;
		if (sscanf(de->d_name, "s%u%c", &a, &c) == 1 && a < STRESS_SHARED_NAMES)
			continue;
		if (sscanf(de->d_name, ".t.%u.%u%c", &a, &b, &c) == 2)
			continue;
		stress_fail("sh-readdir: unexpected entry '%s'", de->d_name);
	}
	if (errno)
		stress_fail("sh-readdir: %s", strerror(errno));
	closedir(d);
}

struct sh_op {
	enum stress_op op;
	unsigned weight;
	void (*run)(struct stress_shared *s);
};

static const struct sh_op sh_ops[] = {
	{ SOP_SH_PUBLISH, 10, sh_publish }, { SOP_SH_READ, 10, sh_read },
	{ SOP_SH_LINK, 3, sh_link },	    { SOP_SH_UNLINK, 4, sh_unlink },
	{ SOP_SH_RENAME, 5, sh_rename },    { SOP_SH_MKDIR, 2, sh_mkdir },
	{ SOP_SH_RMDIR, 2, sh_rmdir },	    { SOP_SH_READDIR, 2, sh_readdir },
};

struct stress_shared *stress_shared_create(int idx, const char *dir, uint64_t seed,
					   struct stress_stats *st)
{
	struct stress_shared *s = calloc(1, sizeof(*s));

	if (!s) {
		stress_fail("out of memory");
		return NULL; /* not reached: for checkers that miss _Noreturn */
	}
	s->idx = idx;
	s->dir = dir;
	s->st = st;
	s->rng.s = seed;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (s->dirfd < 0)
		stress_fail("open %s: %s", dir, strerror(errno));
	return s;
}

void stress_shared_step(struct stress_shared *s)
{
	unsigned total = 0, r;
	size_t i = 0;

	for (size_t k = 0; k < sizeof(sh_ops) / sizeof(sh_ops[0]); k++)
		total += sh_ops[k].weight;
	r = (unsigned)srng_below(&s->rng, total);
	while (r >= sh_ops[i].weight)
		r -= sh_ops[i++].weight;
	sh_ops[i].run(s);
	s->st->ops[sh_ops[i].op]++;
}

void stress_shared_finish(struct stress_shared *s)
{
	close(s->dirfd);
	free(s);
}
