/*
 * tests/faults/trim_shim.c - LD_PRELOAD'ed into the daemon by t_limits.sh only.
 *
 * glibc keeps freed heap memory for reuse instead of giving it back, so a
 * daemon that frees every inode after a forget storm can still show its peak
 * RSS. This shim runs malloc_trim(0) every 100 ms from a thread of its own, so
 * RSS follows live memory and "RSS back near where it started" really means
 * "nothing leaked". It changes no behaviour of the daemon otherwise.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

void trim_shim_start(void) __attribute__((constructor));

static void *trim_shim_run(void *arg)
{
	const struct timespec period = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };

	(void)arg;
	for (;;) {
		nanosleep(&period, NULL);
		malloc_trim(0);
	}
	return NULL;
}

/* The thread is born with every signal blocked: the daemon waits for its
 * signals on a thread of its own, and a SIGTERM delivered here would kill it. */
void trim_shim_start(void)
{
	sigset_t all, old;
	pthread_t t;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, trim_shim_run, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
