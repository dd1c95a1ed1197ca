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
 */
#include "server/uring.h"

#include "server/fuse_kernel.h"
#include "server/log.h"
#include "server/session_int.h"
#include "server/uring_msg.h"

#include <errno.h>

#ifdef VFSMUX_HAVE_LIBURING

#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	atomic_bool done;
	struct uring_ent *next; /* u->ents; u->lock */
	struct io_uring ring;
	bool ring_ok;
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
	unsigned threads; /* started; u->lock */
};

struct uring {
	struct session *se;
	atomic_bool quit; /* uring_stop(): the threads finish even if the session goes on */
	unsigned nqueues;
	unsigned max_per_queue;
	size_t payload; /* each entry's payload buffer */
	pthread_mutex_t lock;
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

static void *ent_main(void *arg)
{
	struct uring_ent *e = arg;
	struct uring_queue *q = &e->u->queues[e->qid];
	uint32_t op = FUSE_IO_URING_CMD_REGISTER;
	uint64_t commit_id = 0;
	int err, res, again = 0;
	bool idle = false;

	pin_to_cpu(e->qid);
	err = ring_setup(e);
	if (err) {
		vlog_once(VLOG_WARN, "io_uring: cannot set up a ring: %s", strerror(-err));
		goto out;
	}
	for (;;) {
		err = queue_cmd(e, op, commit_id);
		if (!err) {
			if (!idle) {
				atomic_fetch_add(&q->idle, 1);
				idle = true;
			}
			err = ring_wait(e, &res);
		}
		if (err)
			break;
		if (res == -EAGAIN && op == FUSE_IO_URING_CMD_REGISTER && again++ < 100) {
			/* INIT not yet processed by the kernel: cannot last. */
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
			continue;
		}
		if ((res == -ENOENT || res == -EIO) && op == FUSE_IO_URING_CMD_COMMIT_AND_FETCH &&
		    again++ < 100) {
			/*
			 * The kernel no longer knew the request (it ended without
			 * us) or the entry: our reply is void, and the entry was
			 * not armed again. Register it anew rather than leave this
			 * CPU's queue a thread short.
			 */
			vlog_once(VLOG_WARN,
				  "io_uring: a reply was refused (%s); entry registered again",
				  strerror(-res));
			op = FUSE_IO_URING_CMD_REGISTER;
			continue;
		}
		if (res < 0) {
			err = res;
			break;
		}
		/* Busy now; the queue's last idle thread asks for another. */
		idle = false;
		if (atomic_fetch_sub(&q->idle, 1) == 1)
			ring_grow(e->u, e->qid);
		e->w.requests++;
		e->dirty = true;
		commit_id = serve(e);
		op = FUSE_IO_URING_CMD_COMMIT_AND_FETCH;
	}
	if (err == -ENOTCONN || err == -ECONNABORTED || err == -ECANCELED || err == -ESHUTDOWN)
		err = 0; /* the connection ended or we were asked to stop */
	if (err)
		vlog_once(VLOG_WARN, "io_uring: queue %u stopped: %s", (unsigned)e->qid,
			  strerror(-err));
out:
	if (idle)
		atomic_fetch_sub(&q->idle, 1);
	atomic_store(&e->done, true);
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

/* Start one more ring thread for queue qid. u->lock held. */
static int ent_start_locked(struct uring *u, uint16_t qid)
{
	struct session *se = u->se;
	struct uring_ent *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->u = u;
	e->qid = qid;
	e->payload_size = u->payload;
	e->hdr = calloc(1, sizeof(*e->hdr));
	e->buf = map_buf(URING_MSG_HEADROOM + u->payload);
	e->w.outbuf = map_buf(se->max_data);
	if (!e->hdr || !e->buf || !e->w.outbuf) {
		ent_free(e);
		return -ENOMEM;
	}
	e->payload = e->buf + URING_MSG_HEADROOM;
	e->iov[0] = (struct iovec){ .iov_base = e->hdr, .iov_len = sizeof(*e->hdr) };
	e->iov[1] = (struct iovec){ .iov_base = e->payload, .iov_len = u->payload };
	e->w.se = se;
	e->w.fd = se->fd; /* notifications still go by /dev/fuse */
	e->w.ring = e;
	err = -pthread_create(&e->thread, NULL, ent_main, e);
	if (err) {
		ent_free(e);
		return err;
	}
	e->next = u->ents;
	u->ents = e;
	u->queues[qid].threads++;
	return 0;
}

static void ring_grow(struct uring *u, uint16_t qid)
{
	int err = 0;

	pthread_mutex_lock(&u->lock);
	if (!atomic_load(&u->quit) && !atomic_load(&u->se->stopping) &&
	    u->queues[qid].threads < u->max_per_queue)
		err = ent_start_locked(u, qid);
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

static bool all_done(struct uring *u)
{
	bool all = true;

	pthread_mutex_lock(&u->lock);
	for (struct uring_ent *e = u->ents; e; e = e->next)
		if (!atomic_load(&e->done))
			all = false;
	pthread_mutex_unlock(&u->lock);
	return all;
}

void uring_stop(struct uring *u)
{
	uint64_t requests = 0;
	unsigned threads = 0;

	if (!u)
		return;
	atomic_store(&u->quit, true); /* no thread starts after this */
	/* A kick can land just before a thread enters its wait: repeat until all are out. */
	while (!all_done(u)) {
		uring_kick(u);
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000000 }, NULL);
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
	pthread_mutex_destroy(&u->lock);
	free(u->queues);
	free(u);
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
	u->nqueues = possible_cpus();
	if (u->nqueues == 0 || u->nqueues > UINT16_MAX) {
		vlog(VLOG_WARN, "io_uring: cannot tell the number of CPUs; staying on /dev/fuse");
		uring_stop(u);
		return -EINVAL;
	}
	u->queues = calloc(u->nqueues, sizeof(*u->queues));
	if (!u->queues) {
		uring_stop(u);
		return -ENOMEM;
	}
	u->max_per_queue = se->opts.max_threads ? se->opts.max_threads : 1;
	/* The kernel wants room for its largest message: max_write, max_pages, 8 KiB. */
	u->payload = se->bufsize > se->max_data ? se->bufsize : se->max_data;
	if (u->payload < 32 * 4096)
		u->payload = 32 * 4096;
	pthread_mutex_lock(&u->lock);
	for (unsigned qid = 0; qid < u->nqueues; qid++) {
		err = ent_start_locked(u, (uint16_t)qid);
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
			uring_stop(u);
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

void uring_stop(struct uring *u)
{
	(void)u;
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
