/* server/log.c - vlog(): level filter and a replaceable sink. */
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>

static _Atomic int log_level = VLOG_WARN;
static vlog_sink_fn log_sink;
static void *log_sink_data;

void vlog_set_level(enum vlog_level lvl)
{
	atomic_store(&log_level, (int)lvl);
}

enum vlog_level vlog_get_level(void)
{
	return (enum vlog_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void vlog_set_sink(vlog_sink_fn fn, void *data)
{
	log_sink = fn;
	log_sink_data = data;
}

void vlog(enum vlog_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[1024];
	va_list ap;

	if (!vlog_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_sink) {
		log_sink(lvl, msg, log_sink_data);
		return;
	}
	/* One fprintf per line: stdio locks the stream, so lines from workers do not interleave. */
	fprintf(stderr, "vfsmux: %s: %s\n", names[lvl], msg);
}
