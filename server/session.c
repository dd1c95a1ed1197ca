/*
 * server/session.c - one FUSE connection: a pool of workers, each reading
 * requests from its own cloned /dev/fuse fd into its own buffer.
 *
 * Pool: `threads` workers start; when a worker takes a request and no other
 * is idle, it starts one more (up to `max_threads`), so a few blocked backend
 * calls cannot freeze every mount. Workers beyond `threads` retire only after
 * more than `threads` have been idle for RETIRE_AFTER seconds (session_run()
 * watches; a worker leaves after finishing its next request): retiring on
 * the first idle moment made the pool start and stop thousands of threads
 * under an ordinary two-request load. Exited workers are joined by session_run().
 *
 * Life: the loop ends when the kernel ends the connection (read gives ENODEV
 * once the filesystem is unmounted and its last file closed) or when
 * session_stop() is called; session_stop() interrupts blocked reads with
 * SIGUSR1 (installed without SA_RESTART). A worker (or ring thread) inside a
 * backend call cannot be interrupted, and a backend call may never return
 * (a hung network source): so from the moment the session stops, every wait
 * for the threads has one deadline, stop_seconds later. Threads still busy
 * then are left behind and session_run() says so (-ETIMEDOUT); the caller
 * exits the process without destroying what they use. No lock is held
 * across a wait for a thread.
 *
 * A worker that must not serve another request (w->retire) leaves after its
 * reply, and a fresh worker takes its place (worker_main's `leave`).
 */
#include "server/backing.h"
#include "server/fuse_kernel.h"
#include "server/log.h"
#include "server/session_int.h"
#include "server/uring.h"
#include "vfs/fd_budget.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Kernel minimum for a read buffer (FUSE_MIN_READ_BUFFER in fs/fuse/fuse_i.h). */
#define FUSE_MIN_READ_BUFFER 8192
/* getxattr/listxattr may carry up to 64 KiB even when max_write is smaller. */
#define MIN_MAX_DATA 65536
/* Seconds the pool must have surplus idle workers before one is retired. */
#define RETIRE_AFTER 5
/* Seconds busy threads get to finish once the session stops (opts.stop_seconds 0). */
#define STOP_SECONDS_DEFAULT 2.0

int session_create(struct vfs *vfs, int fuse_fd, const struct session_opts *o, struct session **out)
{
	struct session *se = calloc(1, sizeof(*se));

	if (!se)
		return -ENOMEM;
	se->vfs = vfs;
	se->fd = fuse_fd;
	se->opts = *o;
	if (se->opts.threads < 1)
		se->opts.threads = 1;
	if (se->opts.max_threads < se->opts.threads)
		se->opts.max_threads = se->opts.threads;
	if (se->opts.max_write < 4096)
		se->opts.max_write = 4096;
	if (se->opts.max_write > 1024 * 1024)
		se->opts.max_write = 1024 * 1024;
	se->opts.max_write &= ~4095u;
	se->bufsize = se->opts.max_write + 4096;
	if (se->bufsize < FUSE_MIN_READ_BUFFER)
		se->bufsize = FUSE_MIN_READ_BUFFER;
	se->max_data = se->opts.max_write > MIN_MAX_DATA ? se->opts.max_write : MIN_MAX_DATA;
	{
		/* The ioctls go to the mounted fd: any channel of the connection will do. */
		const struct backing_ops ops = { backing_ioctl_open, backing_ioctl_close, &se->fd };
		int err = backing_table_new(&ops, &se->backing);

		if (err) {
			free(se);
			return err;
		}
	}
	pthread_mutex_init(&se->init_lock, NULL);
	pthread_mutex_init(&se->lock, NULL);
	{
		/* session_run() waits on cond against CLOCK_MONOTONIC deadlines. */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&se->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	*out = se;
	return 0;
}

void session_set_writer(struct session *se, session_writev_fn fn, void *data)
{
	se->writer = fn;
	se->writer_data = data;
}

void session_set_backing_ops(struct session *se, const struct backing_ops *ops)
{
	struct backing_table *t;

	if (backing_table_new(ops, &t) == 0) {
		backing_table_free(se->backing);
		se->backing = t;
	}
}

void session_init_done(struct session *se)
{
	int fd;

	/* The kernel has taken the INIT reply, so ring entries can be registered now. */
	if ((se->conn_flags & FUSE_OVER_IO_URING) && se->fd >= 0) {
		struct uring *u;

		if (uring_start(se, &u) == 0) {
			pthread_mutex_lock(&se->lock);
			se->uring = u;
			pthread_mutex_unlock(&se->lock);
		}
	}
	pthread_mutex_lock(&se->lock);
	fd = se->opts.ready_fd;
	se->opts.ready_fd = -1;
	pthread_mutex_unlock(&se->lock);
	if (fd >= 0) {
		static const char ok[] = "ok\n";

		if (write(fd, ok, sizeof(ok) - 1) < 0)
			vlog(VLOG_WARN, "writing to --ready-fd %d: %s", fd, strerror(errno));
		close(fd);
	}
}

static void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->own_fd && w->fd >= 0)
		close(w->fd);
	free(w->inbuf);
	free(w->outbuf);
	free(w);
}

