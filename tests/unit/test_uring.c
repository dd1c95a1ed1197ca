/*
 * tests/unit/test_uring.c - FUSE-over-io_uring entry buffers against the
 * bytes of a /dev/fuse read and writev (server/uring_msg.c): entries filled
 * here the way the kernel fills them (fs/fuse/dev_uring.c), no kernel needed.
 * And the ring threads' retry and replacement rules (server/uring_policy.c)
 * fed injected refusals and failures.
 */
#include "server/uring_msg.h"
#include "server/uring_policy.h"
#include "testlib.h"

#include <errno.h>
#include <string.h>

#define PAYLOAD 4096

/* An entry: its headers, and a payload with the headroom in front of it. */
struct ent {
	struct fuse_uring_req_header hdr;
	uint8_t buf[URING_MSG_HEADROOM + PAYLOAD];
};

static uint8_t *payload_of(struct ent *e)
{
	return e->buf + URING_MSG_HEADROOM;
}

/* What the kernel writes: header (len = all of it), op_in, payload. */
static void kernel_fill(struct ent *e, uint32_t opcode, uint64_t unique, const void *op,
			size_t oplen, const void *pl, size_t pllen)
{
	struct fuse_in_header ih;
	struct fuse_uring_ent_in_out io;

	memset(e, 0xa5, sizeof(*e)); /* whatever the previous request left */
	memset(&ih, 0, sizeof(ih));
	ih.len = (uint32_t)(sizeof(ih) + oplen + pllen);
	ih.opcode = opcode;
	ih.unique = unique;
	ih.nodeid = 1;
	memcpy(e->hdr.in_out, &ih, sizeof(ih));
	if (oplen) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(e->hdr.op_in, op, oplen);
	if (pllen)
		memcpy(payload_of(e), pl, pllen);
	memset(&io, 0, sizeof(io));
	io.commit_id = unique;
	io.payload_sz = (uint32_t)pllen;
	memcpy(&e->hdr.ring_ent_in_out, &io, sizeof(io));
}

/* Set the header's len or the payload size after kernel_fill, to break them. */
static void set_len(struct ent *e, uint32_t len)
{
	memcpy(e->hdr.in_out + offsetof(struct fuse_in_header, len), &len, sizeof(len));
}

static void set_payload_sz(struct ent *e, uint32_t sz)
{
	e->hdr.ring_ent_in_out.payload_sz = sz;
}

START_TEST(a_lookup_is_its_header_then_the_name)
{
	static struct ent e;
	uint8_t *req;
	size_t len;
	uint64_t id;
	struct fuse_in_header ih;

	/* LOOKUP's first argument is the name: the kernel sends op_in empty. */
	kernel_fill(&e, FUSE_LOOKUP, 77, NULL, 0, "file", 5);
	req = uring_msg_request(&e.hdr, payload_of(&e), PAYLOAD, &len, &id);
	ck_assert_ptr_eq(req, payload_of(&e) - sizeof(ih));
	ck_assert_uint_eq(len, sizeof(ih) + 5);
	ck_assert_uint_eq(id, 77);
	memcpy(&ih, req, sizeof(ih));
	ck_assert_uint_eq(ih.opcode, FUSE_LOOKUP);
	ck_assert_uint_eq(ih.unique, 77);
	ck_assert_uint_eq(ih.len, len);
	ck_assert_str_eq((const char *)req + sizeof(ih), "file");
}
END_TEST

