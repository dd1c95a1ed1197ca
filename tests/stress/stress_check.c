/*
 * tests/stress/stress_check.c - the parent's checks, after every worker exited.
 *
 * Run after the page cache was dropped, so the content read here comes from
 * the daemon, not from pages the workers' own writes left in the kernel.
 * A private tree must hold exactly what its manifest lists (no entry missing,
 * none extra), with the recorded size, content hash, link count and xattr,
 * and hard links must share one st_ino while distinct files never do. The
 * shared tree must hold only complete records.
 */
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_ENTRIES 256 /* well above a worker's names + dirs */

struct mentry {
	bool dir, seen;
	uint64_t id, hash;
	size_t size;
	unsigned nlink;
	char xhex[2 * STRESS_XMAX + 2];
	char rel[STRESS_REL_MAX];
	ino_t ino;
};

struct mcheck {
	const char *root;
	struct mentry e[MAX_ENTRIES];
	size_t n;
	unsigned problems;
	uint8_t *buf;
};

static void problem(struct mcheck *c, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct mcheck *c, const char *rel, const char *fmt, ...)
{
	va_list ap;

	if (++c->problems > 20)
		return;
	fprintf(stderr, "check: %s/%s: ", c->root, rel);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct mentry *mfind(struct mcheck *c, const char *rel)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].rel, rel) == 0)
			return &c->e[i];
	return NULL;
}

static void check_file(struct mcheck *c, int dfd, const char *name, const char *rel,
		       const struct stat *st, struct mentry *m)
{
	char xhex[2 * STRESS_XMAX + 2] = "-";
	uint8_t xv[STRESS_XMAX + 8];
	size_t got = 0;
	ssize_t xr;
	int fd = openat(dfd, name, O_RDONLY);

	if (fd < 0) {
		problem(c, rel, "open: %s", strerror(errno));
		return;
	}
	for (;;) {
		ssize_t r = read(fd, c->buf + got, STRESS_MAX_FILE + 1 - got);

		if (r < 0) {
			problem(c, rel, "read: %s", strerror(errno));
			break;
		}
		got += (size_t)r;
		if (r == 0 || got == STRESS_MAX_FILE + 1)
			break;
	}
	xr = fgetxattr(fd, STRESS_XATTR, xv, sizeof(xv));
	close(fd);
	if (got != m->size || (size_t)st->st_size != m->size)
		problem(c, rel, "size: read %zu bytes, stat %lld, recorded %zu", got,
			(long long)st->st_size, m->size);
	else if (stress_hash(c->buf, got) != m->hash)
		problem(c, rel, "content differs from what its writer recorded (%zu bytes)", got);
	if (st->st_nlink != m->nlink)
		problem(c, rel, "nlink %lu, recorded %u", (unsigned long)st->st_nlink, m->nlink);
	if (xr >= 0) {
		for (ssize_t k = 0; k < xr && k < STRESS_XMAX; k++)
			snprintf(xhex + 2 * k, 3, "%02x", xv[k]);
	} else if (errno != ENODATA) {
		problem(c, rel, "getxattr: %s", strerror(errno));
	}
	if (strcmp(xhex, m->xhex) != 0)
		problem(c, rel, "xattr %s, recorded %s", xhex, m->xhex);
	/* Hard links share st_ino; different files never do. */
	for (size_t i = 0; i < c->n; i++) {
		const struct mentry *o = &c->e[i];

		if (o == m || o->dir || !o->ino)
			continue;
		/* -I: a forget between the two stats may renumber the file */
		if (o->id == m->id && o->ino != st->st_ino && !stress_ino_may_change)
			problem(c, rel, "st_ino %lu, but its link %s has %lu",
				(unsigned long)st->st_ino, o->rel, (unsigned long)o->ino);
		if (o->id != m->id && o->ino == st->st_ino)
			problem(c, rel, "st_ino %lu is also that of %s, another file",
				(unsigned long)st->st_ino, o->rel);
	}
	m->ino = st->st_ino;
}

