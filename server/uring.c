/*
 * server/uring.c - FUSE over io_uring (see uring.h for the picture).
 *
 * One ring thread owns one io_uring and one ring entry: a headers buffer and
 * a payload buffer registered with FUSE_IO_URING_CMD_REGISTER for its queue.
 * The entry's command completes when the kernel has put a request into the
 * buffers; the thread serves it with the ordinary dispatcher and sends the
 * reply back with FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which also arms the
 * entry for the next request. So at any moment an entry is either with the
 * kernel (waiting for a request) or with its thread (serving one), never both,
 * and every request taken from it is committed exactly once: that is the
 * invariant the kernel relies on to find the request again by commit_id.
 *
 * A thread that leaves while the session runs (it gave up after refusals or
 * an error, or it retires on purpose after serving a request) is counted out
 * of its queue and replaced at once by a successor that takes over its
 * buffers: the kernel knows an entry by its buffers and a request by its
 * commit_id, not by the ring that fetched it, so a reply staged by the
 * leaver is committed by the successor from its own ring. Only when a queue
 * keeps failing (uring_policy.h) is it given up, and then the whole session
 * ends (an error exit) if the kernel already sends requests by ring: a queue
 * without a thread would leave the callers on its CPU waiting for ever.
 */
#include "server/uring.h"

#include "server/fuse_kernel.h"
#include "server/log.h"
#include "server/session_int.h"
#include "server/uring_msg.h"
#include "server/uring_policy.h"

#include <errno.h>
#include <time.h>

#ifdef VFSMUX_HAVE_LIBURING

#include <assert.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/*
 * A thread idle this long gives its buffers' pages back (they are rewritten
 * by every request anyway): a burst of 1 MiB requests then does not leave
 * every thread the burst started holding 2 MiB for good.
 */
#define IDLE_TRIM_SECONDS 5

struct uring_ent {
	struct uring *u;
	uint16_t qid;
	pthread_t thread;
	atomic_bool done;	/* the thread has left (ent_leave) and may be joined */
	struct uring_ent *next; /* u->ents; u->lock */
	struct io_uring ring;
	bool ring_ok;
	/* The next command for the entry: REGISTER, or COMMIT_AND_FETCH of commit_id
	 * (a reply is staged). Set by the thread; a successor starts from its
	 * predecessor's, so a staged reply is committed exactly once. */
	uint32_t op;
	uint64_t commit_id;
	struct fuse_uring_req_header *hdr; /* registered as iov[0] */
	uint8_t *buf;			   /* URING_MSG_HEADROOM + payload */
	uint8_t *payload;		   /* buf + URING_MSG_HEADROOM, registered as iov[1] */
	size_t payload_size;
	struct iovec iov[2];
	struct worker w; /* what dispatch_request() is handed */
	bool staged;	 /* a reply for the current request is in the buffers */
	bool dirty;	 /* buffers touched since the last trim */
};

/*
 * The kernel gives a caller's request only to an idle entry of the queue of
 * the caller's CPU. So, as the /dev/fuse workers do (DESIGN §1), a queue
 * starts another thread when its last idle one takes a request: one request
 * blocked on the host (a slow disk, a hung network source) then never
 * stalls the other callers on that CPU. Up to max_threads a queue; threads
 * stay until the session ends (the protocol has no way to take back an
 * entry while the connection lives, short of closing its ring).
 */
struct uring_queue {
	atomic_uint idle; /* threads with their entry armed, waiting for a request */
	unsigned threads; /* running (started, not yet left); u->lock */
	/* Threads that gave up in a row with no request served between (ring_leave);
	 * reset by a served request. */
	atomic_uint failures;
};

struct uring {
	struct session *se;
	atomic_bool quit; /* uring_stop(): the threads finish even if the session goes on */
	unsigned nqueues;
	unsigned max_per_queue;
	size_t payload; /* each entry's payload buffer */
	/* The kernel sent a request by ring: it switched to the rings for good,
	 * so from now on every queue must keep a thread. */
	atomic_bool ready;
	/* Lock order: se->lock before u->lock. Never held across a backend call
	 * or a wait on the kernel; uring_stop() waits on cond with a deadline. */
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* broadcast when a thread leaves */
	struct uring_ent *ents; /* every started thread, newest first; lock */
	struct uring_queue *queues;
};

