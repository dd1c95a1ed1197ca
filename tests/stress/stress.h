/*
 * tests/stress/stress.h - shared by the pieces of vfsmux-stress.
 *
 * The program forks N workers over one directory of a mount. Each worker owns
 * a private tree (p<i>/) whose every byte it mirrors in memory, and races the
 * others in a shared directory (shared/) where files are only ever published
 * whole (written under a temporary name, then renamed), so any file found
 * there must be one complete, self-checking record. When time is up, each
 * worker checks its tree against its mirror, writes a manifest (one line per
 * directory and name: size, content hash, link count, xattr) outside the mount
 * and exits; the parent then drops the page cache (so content comes from the
 * daemon again, not from kernel memory) and checks every tree against its
 * manifest, and the shared tree against the record format.
 */
#ifndef VFSMUX_STRESS_H
#define VFSMUX_STRESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRESS_MAX_FILE	    (256 * 1024) /* private file size bound */
#define STRESS_MAX_IO	    (48 * 1024)	 /* one read/write/publish at most */
#define STRESS_REL_MAX	    160		 /* a path relative to a worker's root */
#define STRESS_XATTR	    "user.stress"
#define STRESS_XMAX	    48
#define STRESS_SHARED_NAMES 16 /* s0..s15: the names workers race on */
#define STRESS_SHARED_DIRS  3  /* sd0..sd2 inside shared/ */

enum stress_op {
	/* private tree */
	SOP_CREATE,
	SOP_WRITE,
	SOP_READ,
	SOP_TRUNC,
	SOP_RENAME,
	SOP_EXCHANGE,
	SOP_LINK,
	SOP_UNLINK,
	SOP_MKDIR,
	SOP_RMDIR,
	SOP_RENDIR,
	SOP_SETX,
	SOP_GETX,
	SOP_RMX,
	SOP_READDIR,
	SOP_STAT,
	SOP_OPEN,
	SOP_CLOSE,
	SOP_FSYNC,
	/* shared directory */
	SOP_SH_PUBLISH,
	SOP_SH_READ,
	SOP_SH_LINK,
	SOP_SH_UNLINK,
	SOP_SH_RENAME,
	SOP_SH_MKDIR,
	SOP_SH_RMDIR,
	SOP_SH_READDIR,
	SOP_NR
};

extern const char *const stress_op_names[SOP_NR];

/* Per-worker counters, in memory shared with the parent (one slot each, no atomics). */
struct stress_stats {
	uint64_t ops[SOP_NR];
	uint64_t lost_races; /* shared ops that met ENOENT/EEXIST/ENOTEMPTY, as expected */
	uint64_t bytes_written, bytes_read_checked;
};

/* splitmix64: tiny, seedable, identical on every machine. */
struct srng {
	uint64_t s;
};

static inline uint64_t srng_next(struct srng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform enough in [0, n); 0 when n == 0. */
static inline uint64_t srng_below(struct srng *r, uint64_t n)
{
	return n ? srng_next(r) % n : 0;
}

void srng_fill(struct srng *r, void *buf, size_t n);

/* FNV-1a, 64 bits: content fingerprint for manifests and shared records. */
uint64_t stress_hash(const void *p, size_t n);

/*
 * The op log of the current worker: the last STRESS_LOG_TAIL op descriptions,
 * printed by stress_fail(). stress_fail() prints, and ends the worker with 1:
 * after a wrong answer the mirror can no longer be trusted.
 */
#define STRESS_LOG_TAIL 25
void stress_log_init(const char *who);
void stress_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void stress_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A record published in the shared directory: this header, then len bytes. */
#define STRESS_REC_MAGIC 0x5453524d58534656ULL /* "VFSXMRST" little-endian */
struct stress_rec {
	uint64_t magic;
	uint32_t worker;
	uint32_t pad;
	uint64_t serial;
	uint64_t len;
	uint64_t hash; /* of the len bytes that follow */
};

/* Check one record's bytes; 0, or -1 with why[] filled. */
int stress_rec_check(const uint8_t *buf, size_t n, char *why, size_t whylen);

/*
 * -I: let a live file's st_ino change (a backend that renumbers an inode the
 * kernel forgot), and so let a READDIR d_ino differ from the st_ino a later
 * stat gives, or two links of one file stat'ed one after the other differ;
 * two files must still never share one. Off by default: st_ino is expected
 * to be stable for a file's life.
 */
extern bool stress_ino_may_change;

/* Worker entry points (stress_own.c, stress_shared.c). */
struct stress_worker;
struct stress_worker *stress_own_create(int idx, const char *root, uint64_t seed,
					struct stress_stats *st);
/* One random op on the private tree. */
void stress_own_step(struct stress_worker *w);
/* End of run: close held files, check the tree against the mirror, write the manifest. */
void stress_own_finish(struct stress_worker *w, const char *manifest);

struct stress_shared;
struct stress_shared *stress_shared_create(int idx, const char *dir, uint64_t seed,
					   struct stress_stats *st);
void stress_shared_step(struct stress_shared *s);
void stress_shared_finish(struct stress_shared *s);

/* Parent-side checks (stress_check.c); each returns the number of problems found. */
unsigned stress_check_manifest(const char *root, const char *manifest);
unsigned stress_check_shared(const char *dir, uint64_t *nrecords);

#endif
