/*
 * tests/integrity/fsx.c - one file, mirrored in memory, hit with random ops.
 *
 *   fsx [-S SEED] [-N OPS] [-l MAXLEN] [-o MAXOP] [-c EVERY] [-x OP]... [-q] FILE
 *
 * Every op is applied to FILE and to an in-memory mirror; every byte read back
 * (pread, or an mmap of the range) is compared with the mirror, the size is
 * compared after each op, and the whole file every EVERY ops and at the end.
 * Ops: read, write, mmap read, mmap write (MAP_SHARED + msync), truncate (grow
 * and shrink), fallocate (mode 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE),
 * copy_file_range within the file (non-overlapping ranges), close+reopen, and
 * fsync + POSIX_FADV_DONTNEED (drops the file's clean pages, so the next reads
 * come from the daemon, not from the kernel's page cache).
 *
 * Replay: all parameters come from one splitmix64 stream seeded by SEED and
 * are drawn whether or not the op then runs, so `fsx -S SEED -N OPS FILE`
 * repeats a run exactly on the same backend. An op the file does not support
 * (EOPNOTSUPP from a fallocate mode or copy_file_range) is said once and
 * skipped for the rest of the run. Written bytes are a function of the op
 * number and the file offset, so a byte in the wrong place shows which op
 * wrote it and where it should have gone.
 *
 * Exit: 0 all good, 1 on a mismatch or an unexpected error (with the tail of
 * the op log and the first differing offset), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_TAIL 30

enum fsx_op {
	OP_READ,
	OP_WRITE,
	OP_MAPREAD,
	OP_MAPWRITE,
	OP_TRUNCATE,
	OP_FALLOC,
	OP_FALLOC_KEEP,
	OP_PUNCH,
	OP_COPY,
	OP_REOPEN,
	OP_INVAL,
	OP_NR
};

static const struct {
	const char *name;
	unsigned weight;
} op_info[OP_NR] = {
	[OP_READ] = { "read", 18 },
	[OP_WRITE] = { "write", 18 },
	[OP_MAPREAD] = { "mapread", 8 },
	[OP_MAPWRITE] = { "mapwrite", 8 },
	[OP_TRUNCATE] = { "truncate", 8 },
	[OP_FALLOC] = { "fallocate", 4 },
	[OP_FALLOC_KEEP] = { "fallocate-keep", 4 },
	[OP_PUNCH] = { "punch-hole", 5 },
	[OP_COPY] = { "copy_range", 7 },
	[OP_REOPEN] = { "close-open", 2 },
	[OP_INVAL] = { "fsync+dontneed", 2 },
};

struct logent {
	uint64_t n;
	enum fsx_op op;
	uint64_t a, b, c; /* op-specific: offsets, lengths */
	uint64_t size_before, size_after;
	const char *note; /* "skipped: ..." or NULL */
};

static struct {
	const char *path;
	int fd;
	uint64_t seed, nops, maxlen, maxop, every;
	bool quiet;
	uint64_t rng;
	uint8_t *good, *tmp;
	uint64_t size;
	uint64_t opn;	   /* current op number, from 1 */
	const char *phase; /* a check between ops, or NULL while an op runs */
	bool disabled[OP_NR], unsupported[OP_NR];
	uint64_t done[OP_NR], skipped[OP_NR];
	struct logent log[LOG_TAIL];
	long pagesize;
} fx;