bool uring_available(void)
{
	return true;
}

/* How many CPUs the kernel may ever run a caller on: its number of queues. */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned n = 0, a, b;
	int c;

	if (!f)
		return 0;
	/* "0-3" or "0,2-5": count the CPUs in every range. */
	for (;;) {
		if (fscanf(f, "%u", &a) != 1)
			break;
		b = a;
		c = fgetc(f);
		if (c == '-') {
			if (fscanf(f, "%u", &b) != 1 || b < a)
				break;
			c = fgetc(f);
		}
		n += b - a + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	return n;
}

static int queue_cmd(struct uring_ent *e, uint32_t op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
	struct fuse_uring_cmd_req req;

	if (!sqe)
		return -EBUSY;		  /* cannot happen: one command in flight per ring */
	memset(sqe, 0, 2 * sizeof(*sqe)); /* SQE128: the command area runs on */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = e->w.fd;
	sqe->cmd_op = op;
	sqe->user_data = op;
	if (op == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	}
	memset(&req, 0, sizeof(req));
	req.commit_id = commit_id;
	req.qid = e->qid;
	memcpy(sqe->cmd, &req, sizeof(req));
	return 0;
}

static void trim(struct uring_ent *e)
{
	(void)madvise(e->buf, URING_MSG_HEADROOM + e->payload_size, MADV_DONTNEED);
	(void)madvise(e->w.outbuf, e->u->se->max_data, MADV_DONTNEED);
	e->dirty = false;
}

/*
 * Submit what is queued and wait for the entry's command to complete: *res
 * is its result (0: a request is in the buffers). -ESHUTDOWN once the
 * session stops; a kick (SIGUSR1) only interrupts the wait.
 */
static int ring_wait(struct uring_ent *e, int *res)
{
	struct session *se = e->u->se;
	struct io_uring_cqe *cqe;

	for (;;) {
		int r;

		if (atomic_load(&se->stopping) || atomic_load(&e->u->quit)) {
			/* A reply still queued is sent first: its caller waits for it. */
			if (io_uring_sq_ready(&e->ring))
				(void)io_uring_submit(&e->ring);
			return -ESHUTDOWN;
		}
		struct __kernel_timespec ts = { .tv_sec = IDLE_TRIM_SECONDS };

		if (io_uring_sq_ready(&e->ring))
			r = io_uring_submit_and_wait_timeout(&e->ring, &cqe, 1,
							     e->dirty ? &ts : NULL, NULL);
		else
			r = io_uring_wait_cqe_timeout(&e->ring, &cqe, e->dirty ? &ts : NULL);
		if (r == -ETIME && e->dirty)
			trim(e);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME)
			return r;
		if (io_uring_peek_cqe(&e->ring, &cqe) == 0) {
			*res = cqe->res;
			io_uring_cqe_seen(&e->ring, cqe);
			return 0;
		}
	}
}

static void stage_error(struct uring_ent *e, int err, uint64_t unique)
{
	struct fuse_out_header oh = { .len = sizeof(oh), .error = err, .unique = unique };
	struct iovec iov = { .iov_base = &oh, .iov_len = sizeof(oh) };

	(void)uring_stage_reply(e, &iov, 1);
}

/* The request in the buffers: rebuild it contiguously, dispatch, have a reply staged. */
static uint64_t serve(struct uring_ent *e)
{
	uint64_t commit_id;
	uint8_t *req;
	size_t len;

	e->staged = false;
	req = uring_msg_request(e->hdr, e->payload, e->payload_size, &len, &commit_id);
	if (!req) {
		vlog_once(VLOG_WARN, "io_uring: a request's sizes do not add up; answered EIO");
		stage_error(e, -EIO, commit_id);
		return commit_id;
	}
	dispatch_request(&e->w, req, len);
	/* Every request taken must be committed, or the entry is lost to the queue. */
	if (!e->staged)
		stage_error(e, -EIO, commit_id);
	return commit_id;
}