/* A worker with buffers and, when clone is set, its own channel to the connection. */
static int worker_new(struct session *se, bool clone, struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->se = se;
	w->fd = se->fd;
	w->inbuf = malloc(se->bufsize);
	w->outbuf = malloc(se->max_data);
	if (!w->inbuf || !w->outbuf) {
		worker_free(w);
		return -ENOMEM;
	}
	if (clone && se->fd >= 0) {
		uint32_t master = (uint32_t)se->fd;
		int fd, tries = 0;

		/* The fds the backends only cache make room for a worker's clone. */
		do
			fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		while (fd < 0 && fdb_retry(errno, &tries));

		if (fd >= 0 && ioctl(fd, FUSE_DEV_IOC_CLONE, &master) == 0) {
			w->fd = fd;
			w->own_fd = true;
		} else {
			/* Sharing the one fd still works, only with more contention. */
			vlog_once(VLOG_WARN, "cannot clone /dev/fuse (%s): workers share one fd",
				  strerror(errno));
			if (fd >= 0)
				close(fd);
		}
	}
	*out = w;
	return 0;
}

static void *worker_main(void *arg);

/* Start one more worker. se->lock held. */
static int worker_start_locked(struct session *se, bool clone)
{
	struct worker *w;
	int err = worker_new(se, clone, &w);

	if (err)
		return err;
	err = -pthread_create(&w->thread, NULL, worker_main, w);
	if (err) {
		worker_free(w);
		return err;
	}
	w->next = se->workers;
	se->workers = w;
	se->nworkers++;
	se->started++;
	if (se->nworkers > se->peak)
		se->peak = se->nworkers;
	atomic_fetch_add(&se->idle, 1);
	return 0;
}

