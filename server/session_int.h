/*
 * server/session_int.h - what session.c (threads, life) and dispatch.c
 * (decoding, replies) share. Private to server/.
 */
#ifndef VFSMUX_SESSION_INT_H
#define VFSMUX_SESSION_INT_H

#include "server/session.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vfs;
struct backing_table;
struct uring;
struct uring_ent;

/* One worker: its own cloned /dev/fuse fd and buffers, so no worker waits on another. */
struct worker {
	struct session *se;
	pthread_t thread;
	int fd;		   /* cloned channel; replies must go back on the fd a request came from */
	bool own_fd;	   /* fd was cloned for this worker and is closed with it */
	uint8_t *inbuf;	   /* se->bufsize bytes */
	uint8_t *outbuf;   /* se->max_data bytes: READ, READDIR, xattr, readlink payloads */
	uint64_t requests; /* read by this worker; added to se->requests when it retires */
	struct uring_ent *ring; /* ring threads (server/uring.c): replies are staged there */
	/*
	 * Set while serving a request when this thread must serve no other
	 * (e.g. credentials it could not restore). Its loop checks it after the
	 * reply and leaves; the pool counts it out and starts a replacement (a
	 * ring thread hands its entry to a successor, which commits the reply).
	 */
	bool retire;
	struct worker *next; /* se->workers list; se->lock */
};

struct session {
	struct vfs *vfs;
	int fd; /* the mounted fd; -1 in tests */
	struct session_opts opts;
	session_writev_fn writer; /* tests: capture replies instead of writing to fd */
	void *writer_data;

	size_t bufsize;	 /* read buffer: max_write plus headers */
	size_t max_data; /* largest payload a reply carries */

	/* Set once by INIT (under init_lock), read by every request afterwards. */
	pthread_mutex_t init_lock;
	atomic_bool initialized;
	uint32_t proto_minor; /* negotiated minor */
	uint64_t conn_flags;  /* INIT flags both sides agreed on */
	/* Backing ids of passthrough opens (FUSE_PASSTHROUGH negotiated); own lock. */
	struct backing_table *backing;
	/* FUSE over io_uring, when INIT agreed on it: set once after INIT; se->lock. */
	struct uring *uring;

	/* Worker pool. nworkers/idle change under lock; idle is also read unlocked as a hint. */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled when a worker exits */
	struct worker *workers;
	struct worker *dead; /* exited, waiting for session_run() to join them */
	uint32_t nworkers;
	atomic_uint idle;
	atomic_uint retire; /* workers asked to exit after their next request */
	/* For the exit log line (and the test that no worker churn comes back). */
	uint64_t requests;    /* requests read by retired workers; se->lock */
	uint32_t started;     /* workers ever started; se->lock */
	uint32_t peak;	      /* most workers alive at once; se->lock */
	atomic_bool stopping; /* session_stop() called or the connection ended */
	int exit_err;	      /* first fatal error of a worker, 0 if none; se->lock */
	/* session_run() returned with threads still busy: se and the vfs stay in use. */
	bool abandoned;
};

/* dispatch.c: decode, route and answer one request read by w. */
void dispatch_request(struct worker *w, const uint8_t *buf, size_t len);

/* Called by dispatch once INIT was answered (ready-fd). */
void session_init_done(struct session *se);

/* A thread found the session cannot go on: record err (the first one wins) and stop. */
void session_fail(struct session *se, int err);

#endif