static void pin_to_cpu(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Best effort: a cpuset may exclude it; the thread then just floats. */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int ring_setup(struct uring_ent *e)
{
	struct io_uring_params p;
	int r;

	memset(&p, 0, sizeof(p));
	/* Run the kernel's completion work only when we wait: we wait anyway. */
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	r = io_uring_queue_init_params(4, &e->ring, &p);
	if (r == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128;
		r = io_uring_queue_init_params(4, &e->ring, &p);
	}
	if (r == 0)
		e->ring_ok = true;
	return r;
}

static void ring_grow(struct uring *u, uint16_t qid);
static void ent_leave(struct uring_ent *e, int err);

/* First request by ring: the kernel switched over, so an empty queue is now a hole. */
static void ring_ready(struct uring *u)
{
	int hole = -1;

	if (atomic_load_explicit(&u->ready, memory_order_relaxed) ||
	    atomic_exchange(&u->ready, true))
		return;
	pthread_mutex_lock(&u->lock);
	for (unsigned qid = 0; qid < u->nqueues && hole < 0; qid++)
		if (u->queues[qid].threads == 0)
			hole = (int)qid;
	pthread_mutex_unlock(&u->lock);
	if (hole >= 0) {
		vlog(VLOG_ERR,
		     "io_uring: the kernel switched to the rings but queue %d has no "
		     "thread; ending the session",
		     hole);
		session_fail(u->se, -EIO);
	}
}

/*
 * The kernel gives a request that finds no idle entry in its queue to the
 * next entry of that queue that commits a reply, not to one that registers
 * afterwards (fs/fuse/dev_uring.c: registering only marks the entry idle).
 * A thread registers late exactly when its queue ran out of idle entries,
 * so requests may be waiting behind ones blocked in the backend, for good if
 * no other caller comes by on that CPU. The nudge is that caller: one STATFS
 * of our own mount from the queue's CPU (STATFS is never cached, and the
 * daemon may always reach its own mount) lands on the idle entry, and its
 * commit hands over the next waiting request, and so on. A detached thread,
 * since STATFS waits for the reply; after an unmount the path no longer
 * leads to us and the nudge does nothing.
 */
struct ring_nudge {
	unsigned cpu;
	char path[];
};

static void *nudge_main(void *arg)
{
	struct ring_nudge *n = arg;
	struct statfs sf;

	pin_to_cpu(n->cpu);
	(void)statfs(n->path, &sf);
	free(n);
	return NULL;
}

static void ring_nudge(struct uring *u, uint16_t qid)
{
	const char *mnt = u->se->opts.mountpoint;
	struct ring_nudge *n;
	pthread_attr_t attr;
	pthread_t t;
	size_t len;

	if (!mnt || atomic_load(&u->quit))
		return;
	len = strlen(mnt) + 1;
	n = malloc(sizeof(*n) + len);
	if (!n)
		return; /* a later caller on that CPU does the same */
	n->cpu = qid;
	memcpy(n->path, mnt, len);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, nudge_main, n))
		free(n);
	pthread_attr_destroy(&attr);
}