START_TEST(a_write_keeps_its_data_in_place_behind_the_per_op_struct)
{
	static struct ent e;
	struct fuse_write_in wi;
	uint8_t data[3000], *req;
	size_t len;
	uint64_t id;

	memset(&wi, 0, sizeof(wi));
	wi.fh = 9;
	wi.offset = 4096;
	wi.size = sizeof(data);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	kernel_fill(&e, FUSE_WRITE, 5, &wi, sizeof(wi), data, sizeof(data));
	req = uring_msg_request(&e.hdr, payload_of(&e), PAYLOAD, &len, &id);
	ck_assert_ptr_nonnull(req);
	ck_assert_uint_eq(len, sizeof(struct fuse_in_header) + sizeof(wi) + sizeof(data));
	ck_assert_ptr_eq(req + sizeof(struct fuse_in_header) + sizeof(wi), payload_of(&e));
	ck_assert_mem_eq(req + sizeof(struct fuse_in_header), &wi, sizeof(wi));
	ck_assert_mem_eq(req + sizeof(struct fuse_in_header) + sizeof(wi), data, sizeof(data));
}
END_TEST

START_TEST(the_largest_per_op_area_fits_the_headroom)
{
	static struct ent e;
	uint8_t op[FUSE_URING_OP_IN_OUT_SZ], *req;
	size_t len;
	uint64_t id;

	memset(op, 0x3c, sizeof(op));
	kernel_fill(&e, FUSE_SETATTR, 8, op, sizeof(op), "x", 1);
	req = uring_msg_request(&e.hdr, payload_of(&e), PAYLOAD, &len, &id);
	ck_assert_ptr_nonnull(req);
	ck_assert(req >= e.buf);
	ck_assert_mem_eq(req + sizeof(struct fuse_in_header), op, sizeof(op));
	ck_assert_uint_eq(req[len - 1], 'x');
}
END_TEST

