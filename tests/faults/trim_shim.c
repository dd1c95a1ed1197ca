/*
 * tests/faults/trim_shim.c - LD_PRELOAD'ed into the daemon by t_limits.sh only.
 *
 * glibc keeps freed heap memory for reuse instead of giving it back, and
 * what it can give back depends on how live and freed blocks interleave, so
 * RSS after a forget storm says little about leaks. This shim, from a thread
 * of its own, every 100 ms:
 *   - runs malloc_trim(0), so the RSS figures the test prints follow live
 *     memory as closely as the allocator allows;
 *   - when TRIM_SHIM_STATS names a file, writes to it one line of three
 *     decimal numbers, replaced atomically by rename(2): the heap bytes in
 *     use (mallinfo2().uordblks over every arena, plus hblkhd for mmap'ed
 *     blocks), the highest of those figures so far, and the sample's number
 *     (1, 2, ...). The figure in use is what the test asserts on: it is
 *     exact, whatever the fragmentation. The peak is kept here, while the
 *     load runs, because the kernel may forget inodes (another process's
 *     drop_caches, memory pressure) before the test could read it after.
 *     The number lets a reader wait for a figure sampled after a given
 *     moment instead of sleeping for one.
 * It changes no behaviour of the daemon otherwise.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void trim_shim_start(void) __attribute__((constructor));

static const char *stats_path;
static size_t peak;	       /* highest figure in use so far; the shim's thread only */
static unsigned long long seq; /* samples taken; the shim's thread only */

static void trim_shim_publish(void)
{
	char tmp[4096];
	struct mallinfo2 mi;
	size_t inuse;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", stats_path) >= (int)sizeof(tmp))
		return;
	mi = mallinfo2();
	inuse = mi.uordblks + mi.hblkhd;
	if (inuse > peak)
		peak = inuse;
	seq++;
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%zu %zu %llu\n", inuse, peak, seq);
	if (fclose(f) == 0)
		rename(tmp, stats_path);
}

static void *trim_shim_run(void *arg)
{
	const struct timespec period = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };

	(void)arg;
	for (;;) {
		nanosleep(&period, NULL);
		malloc_trim(0);
		if (stats_path)
			trim_shim_publish();
	}
	return NULL;
}

/* The thread is born with every signal blocked: the daemon waits for its
 * signals on a thread of its own, and a SIGTERM delivered here would kill it. */
void trim_shim_start(void)
{
	sigset_t all, old;
	pthread_t t;

	stats_path = getenv("TRIM_SHIM_STATS");
	if (stats_path && !*stats_path)
		stats_path = NULL;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, trim_shim_run, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