static void *ent_main(void *arg)
{
	struct uring_ent *e = arg;
	struct uring_queue *q = &e->u->queues[e->qid];
	struct ring_retry retry = { 0 };
	int err, res;
	bool idle = false, pause;

	pin_to_cpu(e->qid);
	err = ring_setup(e);
	if (err) {
		vlog_once(VLOG_WARN, "io_uring: cannot set up a ring: %s", strerror(-err));
		goto out;
	}
	for (;;) {
		bool registering = e->op == FUSE_IO_URING_CMD_REGISTER;

		err = queue_cmd(e, e->op, e->commit_id);
		/*
		 * Registering while the kernel sends by ring: requests may wait
		 * (ring_nudge). The nudge's STATFS must find the entry registered,
		 * or it waits with them: submit now (the kernel registers the entry
		 * inside io_uring_submit); ring_wait() then has nothing to submit.
		 */
		if (!err && registering &&
		    atomic_load_explicit(&e->u->ready, memory_order_relaxed) &&
		    io_uring_submit(&e->ring) >= 0)
			ring_nudge(e->u, e->qid);
		if (!err) {
			if (!idle) {
				atomic_fetch_add(&q->idle, 1);
				idle = true;
			}
			err = ring_wait(e, &res);
		}
		if (err)
			break;
		switch (ring_step(&retry, registering, res, &pause)) {
		case RING_REGISTER:
			if (!registering)
				vlog_once(
				    VLOG_WARN,
				    "io_uring: a reply was refused (%s); entry registered again",
				    strerror(-res));
			if (pause)
				nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
			e->op = FUSE_IO_URING_CMD_REGISTER;
			e->commit_id = 0;
			continue;
		case RING_GIVE_UP:
			err = res < 0 ? res : -EIO;
			break;
		case RING_SERVE:
			break;
		}
		if (err)
			break;
		/* Busy now; the queue's last idle thread asks for another. */
		idle = false;
		if (atomic_fetch_sub(&q->idle, 1) == 1)
			ring_grow(e->u, e->qid);
		if (atomic_load_explicit(&q->failures, memory_order_relaxed))
			atomic_store(&q->failures, 0);
		ring_ready(e->u);
		e->w.requests++;
		e->dirty = true;
		e->commit_id = serve(e);
		e->op = FUSE_IO_URING_CMD_COMMIT_AND_FETCH;
		/*
		 * A thread unfit to serve another request (w.retire) leaves here,
		 * its reply staged: ent_leave() hands the entry to a successor,
		 * which commits the reply, so the caller gets it all the same.
		 */
		if (e->w.retire)
			break;
	}
out:
	if (idle)
		atomic_fetch_sub(&q->idle, 1);
	ent_leave(e, err);
	return NULL;
}

int uring_stage_reply(struct uring_ent *e, const struct iovec *iov, int n)
{
	int err = uring_msg_reply(e->hdr, e->payload, e->payload_size, iov, n);

	if (!err)
		e->staged = true;
	return err;
}