START_TEST(sizes_that_do_not_add_up_are_refused)
{
	static struct ent e;
	struct fuse_write_in wi;
	uint8_t data[100];
	size_t len;
	uint64_t id;

	memset(&wi, 0, sizeof(wi));
	memset(data, 1, sizeof(data));
	/* len shorter than the header */
	kernel_fill(&e, FUSE_WRITE, 11, &wi, sizeof(wi), data, sizeof(data));
	set_len(&e, 8);
	ck_assert_ptr_null(uring_msg_request(&e.hdr, payload_of(&e), PAYLOAD, &len, &id));
	ck_assert_uint_eq(id, 11); /* still answerable */
	/* a payload larger than the entry's */
	kernel_fill(&e, FUSE_WRITE, 12, &wi, sizeof(wi), data, sizeof(data));
	set_payload_sz(&e, PAYLOAD + 1);
	ck_assert_ptr_null(uring_msg_request(&e.hdr, payload_of(&e), PAYLOAD, &len, &id));
	/* a payload larger than len says */
	kernel_fill(&e, FUSE_WRITE, 13, &wi, sizeof(wi), data, sizeof(data));
	set_len(&e, (uint32_t)(sizeof(struct fuse_in_header) + 10));
	ck_assert_ptr_null(uring_msg_request(&e.hdr, payload_of(&e), PAYLOAD, &len, &id));
	/* a per-op struct larger than op_in */
	kernel_fill(&e, FUSE_WRITE, 14, &wi, sizeof(wi), data, sizeof(data));
	set_len(&e, (uint32_t)(sizeof(struct fuse_in_header) + FUSE_URING_OP_IN_OUT_SZ + 1 +
			       sizeof(data)));
	ck_assert_ptr_null(uring_msg_request(&e.hdr, payload_of(&e), PAYLOAD, &len, &id));
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(a_reply_goes_header_to_in_out_and_arguments_to_the_payload)
{
	static struct ent e;
	struct fuse_out_header oh = { .len = 16 + 8 + 5, .error = 0, .unique = 42 };
	struct fuse_out_header got;
	uint64_t first = 0x1122334455667788ULL;
	char hello[] = "hello";
	struct iovec iov[3] = { { &oh, sizeof(oh) }, { &first, sizeof(first) }, { hello, 5 } };

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(uring_msg_reply(&e.hdr, payload_of(&e), PAYLOAD, iov, 3), 0);
	memcpy(&got, e.hdr.in_out, sizeof(got));
	ck_assert_uint_eq(got.unique, 42);
	ck_assert_int_eq(got.error, 0);
	ck_assert_uint_eq(e.hdr.ring_ent_in_out.payload_sz, 13);
	ck_assert_mem_eq(payload_of(&e), &first, sizeof(first));
	ck_assert_mem_eq(payload_of(&e) + 8, "hello", 5);
}
END_TEST

START_TEST(an_error_reply_has_no_payload)
{
	static struct ent e;
	struct fuse_out_header oh = { .len = 16, .error = -ENOENT, .unique = 3 };
	struct fuse_out_header got;
	struct iovec iov = { &oh, sizeof(oh) };

	memset(&e, 0xff, sizeof(e));
	ck_assert_int_eq(uring_msg_reply(&e.hdr, payload_of(&e), PAYLOAD, &iov, 1), 0);
	memcpy(&got, e.hdr.in_out, sizeof(got));
	ck_assert_int_eq(got.error, -ENOENT);
	ck_assert_uint_eq(e.hdr.ring_ent_in_out.payload_sz, 0);
}
END_TEST

START_TEST(a_reply_that_does_not_fit_is_refused_and_leaves_the_entry)
{
	static struct ent e;
	static uint8_t big[PAYLOAD];
	struct fuse_out_header oh = { .len = 16, .error = 0, .unique = 4 };
	struct iovec iov[3] = { { &oh, sizeof(oh) }, { big, sizeof(big) }, { big, 1 } };

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(uring_msg_reply(&e.hdr, payload_of(&e), PAYLOAD, iov, 3), -EMSGSIZE);
	ck_assert_uint_eq(e.hdr.ring_ent_in_out.payload_sz, 0);
	/* exactly the payload's size is fine */
	ck_assert_int_eq(uring_msg_reply(&e.hdr, payload_of(&e), PAYLOAD, iov, 2), 0);
	ck_assert_uint_eq(e.hdr.ring_ent_in_out.payload_sz, PAYLOAD);
	/* iov[0] must be the header */
	ck_assert_int_eq(uring_msg_reply(&e.hdr, payload_of(&e), PAYLOAD, iov + 1, 2), -EINVAL);
	ck_assert_int_eq(uring_msg_reply(&e.hdr, payload_of(&e), PAYLOAD, iov, 0), -EINVAL);
}
END_TEST

START_TEST(a_reply_quoting_the_request_payload_survives_the_copy)
{
	static struct ent e;
	struct fuse_out_header oh = { .len = 16 + 20, .error = 0, .unique = 5 };
	struct iovec iov[2] = { { &oh, sizeof(oh) }, { NULL, 20 } };
	uint8_t want[20];

	memset(&e, 0, sizeof(e));
	for (int i = 0; i < 64; i++)
		payload_of(&e)[i] = (uint8_t)i;
	iov[1].iov_base = payload_of(&e) + 10; /* overlaps where it goes */
	memcpy(want, payload_of(&e) + 10, sizeof(want));
	ck_assert_int_eq(uring_msg_reply(&e.hdr, payload_of(&e), PAYLOAD, iov, 2), 0);
	ck_assert_mem_eq(payload_of(&e), want, sizeof(want));
}
END_TEST

/*
 * A long-lived ring thread is refused now and then (a commit the kernel no
 * longer knows, a register before INIT): each run of refusals ends with a
 * request served. Far more refusals in all than RING_RETRIES must never make
 * it give up, or its CPU's queue would lose a thread for a passing cause.
 */
START_TEST(refusals_between_served_requests_never_exhaust_the_retries)
{
	struct ring_retry r = { 0 };
	bool pause;

	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < RING_RETRIES; i++) {
			ck_assert_int_eq(ring_step(&r, false, -ENOENT, &pause), RING_REGISTER);
			ck_assert(!pause);
			ck_assert_int_eq(ring_step(&r, true, -EAGAIN, &pause), RING_REGISTER);
			ck_assert(pause);
			i++;
		}
		ck_assert_int_eq(ring_step(&r, true, 0, &pause), RING_SERVE);
	}
	ck_assert_uint_eq(r.again, 0);
}
END_TEST