/* Take w off the live list and queue it for joining. se->lock held. */
static void worker_retire_locked(struct session *se, struct worker *w)
{
	struct worker **pp;

	for (pp = &se->workers; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	se->requests += w->requests;
	w->next = se->dead;
	se->dead = w;
	assert(se->nworkers > 0);
	se->nworkers--;
	pthread_cond_broadcast(&se->cond);
}

/* Before a request: make sure someone is left to read the next one. */
static void pool_busy(struct session *se)
{
	if (atomic_fetch_sub(&se->idle, 1) != 1)
		return;
	pthread_mutex_lock(&se->lock);
	if (!atomic_load(&se->stopping) && se->nworkers < se->opts.max_threads) {
		int err = worker_start_locked(se, true);

		if (err)
			vlog_once(VLOG_WARN, "cannot start another worker: %s", strerror(-err));
	}
	pthread_mutex_unlock(&se->lock);
}

/*
 * After a request: true when session_run() asked a worker to retire and this
 * one goes. The request to retire was counted from the idle workers of up to
 * 100 ms ago; since then callers may have blocked the others in backend calls.
 * So a worker leaves only while more than `threads` workers (itself included)
 * are idle now: the pool never retires its last reader of /dev/fuse, which
 * would leave every later request unread behind the blocked ones.
 */
static bool pool_idle(struct session *se)
{
	bool surplus = false;

	atomic_fetch_add(&se->idle, 1);
	if (atomic_load_explicit(&se->retire, memory_order_relaxed) == 0)
		return false;
	pthread_mutex_lock(&se->lock);
	if (atomic_load(&se->retire) > 0 && se->nworkers > se->opts.threads &&
	    atomic_load(&se->idle) > se->opts.threads) {
		atomic_fetch_sub(&se->retire, 1);
		atomic_fetch_sub(&se->idle, 1);
		surplus = true;
	}
	pthread_mutex_unlock(&se->lock);
	return surplus;
}

/*
 * Called by session_run() about every 100 ms with se->lock held: when the pool
 * has had more than `threads` idle workers for RETIRE_AFTER seconds, ask the
 * surplus to retire.
 */
static void pool_trim_locked(struct session *se, time_t now, time_t *surplus_since)
{
	unsigned idle = atomic_load(&se->idle);

	if (se->nworkers <= se->opts.threads || idle <= se->opts.threads) {
		*surplus_since = 0;
		atomic_store(&se->retire, 0);
		return;
	}
	if (!*surplus_since) {
		*surplus_since = now;
		return;
	}
	if (now - *surplus_since >= RETIRE_AFTER) {
		unsigned extra = se->nworkers - se->opts.threads;

		atomic_store(&se->retire,
			     idle - se->opts.threads < extra ? idle - se->opts.threads : extra);
		*surplus_since = 0;
	}
}

void session_fail(struct session *se, int err)
{
	pthread_mutex_lock(&se->lock);
	if (!se->exit_err)
		se->exit_err = err;
	pthread_mutex_unlock(&se->lock);
	session_stop(se);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct session *se = w->se;
	bool replace = false;

	while (!atomic_load(&se->stopping)) {
		ssize_t n = read(w->fd, w->inbuf, se->bufsize);

		if (n < 0) {
			int e = errno;

			/* ENOENT: the request was aborted while we read it; EINTR: a kick. */
			if (e == EINTR || e == EAGAIN || e == ENOENT)
				continue;
			/*
			 * ENODEV: unmounted and the last file closed. ECONNABORTED: the
			 * connection was aborted (the kernel says so instead of ENODEV
			 * when it tore the connection down, e.g. during a lazy umount
			 * with requests pending). Either way the session is over.
			 */
			if (e == ENODEV || e == ECONNABORTED) {
				/* Every worker sees it; the first one says it. */
				if (!atomic_load(&se->stopping))
					vlog(VLOG_INFO,
					     "the kernel ended the connection (unmounted)");
			} else {
				vlog(VLOG_ERR, "reading /dev/fuse: %s", strerror(e));
				pthread_mutex_lock(&se->lock);
				if (!se->exit_err)
					se->exit_err = -e;
				pthread_mutex_unlock(&se->lock);
			}
			atomic_store(&se->stopping, true);
			break;
		}
		w->requests++; /* per worker: no shared cache line on the hot path */
		pool_busy(se);
		dispatch_request(w, w->inbuf, (size_t)n);
		if (w->retire) {
			/* Unfit for another request: its reply is out; a fresh worker takes over.
			 */
			replace = true;
			goto leave; /* not counted idle since pool_busy */
		}
		if (pool_idle(se))
			goto leave; /* idle count already dropped by pool_idle */
	}
	atomic_fetch_sub(&se->idle, 1);
leave:
	pthread_mutex_lock(&se->lock);
	worker_retire_locked(se, w);
	if (replace && !atomic_load(&se->stopping)) {
		int err = worker_start_locked(se, true);

		if (err) {
			vlog(VLOG_ERR, "cannot replace a retired worker: %s", strerror(-err));
			if (se->nworkers == 0) {
				/* Nobody would read the next request: end cleanly instead. */
				if (!se->exit_err)
					se->exit_err = err;
				atomic_store(&se->stopping, true);
			}
		}
	}
	pthread_mutex_unlock(&se->lock);
	return NULL;
}

static void on_kick(int sig)
{
	(void)sig; /* only interrupts a blocked read() */
}

static void join_dead_locked(struct session *se)
{
	while (se->dead) {
		struct worker *w = se->dead;

		se->dead = w->next;
		pthread_mutex_unlock(&se->lock);
		pthread_join(w->thread, NULL);
		worker_free(w);
		pthread_mutex_lock(&se->lock);
	}
}

/* *deadline = now + the stop time (CLOCK_MONOTONIC). */
static void stop_deadline(const struct session *se, struct timespec *deadline)
{
	double secs = se->opts.stop_seconds > 0 ? se->opts.stop_seconds : STOP_SECONDS_DEFAULT;
	long ns = (long)((secs - (double)(long)secs) * 1e9);

	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += (time_t)secs;
	deadline->tv_nsec += ns;
	if (deadline->tv_nsec >= 1000000000) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000;
	}
}

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

