/*
 * backends/thread.c - the mark of a thread whose per-thread state (its
 * credentials) a backend could not restore; see vfs/backend.h.
 */
#include "server/log.h"
#include "vfs/backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* Set once, never cleared: the thread ends with it. */
static _Thread_local bool spoiled;

void backend_thread_spoil(const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	spoiled = true;
	/* Every time, not once: each one costs a thread and names its own failure. */
	vlog(VLOG_ERR, "thread %d: %s; it serves no more requests and is retired", (int)gettid(),
	     what);
}

bool backend_thread_spoiled(void)
{
	return spoiled;
}