/* Page-aligned, so that trim() can hand whole pages back. */
static void *map_buf(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void ent_free(struct uring_ent *e)
{
	if (e->ring_ok)
		io_uring_queue_exit(&e->ring);
	free(e->hdr);
	if (e->buf)
		munmap(e->buf, URING_MSG_HEADROOM + e->payload_size);
	if (e->w.outbuf)
		munmap(e->w.outbuf, e->u->se->max_data);
	free(e);
}

/*
 * Start one more ring thread for queue qid: with new buffers, or (from set)
 * taking over from's buffers and next command, so the kernel entry and any
 * reply staged in them go on with the successor. u->lock held.
 */
static int ent_start_locked(struct uring *u, uint16_t qid, struct uring_ent *from)
{
	struct session *se = u->se;
	struct uring_ent *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->u = u;
	e->qid = qid;
	e->payload_size = u->payload;
	e->op = FUSE_IO_URING_CMD_REGISTER;
	if (from) {
		e->hdr = from->hdr;
		e->buf = from->buf;
		e->w.outbuf = from->w.outbuf;
		e->op = from->op;
		e->commit_id = from->commit_id;
		e->dirty = from->dirty;
	} else {
		e->hdr = calloc(1, sizeof(*e->hdr));
		e->buf = map_buf(URING_MSG_HEADROOM + u->payload);
		e->w.outbuf = map_buf(se->max_data);
		if (!e->hdr || !e->buf || !e->w.outbuf) {
			ent_free(e);
			return -ENOMEM;
		}
	}
	e->payload = e->buf + URING_MSG_HEADROOM;
	e->iov[0] = (struct iovec){ .iov_base = e->hdr, .iov_len = sizeof(*e->hdr) };
	e->iov[1] = (struct iovec){ .iov_base = e->payload, .iov_len = u->payload };
	e->w.se = se;
	e->w.fd = se->fd; /* notifications still go by /dev/fuse */
	e->w.ring = e;
	err = -pthread_create(&e->thread, NULL, ent_main, e);
	if (err) {
		if (from) /* the buffers stay with from, freed with it */
			e->hdr = NULL, e->buf = NULL, e->w.outbuf = NULL;
		ent_free(e);
		return err;
	}
	if (from)
		from->hdr = NULL, from->buf = NULL, from->w.outbuf = NULL;
	e->next = u->ents;
	u->ents = e;
	u->queues[qid].threads++;
	return 0;
}

/*
 * The thread of e leaves (err: why it gave up, 0 when it was asked to stop or
 * retires). Its ring is closed first: the kernel cancels an entry still armed
 * on it, so no request is put where nobody waits. Then it is counted out and,
 * while the session runs, replaced (ring_leave), or the session is failed.
 */
static void ent_leave(struct uring_ent *e, int err)
{
	struct uring *u = e->u;
	struct session *se = u->se;
	struct uring_queue *q = &u->queues[e->qid];
	bool ended = err == -ENOTCONN || err == -ECONNABORTED || err == -ECANCELED ||
		     err == -ESHUTDOWN; /* the connection ended, or we were asked to stop */
	bool running, fail = false;
	unsigned failures;

	if (e->ring_ok) {
		io_uring_queue_exit(&e->ring);
		e->ring_ok = false;
	}
	if (ended)
		err = 0;
	if (err)
		vlog_once(VLOG_WARN, "io_uring: a thread of queue %u gave up: %s", (unsigned)e->qid,
			  strerror(-err));
	pthread_mutex_lock(&u->lock);
	assert(q->threads > 0);
	q->threads--;
	running = !ended && !atomic_load(&u->quit) && !atomic_load(&se->stopping);
	failures = atomic_load(&q->failures);
	switch (ring_leave(&failures, running, err != 0, atomic_load(&u->ready), q->threads)) {
	case RING_LEAVE_QUIET:
		break;
	case RING_LEAVE_REPLACE: {
		int serr = ent_start_locked(u, e->qid, e);

		if (serr) {
			vlog(VLOG_ERR, "io_uring: cannot replace a thread of queue %u: %s",
			     (unsigned)e->qid, strerror(-serr));
			/* A staged reply nobody commits, or a hole: callers would wait. */
			fail = e->op != FUSE_IO_URING_CMD_REGISTER ||
			       (atomic_load(&u->ready) && q->threads == 0);
		}
		break;
	}
	case RING_LEAVE_FAIL:
		vlog(VLOG_ERR, "io_uring: queue %u keeps failing; ending the session",
		     (unsigned)e->qid);
		fail = true;
		break;
	case RING_LEAVE_FALLBACK:
		vlog(VLOG_WARN,
		     "io_uring: queue %u keeps failing; the connection stays on /dev/fuse",
		     (unsigned)e->qid);
		break;
	}
	atomic_store(&q->failures, failures);
	atomic_store(&e->done, true);
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	if (fail)
		session_fail(se, -EIO); /* takes se->lock: not under u->lock */
}

static void ring_grow(struct uring *u, uint16_t qid)
{
	int err = 0;

	pthread_mutex_lock(&u->lock);
	if (!atomic_load(&u->quit) && !atomic_load(&u->se->stopping) &&
	    u->queues[qid].threads < u->max_per_queue)
		err = ent_start_locked(u, qid, NULL);
	pthread_mutex_unlock(&u->lock);
	if (err)
		vlog_once(VLOG_WARN, "io_uring: cannot start another ring thread: %s",
			  strerror(-err));
}

void uring_kick(struct uring *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	for (struct uring_ent *e = u->ents; e; e = e->next)
		if (!atomic_load(&e->done))
			pthread_kill(e->thread, SIGUSR1);
	pthread_mutex_unlock(&u->lock);
}

/* The threads not yet left. u->lock held. */
static unsigned running_locked(struct uring *u)
{
	unsigned n = 0;

	for (struct uring_ent *e = u->ents; e; e = e->next)
		if (!atomic_load(&e->done))
			n++;
	return n;
}

static void uring_free(struct uring *u)
{
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	free(u->queues);
	free(u);
}

int uring_stop(struct uring *u, const struct timespec *deadline)
{
	uint64_t requests = 0;
	unsigned threads = 0, busy;

	if (!u)
		return 0;
	atomic_store(&u->quit, true); /* no thread starts after this */
	pthread_mutex_lock(&u->lock);
	/* A kick can land just before a thread enters its wait: kick again each 20 ms. */
	while ((busy = running_locked(u)) > 0) {
		struct timespec now, next;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline->tv_sec ||
		    (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
			break;
		for (struct uring_ent *e = u->ents; e; e = e->next)
			if (!atomic_load(&e->done))
				pthread_kill(e->thread, SIGUSR1);
		next = now;
		next.tv_nsec += 20 * 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&u->cond, &u->lock, &next);
	}
	pthread_mutex_unlock(&u->lock);
	if (busy) {
		/* Still inside a backend call: they keep u; the process is about to exit. */
		vlog(VLOG_WARN,
		     "io_uring: %u ring thread%s still busy at the stop deadline; left "
		     "behind",
		     busy, busy == 1 ? "" : "s");
		return -ETIMEDOUT;
	}
	while (u->ents) {
		struct uring_ent *e = u->ents;

		u->ents = e->next;
		pthread_join(e->thread, NULL);
		requests += e->w.requests;
		threads++;
		ent_free(e);
	}
	vlog(VLOG_INFO, "io_uring: served %llu requests with %u ring threads",
	     (unsigned long long)requests, threads);
	uring_free(u);
	return 0;
}

int uring_start(struct session *se, struct uring **out)
{
	struct uring *u;
	unsigned started = 0;
	int err = 0;

	*out = NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->se = se;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	u->nqueues = possible_cpus();
	if (u->nqueues == 0 || u->nqueues > UINT16_MAX) {
		vlog(VLOG_WARN, "io_uring: cannot tell the number of CPUs; staying on /dev/fuse");
		uring_free(u);
		return -EINVAL;
	}
	u->queues = calloc(u->nqueues, sizeof(*u->queues));
	if (!u->queues) {
		uring_free(u);
		return -ENOMEM;
	}
	u->max_per_queue = se->opts.max_threads ? se->opts.max_threads : 1;
	/* The kernel wants room for its largest message: max_write, max_pages, 8 KiB. */
	u->payload = se->bufsize > se->max_data ? se->bufsize : se->max_data;
	if (u->payload < 32 * 4096)
		u->payload = 32 * 4096;
	pthread_mutex_lock(&u->lock);
	for (unsigned qid = 0; qid < u->nqueues; qid++) {
		err = ent_start_locked(u, (uint16_t)qid, NULL);
		if (err)
			break;
		started++;
	}
	pthread_mutex_unlock(&u->lock);
	if (err) {
		vlog(VLOG_WARN, "io_uring: cannot start a ring thread for queue %u of %u: %s",
		     started, u->nqueues, strerror(-err));
		/*
		 * The ones running stay: once their entries are registered the
		 * kernel may route their queues to them. A queue with no thread
		 * keeps the whole connection on /dev/fuse.
		 */
		if (!started) {
			uring_free(u);
			return err;
		}
	}
	vlog(VLOG_INFO,
	     "io_uring: %u queues, a ring thread each to start, up to %u each while all are busy",
	     u->nqueues, u->max_per_queue);
	*out = u;
	return 0;
}

#else /* !VFSMUX_HAVE_LIBURING */

bool uring_available(void)
{
	return false;
}

int uring_start(struct session *se, struct uring **out)
{
	(void)se;
	*out = NULL;
	return -EOPNOTSUPP;
}

int uring_stop(struct uring *u, const struct timespec *deadline)
{
	(void)u;
	(void)deadline;
	return 0;
}

void uring_kick(struct uring *u)
{
	(void)u;
}

int uring_stage_reply(struct uring_ent *ent, const struct iovec *iov, int n)
{
	(void)ent;
	(void)iov;
	(void)n;
	return -EOPNOTSUPP;
}

#endif
