/*
 * tests/stress/stress_util.c - random bytes, hashing, the op log, records.
 */
#include "stress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const stress_op_names[SOP_NR] = {
	[SOP_CREATE] = "create",
	[SOP_WRITE] = "write",
	[SOP_READ] = "read",
	[SOP_TRUNC] = "truncate",
	[SOP_RENAME] = "rename",
	[SOP_EXCHANGE] = "exchange",
	[SOP_LINK] = "link",
	[SOP_UNLINK] = "unlink",
	[SOP_MKDIR] = "mkdir",
	[SOP_RMDIR] = "rmdir",
	[SOP_RENDIR] = "rename-dir",
	[SOP_SETX] = "setxattr",
	[SOP_GETX] = "getxattr",
	[SOP_RMX] = "removexattr",
	[SOP_READDIR] = "readdir",
	[SOP_STAT] = "stat",
	[SOP_OPEN] = "open-hold",
	[SOP_CLOSE] = "close-held",
	[SOP_FSYNC] = "fsync",
	[SOP_SH_PUBLISH] = "sh-publish",
	[SOP_SH_READ] = "sh-read",
	[SOP_SH_LINK] = "sh-link",
	[SOP_SH_UNLINK] = "sh-unlink",
	[SOP_SH_RENAME] = "sh-rename",
	[SOP_SH_MKDIR] = "sh-mkdir",
	[SOP_SH_RMDIR] = "sh-rmdir",
	[SOP_SH_READDIR] = "sh-readdir",
};

void srng_fill(struct srng *r, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n >= 8) {
		uint64_t v = srng_next(r);

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = srng_next(r);

		memcpy(p, &v, n);
	}
}

uint64_t stress_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The op log: a ring of the last descriptions, for the failure report. */
static char log_ring[STRESS_LOG_TAIL][224];
static uint64_t log_n;
static char log_who[32] = "stress";

void stress_log_init(const char *who)
{
	snprintf(log_who, sizeof(log_who), "%s", who);
	log_n = 0;
}

void stress_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log_ring[log_n % STRESS_LOG_TAIL], sizeof(log_ring[0]), fmt, ap);
	va_end(ap);
	log_n++;
}

_Noreturn void stress_fail(const char *fmt, ...)
{
	va_list ap;
	uint64_t first = log_n > STRESS_LOG_TAIL ? log_n - STRESS_LOG_TAIL : 0;

	fprintf(stderr, "%s: FAIL at op %llu: ", log_who, (unsigned long long)log_n);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s: last %llu ops (newest last):\n", log_who,
		(unsigned long long)(log_n - first));
	for (uint64_t i = first; i < log_n; i++)
		fprintf(stderr, "  #%llu %s\n", (unsigned long long)i + 1,
			log_ring[i % STRESS_LOG_TAIL]);
	fflush(stderr);
	exit(1);
}

int stress_rec_check(const uint8_t *buf, size_t n, char *why, size_t whylen)
{
	struct stress_rec h;

	if (n < sizeof(h)) {
		snprintf(why, whylen, "%zu bytes, shorter than a record header", n);
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != STRESS_REC_MAGIC) {
		snprintf(why, whylen, "bad magic %016llx", (unsigned long long)h.magic);
		return -1;
	}
	if (h.len != n - sizeof(h)) {
		snprintf(why, whylen,
			 "record of worker %u serial %llu says %llu bytes, file has %zu", h.worker,
			 (unsigned long long)h.serial, (unsigned long long)h.len, n - sizeof(h));
		return -1;
	}
	if (stress_hash(buf + sizeof(h), n - sizeof(h)) != h.hash) {
		snprintf(why, whylen, "record of worker %u serial %llu: content hash differs",
			 h.worker, (unsigned long long)h.serial);
		return -1;
	}
	return 0;
}