int session_run(struct session *se)
{
	struct sigaction sa;
	time_t surplus_since = 0;
	struct timespec deadline;
	bool stopping_seen = false;
	struct uring *u;
	uint32_t busy;
	int err = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick; /* no SA_RESTART: read() returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	pthread_mutex_lock(&se->lock);
	for (uint32_t i = 0; i < se->opts.threads && !err; i++)
		err = worker_start_locked(se, i > 0);
	if (err) {
		vlog(VLOG_ERR, "cannot start workers: %s", strerror(-err));
		atomic_store(&se->stopping, true);
	}
	while (se->nworkers > 0) {
		struct timespec ts;

		pool_trim_locked(se, time(NULL), &surplus_since);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (stopping_seen &&
		    (ts.tv_sec > deadline.tv_sec ||
		     (ts.tv_sec == deadline.tv_sec && ts.tv_nsec > deadline.tv_nsec)))
			ts = deadline;
		pthread_cond_timedwait(&se->cond, &se->lock, &ts);
		join_dead_locked(se);
		/* A kick can land just before a worker enters read(): repeat until all are out. */
		if (atomic_load(&se->stopping)) {
			if (!stopping_seen) {
				stop_deadline(se, &deadline);
				stopping_seen = true;
			}
			if (past(&deadline))
				break; /* the rest are stuck in backend calls */
			for (struct worker *w = se->workers; w; w = w->next)
				pthread_kill(w->thread, SIGUSR1);
			uring_kick(se->uring);
		}
	}
	join_dead_locked(se);
	busy = se->nworkers;
	u = se->uring;
	se->uring = NULL;
	pthread_mutex_unlock(&se->lock);
	if (!stopping_seen)
		stop_deadline(se, &deadline);
	/* The rings end with the connection (their commands fail) or on the stop above. */
	if (uring_stop(u, &deadline) == -ETIMEDOUT)
		se->abandoned = true;
	pthread_mutex_lock(&se->lock);
	if (busy) {
		vlog(VLOG_WARN,
		     "%" PRIu32
		     " worker thread%s still inside a backend call at the stop deadline; "
		     "left behind",
		     busy, busy == 1 ? "" : "s");
		se->abandoned = true;
	}
	if (!err)
		err = se->exit_err;
	if (se->abandoned)
		err = -ETIMEDOUT;
	vlog(VLOG_INFO,
	     "served %llu requests; %" PRIu32 " worker threads started, at most %" PRIu32
	     " at once",
	     (unsigned long long)se->requests, se->started, se->peak);
	pthread_mutex_unlock(&se->lock);
	return err;
}

void session_stop(struct session *se)
{
	atomic_store(&se->stopping, true);
	pthread_mutex_lock(&se->lock);
	for (struct worker *w = se->workers; w; w = w->next)
		pthread_kill(w->thread, SIGUSR1);
	uring_kick(se->uring);
	pthread_cond_broadcast(&se->cond);
	pthread_mutex_unlock(&se->lock);
}

bool session_stopping(const struct session *se)
{
	return atomic_load(&((struct session *)se)->stopping);
}

void session_destroy(struct session *se)
{
	/* Threads left behind by session_run() still use se: it lives until exit. */
	if (!se || se->abandoned)
		return;
	assert(se->nworkers == 0);
	if (se->opts.ready_fd >= 0)
		close(se->opts.ready_fd);
	backing_table_free(se->backing);
	pthread_cond_destroy(&se->cond);
	pthread_mutex_destroy(&se->lock);
	pthread_mutex_destroy(&se->init_lock);
	free(se);
}

void session_process(struct session *se, const void *buf, size_t len)
{
	struct worker *w;

	if (worker_new(se, false, &w)) {
		vlog(VLOG_ERR, "session_process: out of memory");
		return;
	}
	/* Copy into the worker's buffer as a read would, so no handler sees the caller's memory. */
	if (len > se->bufsize)
		len = se->bufsize;
	memcpy(w->inbuf, buf, len);
	dispatch_request(w, w->inbuf, len);
	worker_free(w);
}