static void walk(struct mcheck *c, int dfd, const char *dir)
{
	DIR *d;
	struct dirent *de;
	int fd = openat(dfd, *dir ? dir : ".", O_RDONLY | O_DIRECTORY);

	if (fd < 0 || !(d = fdopendir(fd))) {
		problem(c, dir, "opendir: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		char rel[STRESS_REL_MAX];
		struct mentry *m;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int len = snprintf(rel, sizeof(rel), "%s%s%s", dir, *dir ? "/" : "", de->d_name);

		if (len < 0 || (size_t)len >= sizeof(rel)) {
			problem(c, dir, "entry with a name longer than any this test makes");
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			problem(c, rel, "stat: %s", strerror(errno));
			continue;
		}
		m = mfind(c, rel);
		if (!m) {
			problem(c, rel, "not in the manifest (mode 0%o)", st.st_mode);
			continue;
		}
		if (m->seen)
			problem(c, rel, "listed twice");
		m->seen = true;
		if (m->dir != !!S_ISDIR(st.st_mode) || (!m->dir && !S_ISREG(st.st_mode))) {
			problem(c, rel, "mode 0%o, recorded a %s", st.st_mode,
				m->dir ? "directory" : "file");
			continue;
		}
		if (m->dir)
			walk(c, dfd, rel);
		else
			check_file(c, dirfd(d), de->d_name, rel, &st, m);
	}
	closedir(d);
}

static int load_manifest(struct mcheck *c, const char *manifest)
{
	char line[STRESS_REL_MAX + 2 * STRESS_XMAX + 128];
	FILE *f = fopen(manifest, "r");

	if (!f) {
		fprintf(stderr, "check: %s: %s\n", manifest, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct mentry *m = &c->e[c->n];
		unsigned long long id, hash;

		if (c->n == MAX_ENTRIES) {
			fprintf(stderr, "check: %s: too many entries\n", manifest);
			fclose(f);
			return -1;
		}
		memset(m, 0, sizeof(*m));
		if (line[0] == 'D' && sscanf(line, "D %159s", m->rel) == 1) {
			m->dir = true;
		} else if (sscanf(line, "F %llu %zu %llx %u %97s %159s", &id, &m->size, &hash,
				  &m->nlink, m->xhex, m->rel) == 6) {
			m->id = id;
			m->hash = hash;
		} else {
			fprintf(stderr, "check: %s: bad line: %s", manifest, line);
			fclose(f);
			return -1;
		}
		c->n++;
	}
	fclose(f);
	return 0;
}

unsigned stress_check_manifest(const char *root, const char *manifest)
{
	struct mcheck *c = calloc(1, sizeof(*c));
	unsigned problems;
	int rfd;

	if (!c || !(c->buf = malloc(STRESS_MAX_FILE + 1))) {
		fprintf(stderr, "check: out of memory\n");
		free(c);
		return 1;
	}
	c->root = root;
	if (load_manifest(c, manifest) < 0) {
		problems = 1;
		goto out;
	}
	rfd = open(root, O_RDONLY | O_DIRECTORY);
	if (rfd < 0) {
		problem(c, "", "open: %s", strerror(errno));
	} else {
		walk(c, rfd, "");
		close(rfd);
	}
	for (size_t i = 0; i < c->n; i++)
		if (!c->e[i].seen)
			problem(c, c->e[i].rel, "recorded %s is missing",
				c->e[i].dir ? "directory" : "file");
	problems = c->problems;
out:
	free(c->buf);
	free(c);
	return problems;
}

/* shared/: only s<k> files and sd<j> dirs of s<k> files, each a whole record. */
static unsigned check_shared_dir(int dfd, const char *dir, bool top, uint8_t *buf, uint64_t *nrec)
{
	unsigned problems = 0;
	struct dirent *de;
	DIR *d;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY);

	if (fd < 0 || !(d = fdopendir(fd))) {
		fprintf(stderr, "check: %s: opendir: %s\n", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	while ((de = readdir(d))) {
		char why[160];
		unsigned k;
		char extra;
		struct stat st;
		size_t got = 0;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			fprintf(stderr, "check: %s/%s: stat: %s\n", dir, de->d_name,
				strerror(errno));
			problems++;
			continue;
		}
		if (top && S_ISDIR(st.st_mode) && sscanf(de->d_name, "sd%u%c", &k, &extra) == 1) {
			char sub[PATH_MAX];
			int sfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY);

			snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
			if (sfd < 0) {
				fprintf(stderr, "check: %s: open: %s\n", sub, strerror(errno));
				problems++;
				continue;
			}
			problems += check_shared_dir(sfd, sub, false, buf, nrec);
			close(sfd);
			continue;
		}
		if (!S_ISREG(st.st_mode) || sscanf(de->d_name, "s%u%c", &k, &extra) != 1) {
			fprintf(stderr, "check: %s/%s: unexpected entry (mode 0%o)\n", dir,
				de->d_name, st.st_mode);
			problems++;
			continue;
		}
		fd = openat(dirfd(d), de->d_name, O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "check: %s/%s: open: %s\n", dir, de->d_name,
				strerror(errno));
			problems++;
			continue;
		}
		for (;;) {
			ssize_t r = read(fd, buf + got,
					 sizeof(struct stress_rec) + STRESS_MAX_IO + 1 - got);

			if (r <= 0)
				break;
			got += (size_t)r;
		}
		close(fd);
		if (stress_rec_check(buf, got, why, sizeof(why)) < 0) {
			fprintf(stderr, "check: %s/%s: %s\n", dir, de->d_name, why);
			problems++;
		} else {
			(*nrec)++;
		}
	}
	closedir(d);
	return problems;
}

unsigned stress_check_shared(const char *dir, uint64_t *nrecords)
{
	uint8_t *buf = malloc(sizeof(struct stress_rec) + STRESS_MAX_IO + 1);
	unsigned problems;
	int fd;

	*nrecords = 0;
	if (!buf)
		return 1;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		fprintf(stderr, "check: %s: %s\n", dir, strerror(errno));
		free(buf);
		return 1;
	}
	problems = check_shared_dir(fd, dir, true, buf, nrecords);
	close(fd);
	free(buf);
	return problems;
}
