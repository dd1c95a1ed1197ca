/*
 * tests/integration/dio_reread.c - do buffered readers see every direct write?
 *
 *   dio_reread MODE ROUNDS FILE
 *
 * MODE: how each round writes the whole file, bypassing the page cache:
 *   aio     O_RDWR|O_DIRECT, io_submit + io_getevents (Linux AIO)
 *   sync    O_RDWR|O_DIRECT, pwrite
 *   wronly  O_WRONLY (no O_DIRECT: memfs opens write-only files direct_io), pwrite
 *   wronly-aio  O_WRONLY|O_DIRECT, Linux AIO
 * Two forked readers read the whole file buffered, over and over, so pages
 * holding the previous round's bytes keep coming back into the page cache
 * while a write is in flight. After each write has completed, one more buffered
 * read (through an fd opened once, before the first round) must see only that
 * round's byte: what POSIX asks after a write returns, whatever path it took.
 * That is xfstests generic/451's check, made deterministic in length (ROUNDS,
 * not seconds).
 *
 * AIO through raw syscalls (no libaio). Exit: 0 all rounds good, 1 on stale
 * bytes (offset and values printed) or an unexpected error, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_SIZE (640 * 1024)
#define NREADERS  2

static int fail(const char *what)
{
	fprintf(stderr, "dio_reread: %s: %s\n", what, strerror(errno));
	return -1;
}

static aio_context_t aio_ctx; /* one for the run: io_destroy waits for a grace period */

static int write_aio(int fd, const void *buf, size_t len)
{
	struct iocb cb;
	struct iocb *cbs[1] = { &cb };
	struct io_event ev;

	if (!aio_ctx && syscall(SYS_io_setup, 1, &aio_ctx))
		return fail("io_setup");
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = (uint32_t)fd;
	cb.aio_lio_opcode = IOCB_CMD_PWRITE;
	cb.aio_buf = (uint64_t)(uintptr_t)buf;
	cb.aio_nbytes = len;
	cb.aio_offset = 0;
	if (syscall(SYS_io_submit, aio_ctx, 1, cbs) != 1)
		return fail("io_submit");
	if (syscall(SYS_io_getevents, aio_ctx, 1, 1, &ev, NULL) != 1)
		return fail("io_getevents");
	if (ev.res != (int64_t)len) {
		errno = ev.res < 0 ? (int)-ev.res : EIO;
		return fail("aio write");
	}
	return 0;
}

static int write_sync(int fd, const void *buf, size_t len)
{
	ssize_t n = pwrite(fd, buf, len, 0);

	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		return fail("pwrite");
	}
	return 0;
}

/* Read the whole file buffered until killed. */
static void reader(const char *path)
{
	static char buf[FILE_SIZE];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		_exit(1);
	for (;;)
		if (pread(fd, buf, sizeof(buf), 0) < 0)
			_exit(1);
}

int main(int argc, char **argv)
{
	static char check[FILE_SIZE];
	pid_t pids[NREADERS] = { 0 };
	int wflags, rfd = -1, wfd = -1, rc = 1;
	int (*do_write)(int, const void *, size_t);
	long rounds;
	void *buf;

	if (argc != 4 || (rounds = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: dio_reread aio|sync|wronly|wronly-aio ROUNDS FILE\n");
		return 2;
	}
	if (!strcmp(argv[1], "aio")) {
		wflags = O_RDWR | O_DIRECT;
		do_write = write_aio;
	} else if (!strcmp(argv[1], "sync")) {
		wflags = O_RDWR | O_DIRECT;
		do_write = write_sync;
	} else if (!strcmp(argv[1], "wronly")) {
		wflags = O_WRONLY;
		do_write = write_sync;
	} else if (!strcmp(argv[1], "wronly-aio")) {
		wflags = O_WRONLY | O_DIRECT;
		do_write = write_aio;
	} else {
		fprintf(stderr, "dio_reread: unknown mode %s\n", argv[1]);
		return 2;
	}
	if (posix_memalign(&buf, 4096, FILE_SIZE))
		return 1;
	/* The file exists at full size first: every write then overwrites, and
	 * the kernel does not turn an extending AIO write synchronous. */
	memset(buf, 0, FILE_SIZE);
	wfd = open(argv[3], O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (wfd < 0 || write_sync(wfd, buf, FILE_SIZE) || close(wfd)) {
		fail("create");
		return 1;
	}
	wfd = open(argv[3], wflags);
	rfd = open(argv[3], O_RDONLY);
	if (wfd < 0 || rfd < 0) {
		fail("open");
		goto out;
	}
	for (int i = 0; i < NREADERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			fail("fork");
			goto out;
		}
		if (pids[i] == 0)
			reader(argv[3]);
	}
	for (long r = 1; r <= rounds; r++) {
		unsigned char byte = (unsigned char)(r % 255 + 1);
		ssize_t n;

		memset(buf, byte, FILE_SIZE);
		if (do_write(wfd, buf, FILE_SIZE))
			goto out;
		n = pread(rfd, check, FILE_SIZE, 0);
		if (n != FILE_SIZE) {
			fail("buffered pread");
			goto out;
		}
		for (size_t i = 0; i < FILE_SIZE; i++) {
			if ((unsigned char)check[i] != byte) {
				fprintf(stderr,
					"dio_reread: %s round %ld: stale byte at offset %zu: "
					"read %#x, written %#x\n",
					argv[1], r, i, (unsigned char)check[i], byte);
				goto out;
			}
		}
	}
	rc = 0;
out:
	for (int i = 0; i < NREADERS; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
	if (rfd >= 0)
		close(rfd);
	if (wfd >= 0)
		close(wfd);
	if (aio_ctx)
		syscall(SYS_io_destroy, aio_ctx);
	free(buf);
	return rc;
}
