/*
 * server/log.h - the one logging function of the daemon.
 *
 * Every room logs through vlog(); the sink defaults to stderr and tests may
 * capture it. Levels are prefixed VLOG_ because <syslog.h> owns LOG_ERR.
 */
#ifndef VFSMUX_LOG_H
#define VFSMUX_LOG_H

#include <stdatomic.h>
#include <stdbool.h>

enum vlog_level { VLOG_ERR, VLOG_WARN, VLOG_INFO, VLOG_DEBUG };

typedef void (*vlog_sink_fn)(enum vlog_level lvl, const char *msg, void *data);

/* Messages above lvl are dropped. Default VLOG_WARN. */
void vlog_set_level(enum vlog_level lvl);
enum vlog_level vlog_get_level(void);
/* Route messages to fn; NULL restores stderr. Not thread-safe against vlog(). */
void vlog_set_sink(vlog_sink_fn fn, void *data);
void vlog(enum vlog_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline bool vlog_enabled(enum vlog_level lvl)
{
	return lvl <= vlog_get_level();
}

/*
 * Log at most once per call site: for conditions bad input can repeat at will
 * (a fuzzer sending a million bad forgets must not fill the disk).
 */
#define vlog_once(lvl, ...)                                                                        \
	do {                                                                                       \
		static atomic_bool vlog_once_done_;                                                \
		if (!atomic_exchange_explicit(&vlog_once_done_, true, memory_order_relaxed))       \
			vlog((lvl), __VA_ARGS__);                                                  \
	} while (0)

#endif