/* Refusals in a row do end: the thread gives up after RING_RETRIES of them. */
START_TEST(refusals_in_a_row_end_in_giving_up)
{
	struct ring_retry r = { 0 };
	bool pause;

	for (int i = 0; i < RING_RETRIES; i++)
		ck_assert_int_eq(ring_step(&r, false, -EIO, &pause), RING_REGISTER);
	ck_assert_int_eq(ring_step(&r, false, -EIO, &pause), RING_GIVE_UP);
	/* Other errors are not retried: EAGAIN of a commit, anything else. */
	r.again = 0;
	ck_assert_int_eq(ring_step(&r, false, -EAGAIN, &pause), RING_GIVE_UP);
	ck_assert_int_eq(ring_step(&r, true, -EINVAL, &pause), RING_GIVE_UP);
	ck_assert_int_eq(ring_step(&r, true, -ENOTCONN, &pause), RING_GIVE_UP);
}
END_TEST

/*
 * A thread that leaves while the session runs is replaced: always when it
 * retires on purpose, up to RING_RESTARTS failures in a row otherwise. Past
 * that its queue is a hole unless others serve it: the session fails when
 * the kernel already sends requests by ring, and stays on /dev/fuse when it
 * never switched. A stopping session replaces nothing.
 */
START_TEST(a_leaving_thread_is_replaced_or_the_session_fails)
{
	unsigned failures = 0;

	ck_assert_int_eq(ring_leave(&failures, false, true, true, 0), RING_LEAVE_QUIET);
	ck_assert_uint_eq(failures, 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(ring_leave(&failures, true, false, true, 0), RING_LEAVE_REPLACE);
	ck_assert_uint_eq(failures, 0);
	for (int i = 0; i < RING_RESTARTS; i++)
		ck_assert_int_eq(ring_leave(&failures, true, true, true, 0), RING_LEAVE_REPLACE);
	ck_assert_int_eq(ring_leave(&failures, true, true, true, 0), RING_LEAVE_FAIL);
	ck_assert_int_eq(ring_leave(&failures, true, true, false, 0), RING_LEAVE_FALLBACK);
	ck_assert_int_eq(ring_leave(&failures, true, true, true, 2), RING_LEAVE_QUIET);
	/* A request served on the queue resets the count (uring.c): replaced again. */
	failures = 0;
	ck_assert_int_eq(ring_leave(&failures, true, true, true, 0), RING_LEAVE_REPLACE);
}
END_TEST

static Suite *uring_suite(void)
{
	Suite *s = suite_create("uring");
	TCase *tc = tcase_create("msg");
	TCase *tp = tcase_create("policy");

	tcase_add_test(tc, a_lookup_is_its_header_then_the_name);
	tcase_add_test(tc, a_write_keeps_its_data_in_place_behind_the_per_op_struct);
	tcase_add_test(tc, the_largest_per_op_area_fits_the_headroom);
	tcase_add_test(tc, sizes_that_do_not_add_up_are_refused);
	tcase_add_test(tc, a_reply_goes_header_to_in_out_and_arguments_to_the_payload);
	tcase_add_test(tc, an_error_reply_has_no_payload);
	tcase_add_test(tc, a_reply_that_does_not_fit_is_refused_and_leaves_the_entry);
	tcase_add_test(tc, a_reply_quoting_the_request_payload_survives_the_copy);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, refusals_between_served_requests_never_exhaust_the_retries);
	tcase_add_test(tp, refusals_in_a_row_end_in_giving_up);
	tcase_add_test(tp, a_leaving_thread_is_replaced_or_the_session_fails);
	suite_add_tcase(s, tp);
	return s;
}

int main(void)
{
	return testlib_run(uring_suite());
}