static uint64_t rnd(void)
{
	uint64_t z = (fx.rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static struct logent *log_cur(void)
{
	return &fx.log[fx.opn % LOG_TAIL];
}

static void log_print(void)
{
	uint64_t first = fx.opn >= LOG_TAIL ? fx.opn - LOG_TAIL + 1 : 1;

	fprintf(stderr, "fsx: last %" PRIu64 " ops (newest last):\n", fx.opn - first + 1);
	for (uint64_t n = first; n <= fx.opn; n++) {
		const struct logent *e = &fx.log[n % LOG_TAIL];

		if (e->n != n)
			continue;
		fprintf(stderr, "  %6" PRIu64 " %-15s ", e->n, op_info[e->op].name);
		switch (e->op) {
		case OP_READ:
		case OP_WRITE:
		case OP_MAPREAD:
		case OP_MAPWRITE:
		case OP_FALLOC:
		case OP_FALLOC_KEEP:
		case OP_PUNCH:
			fprintf(stderr, "0x%06" PRIx64 " .. 0x%06" PRIx64 " (0x%" PRIx64 " bytes)",
				e->a, e->a + e->b, e->b);
			break;
		case OP_TRUNCATE:
			fprintf(stderr, "to 0x%" PRIx64, e->a);
			break;
		case OP_COPY:
			fprintf(stderr, "0x%06" PRIx64 " -> 0x%06" PRIx64 " (0x%" PRIx64 " bytes)",
				e->a, e->b, e->c);
			break;
		default:
			break;
		}
		fprintf(stderr, "  size 0x%" PRIx64 " -> 0x%" PRIx64 "%s%s\n", e->size_before,
			e->size_after, e->note ? "  " : "", e->note ? e->note : "");
	}
}

static _Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsx: FAIL at op %" PRIu64 " (%s): ", fx.opn,
		fx.phase ? fx.phase : op_info[log_cur()->op].name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	log_print();
	fprintf(stderr,
		"fsx: replay with: fsx -S %" PRIu64 " -N %" PRIu64 " -l %" PRIu64 " -o %" PRIu64
		" FILE\n",
		fx.seed, fx.opn, fx.maxlen, fx.maxop);
	exit(1);
}

/* The byte op n writes at file offset off. */
static uint8_t pattern(uint64_t n, uint64_t off)
{
	uint64_t h = (off + 1) * 0x9E3779B97F4A7C15ULL ^ n * 0xD6E8FEB86659FD93ULL;

	return (uint8_t)(h >> 56);
}

/* got[0..len) should equal the mirror at off. */
static void compare(const uint8_t *got, uint64_t off, uint64_t len, const char *how)
{
	uint64_t i;

	if (memcmp(got, fx.good + off, len) == 0)
		return;
	for (i = 0; i < len && got[i] == fx.good[off + i]; i++)
		;
	fprintf(stderr, "fsx: %s of 0x%" PRIx64 " bytes at 0x%" PRIx64 " differs\n", how, len, off);
	fprintf(stderr, "fsx: offset    got expected\n");
	for (uint64_t k = i; k < len && k < i + 16; k++)
		fprintf(stderr, "fsx: 0x%06" PRIx64 "  %02x  %02x%s\n", off + k, got[k],
			fx.good[off + k], got[k] != fx.good[off + k] ? "  <" : "");
	fail("first differing offset 0x%" PRIx64 " (%" PRIu64 "): got 0x%02x, expected 0x%02x",
	     off + i, off + i, got[i], fx.good[off + i]);
}

static void check_size(const char *when)
{
	struct stat st;

	if (fstat(fx.fd, &st) < 0)
		fail("fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != fx.size)
		fail("%s: file size 0x%llx, mirror 0x%" PRIx64, when, (long long)st.st_size,
		     fx.size);
}

static void read_exact(uint64_t off, uint64_t len, uint8_t *buf)
{
	uint64_t got = 0;

	while (got < len) {
		ssize_t r = pread(fx.fd, buf + got, len - got, (off_t)(off + got));

		if (r < 0)
			fail("pread 0x%" PRIx64 " @ 0x%" PRIx64 ": %s", len - got, off + got,
			     strerror(errno));
		if (r == 0)
			fail("pread 0x%" PRIx64 " @ 0x%" PRIx64 ": end of file at 0x%" PRIx64
			     ", mirror size 0x%" PRIx64,
			     len - got, off + got, off + got, fx.size);
		got += (uint64_t)r;
	}
}

static void check_all(const char *when)
{
	uint8_t extra;

	check_size(when);
	read_exact(0, fx.size, fx.tmp);
	compare(fx.tmp, 0, fx.size, "whole-file read");
	if (pread(fx.fd, &extra, 1, (off_t)fx.size) != 0)
		fail("%s: data past the mirror's end 0x%" PRIx64, when, fx.size);
}

/* Mirror: bytes past size are always zero. */
static void mirror_setsize(uint64_t size)
{
	if (size < fx.size)
		memset(fx.good + size, 0, fx.size - size);
	fx.size = size;
}

static void do_read(uint64_t off, uint64_t len)
{
	read_exact(off, len, fx.tmp);
	compare(fx.tmp, off, len, "read");
}

static void do_write(uint64_t off, uint64_t len)
{
	uint64_t done = 0;

	for (uint64_t i = 0; i < len; i++)
		fx.tmp[i] = pattern(fx.opn, off + i);
	while (done < len) {
		ssize_t r = pwrite(fx.fd, fx.tmp + done, len - done, (off_t)(off + done));

		if (r <= 0)
			fail("pwrite 0x%" PRIx64 " @ 0x%" PRIx64 ": %s", len - done, off + done,
			     r ? strerror(errno) : "wrote 0");
		done += (uint64_t)r;
	}
	memcpy(fx.good + off, fx.tmp, len);
	if (off + len > fx.size)
		fx.size = off + len;
}

static void do_mapread(uint64_t off, uint64_t len)
{
	uint64_t pg = off & ~(uint64_t)(fx.pagesize - 1);
	uint8_t *p = mmap(NULL, off - pg + len, PROT_READ, MAP_SHARED, fx.fd, (off_t)pg);

	if (p == MAP_FAILED)
		fail("mmap read 0x%" PRIx64 " @ 0x%" PRIx64 ": %s", len, off, strerror(errno));
	compare(p + (off - pg), off, len, "mmap read");
	if (munmap(p, off - pg + len) < 0)
		fail("munmap: %s", strerror(errno));
}

static void do_mapwrite(uint64_t off, uint64_t len)
{
	uint64_t pg = off & ~(uint64_t)(fx.pagesize - 1);
	uint8_t *p;

	if (off + len > fx.size) {
		/* a mapping cannot grow the file: extend first, as fsx does */
		if (ftruncate(fx.fd, (off_t)(off + len)) < 0)
			fail("ftruncate to 0x%" PRIx64 " before mmap write: %s", off + len,
			     strerror(errno));
		mirror_setsize(off + len);
	}
	p = mmap(NULL, off - pg + len, PROT_READ | PROT_WRITE, MAP_SHARED, fx.fd, (off_t)pg);
	if (p == MAP_FAILED)
		fail("mmap write 0x%" PRIx64 " @ 0x%" PRIx64 ": %s", len, off, strerror(errno));
	for (uint64_t i = 0; i < len; i++)
		p[off - pg + i] = fx.good[off + i] = pattern(fx.opn, off + i);
	if (msync(p, off - pg + len, MS_SYNC) < 0)
		fail("msync: %s", strerror(errno));
	if (munmap(p, off - pg + len) < 0)
		fail("munmap: %s", strerror(errno));
}

static void do_truncate(uint64_t size)
{
	if (ftruncate(fx.fd, (off_t)size) < 0)
		fail("ftruncate to 0x%" PRIx64 ": %s", size, strerror(errno));
	mirror_setsize(size);
}

/* false: the mode is not supported here (said once, then skipped). */
static bool do_fallocate(enum fsx_op op, uint64_t off, uint64_t len)
{
	int mode = op == OP_FALLOC	  ? 0
		   : op == OP_FALLOC_KEEP ? FALLOC_FL_KEEP_SIZE
					  : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	if (fallocate(fx.fd, mode, (off_t)off, (off_t)len) < 0) {
		if (errno == EOPNOTSUPP)
			return false;
		fail("fallocate mode 0x%x 0x%" PRIx64 " @ 0x%" PRIx64 ": %s", mode, len, off,
		     strerror(errno));
	}
	if (op == OP_FALLOC && off + len > fx.size)
		fx.size = off + len;
	if (op == OP_PUNCH && off < fx.size)
		memset(fx.good + off, 0, (off + len > fx.size ? fx.size : off + len) - off);
	return true;
}

static bool do_copy(uint64_t src, uint64_t dst, uint64_t len)
{
	loff_t so = (loff_t)src, d = (loff_t)dst;
	uint64_t done = 0;

	while (done < len) {
		ssize_t r = copy_file_range(fx.fd, &so, fx.fd, &d, len - done, 0);

		if (r < 0 && done == 0 && (errno == EOPNOTSUPP || errno == EXDEV))
			return false;
		if (r < 0)
			fail("copy_file_range 0x%" PRIx64 " -> 0x%" PRIx64 " (0x%" PRIx64
			     " bytes, 0x%" PRIx64 " done): %s",
			     src, dst, len, done, strerror(errno));
		if (r == 0)
			fail("copy_file_range 0x%" PRIx64 " -> 0x%" PRIx64 ": 0 after 0x%" PRIx64
			     " of 0x%" PRIx64 " bytes, inside the file",
			     src, dst, done, len);
		done += (uint64_t)r;
		if ((uint64_t)so != src + done || (uint64_t)d != dst + done)
			fail("copy_file_range moved the offsets to 0x%llx/0x%llx after 0x%" PRIx64
			     " bytes",
			     (long long)so, (long long)d, done);
	}
	memmove(fx.good + dst, fx.good + src, len);
	if (dst + len > fx.size)
		fx.size = dst + len;
	return true;
}

static void do_reopen(void)
{
	if (close(fx.fd) < 0)
		fail("close: %s", strerror(errno));
	fx.fd = open(fx.path, O_RDWR);
	if (fx.fd < 0)
		fail("reopen %s: %s", fx.path, strerror(errno));
}

static void do_inval(void)
{
	int e;

	if (fsync(fx.fd) < 0)
		fail("fsync: %s", strerror(errno));
	e = posix_fadvise(fx.fd, 0, 0, POSIX_FADV_DONTNEED);
	if (e)
		fail("posix_fadvise DONTNEED: %s", strerror(e));
}

static enum fsx_op pick_op(void)
{
	unsigned total = 0, r;
	int op = 0;

	for (int k = 0; k < OP_NR; k++)
		total += op_info[k].weight;
	r = (unsigned)below(total);
	while (r >= op_info[op].weight)
		r -= op_info[op++].weight;
	return (enum fsx_op)op;
}

static void step(void)
{
	struct logent *e = log_cur();
	enum fsx_op op = pick_op();
	/* Every op draws the same four numbers, whether it then runs or not. */
	uint64_t r1 = rnd(), r2 = rnd(), r3 = rnd(), r4 = rnd();
	uint64_t off, len, dst;
	bool ran = true;

	memset(e, 0, sizeof(*e));
	e->n = fx.opn;
	e->op = op;
	e->size_before = fx.size;
	if (fx.disabled[op] || fx.unsupported[op]) {
		e->note = fx.disabled[op] ? "skipped: disabled (-x)" : "skipped: unsupported";
		goto skipped;
	}
	switch (op) {
	case OP_READ:
	case OP_MAPREAD:
		if (fx.size == 0) {
			e->note = "skipped: empty file";
			goto skipped;
		}
		off = r1 % fx.size;
		len = 1 + r2 % fx.maxop;
		if (len > fx.size - off)
			len = fx.size - off;
		e->a = off;
		e->b = len;
		if (op == OP_READ)
			do_read(off, len);
		else
			do_mapread(off, len);
		break;
	case OP_WRITE:
	case OP_MAPWRITE:
	case OP_FALLOC:
	case OP_FALLOC_KEEP:
	case OP_PUNCH:
		/* mostly near the data, sometimes anywhere (holes, growth) */
		off = r3 % 4 ? r1 % (fx.size + 1 < fx.maxlen ? fx.size + 1 : fx.maxlen)
			     : r1 % fx.maxlen;
		len = 1 + r2 % fx.maxop;
		if (len > fx.maxlen - off)
			len = fx.maxlen - off;
		e->a = off;
		e->b = len;
		if (op == OP_WRITE)
			do_write(off, len);
		else if (op == OP_MAPWRITE)
			do_mapwrite(off, len);
		else
			ran = do_fallocate(op, off, len);
		break;
	case OP_TRUNCATE:
		/* half the time near the current size, to hit partial pages */
		off = r3 % 2 ? r1 % (fx.maxlen + 1)
			     : (fx.size + (r1 % 8193) > 4096 ? fx.size + (r1 % 8193) - 4096 : 0);
		if (off > fx.maxlen)
			off = fx.maxlen;
		e->a = off;
		do_truncate(off);
		break;
	case OP_COPY:
		if (fx.size == 0) {
			e->note = "skipped: empty file";
			goto skipped;
		}
		off = r1 % fx.size;
		len = 1 + r2 % fx.maxop;
		if (len > fx.size - off)
			len = fx.size - off;
		dst = r4 % 4 ? r3 % (fx.size + 1 < fx.maxlen ? fx.size + 1 : fx.maxlen)
			     : r3 % fx.maxlen;
		if (len > fx.maxlen - dst)
			len = fx.maxlen - dst;
		e->a = off;
		e->b = dst;
		e->c = len;
		if (off < dst + len && dst < off + len) {
			e->note = "skipped: ranges overlap";
			goto skipped;
		}
		ran = do_copy(off, dst, len);
		break;
	case OP_REOPEN:
		do_reopen();
		break;
	case OP_INVAL:
		do_inval();
		break;
	default:
		break;
	}
	if (!ran) {
		fx.unsupported[op] = true;
		printf("fsx: %s is not supported on %s (EOPNOTSUPP): skipping it for the rest of "
		       "the run\n",
		       op_info[op].name, fx.path);
		e->note = "skipped: unsupported";
		goto skipped;
	}
	fx.done[op]++;
	e->size_after = fx.size;
	check_size("after the op");
	return;
skipped:
	fx.skipped[op]++;
	e->size_after = fx.size;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

static const char usage[] =
    "Usage: fsx [-S SEED] [-N OPS] [-l MAXLEN] [-o MAXOP] [-c EVERY] [-x OP]... [-q] FILE\n"
    "  -S SEED   seed (default: from the clock; printed)\n"
    "  -N OPS    number of ops (default 10000)\n"
    "  -l MAXLEN largest file size (default 0x100000)\n"
    "  -o MAXOP  largest single op (default 0x10000)\n"
    "  -c EVERY  check the whole file every EVERY ops (default 1000; 0: only at the end)\n"
    "  -x OP     leave op type OP out (read write mapread mapwrite truncate fallocate\n"
    "            fallocate-keep punch-hole copy_range close-open fsync+dontneed)\n"
    "  -q        print only the summary\n";

int main(int argc, char **argv)
{
	bool have_seed = false;
	struct timespec t0, t1;
	int opt;

	fx.nops = 10000;
	fx.maxlen = 0x100000;
	fx.maxop = 0x10000;
	fx.every = 1000;
	while ((opt = getopt(argc, argv, "S:N:l:o:c:x:qh")) != -1) {
		int k;

		switch (opt) {
		case 'S':
			if (!parse_u64(optarg, &fx.seed))
				goto bad;
			have_seed = true;
			break;
		case 'N':
			if (!parse_u64(optarg, &fx.nops))
				goto bad;
			break;
		case 'l':
			if (!parse_u64(optarg, &fx.maxlen) || fx.maxlen < 4096 ||
			    fx.maxlen > (1ULL << 32))
				goto bad;
			break;
		case 'o':
			if (!parse_u64(optarg, &fx.maxop) || !fx.maxop)
				goto bad;
			break;
		case 'c':
			if (!parse_u64(optarg, &fx.every))
				goto bad;
			break;
		case 'x':
			for (k = 0; k < OP_NR && strcmp(op_info[k].name, optarg) != 0; k++)
				;
			if (k == OP_NR)
				goto bad;
			fx.disabled[k] = true;
			break;
		case 'q':
			fx.quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc - 1)
		goto bad;
	fx.path = argv[optind];
	if (fx.maxop > fx.maxlen)
		fx.maxop = fx.maxlen;
	if (!have_seed)
		fx.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	fx.rng = fx.seed;
	fx.pagesize = sysconf(_SC_PAGESIZE);
	fx.good = calloc(1, fx.maxlen);
	fx.tmp = malloc(fx.maxlen);
	if (!fx.good || !fx.tmp) {
		fprintf(stderr, "fsx: out of memory\n");
		return 1;
	}
	fx.fd = open(fx.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fx.fd < 0) {
		fprintf(stderr, "fsx: %s: %s\n", fx.path, strerror(errno));
		return 1;
	}
	printf("fsx: %s: seed %" PRIu64 ", %" PRIu64 " ops, maxlen 0x%" PRIx64 ", maxop 0x%" PRIx64
	       "\n",
	       fx.path, fx.seed, fx.nops, fx.maxlen, fx.maxop);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (fx.opn = 1; fx.opn <= fx.nops; fx.opn++) {
		step();
		if (fx.every && fx.opn % fx.every == 0) {
			fx.phase = "periodic whole-file check after it";
			check_all("periodic check");
			fx.phase = NULL;
			if (!fx.quiet && fx.opn % (fx.every * 10) == 0) {
				printf("fsx: %" PRIu64 " ops, size 0x%" PRIx64 "\n", fx.opn,
				       fx.size);
				fflush(stdout);
			}
		}
	}
	fx.opn = fx.nops;
	fx.phase = "final check after fsync, DONTNEED, reopen";
	/* Last: what the daemon holds, not the page cache. */
	do_inval();
	do_reopen();
	check_all("final check");
	if (close(fx.fd) < 0)
		fail("close: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("fsx: ops:");
	for (int k = 0; k < OP_NR; k++)
		printf(" %s=%" PRIu64 "%s", op_info[k].name, fx.done[k],
		       fx.unsupported[k] ? "(unsupported)" : "");
	printf("\nfsx: OK: %" PRIu64 " ops in %.1f s, seed %" PRIu64 ", final size 0x%" PRIx64 "\n",
	       fx.nops, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       fx.seed, fx.size);
	return 0;
bad:
	fputs(usage, stderr);
	return 2;
}
