/*
 * tests/stress/stress_main.c - vfsmux-stress: fork workers, run, check.
 *
 *   vfsmux-stress -d DIR [-t SECONDS] [-p WORKERS] [-s SEED] [-m MANIFEST_DIR] [-D]
 *
 * DIR (created; must not exist) is normally inside a vfsmux mount. Exit 0 when
 * every worker's answers matched its mirror and every check passed, 1 on the
 * first wrong answer or failed check (details on stderr), 2 on bad usage.
 */
#include "stress.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
/* A worker still alive this long after the deadline is stuck in the mount. */
#define HANG_SECONDS 60

static const char usage[] =
    "Usage: vfsmux-stress -d DIR [-t SECONDS] [-p WORKERS] [-s SEED] [-m MANIFEST_DIR] [-D] [-I]\n"
    "  -d DIR           work here (created; must not exist), normally inside the mount\n"
    "  -t SECONDS       run time of the random phase (default 10)\n"
    "  -p WORKERS       processes (default 4, at most 64)\n"
    "  -s SEED          base seed (default: from the clock; printed)\n"
    "  -m MANIFEST_DIR  where workers write their manifests (default: a new dir in /tmp)\n"
    "  -D               drop the page cache before the final check (needs root)\n"
    "  -I               tolerate a live file's st_ino changing (exploration only: by\n"
    "                   default st_ino must stay the same for a file's whole life)\n";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void worker_main(int idx, const char *dir, const char *mdir, uint64_t seed,
				  double deadline, struct stress_stats *st)
{
	char who[32], root[PATH_MAX], shared[PATH_MAX], manifest[PATH_MAX];
	struct stress_worker *w;
	struct stress_shared *s;
	struct srng pick = { seed ^ 0x5bd1e995ULL };

	snprintf(who, sizeof(who), "worker %d", idx);
	stress_log_init(who);
	snprintf(root, sizeof(root), "%s/p%d", dir, idx);
	snprintf(shared, sizeof(shared), "%s/shared", dir);
	snprintf(manifest, sizeof(manifest), "%s/p%d.manifest", mdir, idx);
	w = stress_own_create(idx, root, seed, st);
	s = stress_shared_create(idx, shared, seed * 31 + 7, st);
	while (now() < deadline) {
		if (srng_below(&pick, 4) == 0)
			stress_shared_step(s);
		else
			stress_own_step(w);
	}
	stress_shared_finish(s);
	stress_own_finish(w, manifest);
	exit(0);
}

static int drop_caches(void)
{
	FILE *f;

	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (!f || fputs("3\n", f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "vfsmux-stress: cannot drop caches: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *mdir = NULL;
	uint64_t secs = 10, nworkers = 4, seed = 0, nrec = 0, total = 0;
	bool have_seed = false, drop = false;
	char mtmp[] = "/tmp/vfsmux-stress.XXXXXX", path[PATH_MAX];
	pid_t pids[MAX_WORKERS];
	bool failed[MAX_WORKERS] = { false };
	struct stress_stats *st, sum = { 0 };
	unsigned problems = 0, nfailed = 0, alive;
	double t0, deadline, t1, t2;
	int opt;

	while ((opt = getopt(argc, argv, "d:t:p:s:m:DIh")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 't':
			if (!parse_u64(optarg, &secs) || secs > 86400)
				goto bad;
			break;
		case 'p':
			if (!parse_u64(optarg, &nworkers) || !nworkers || nworkers > MAX_WORKERS)
				goto bad;
			break;
		case 's':
			if (!parse_u64(optarg, &seed))
				goto bad;
			have_seed = true;
			break;
		case 'm':
			mdir = optarg;
			break;
		case 'D':
			drop = true;
			break;
		case 'I':
			stress_ino_may_change = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (!dir || optind != argc)
		goto bad;
	if (!have_seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (!mdir) {
		mdir = mkdtemp(mtmp);
		if (!mdir) {
			perror("vfsmux-stress: mkdtemp");
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/shared", dir);
	if (mkdir(dir, 0755) < 0 || mkdir(path, 0755) < 0) {
		fprintf(stderr, "vfsmux-stress: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	st = mmap(NULL, sizeof(*st) * nworkers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		  -1, 0);
	if (st == MAP_FAILED) {
		perror("vfsmux-stress: mmap");
		return 1;
	}
	printf("vfsmux-stress: %s, %" PRIu64 " workers, %" PRIu64 " s, seed %" PRIu64
	       ", manifests in %s\n",
	       dir, nworkers, secs, seed, mdir);
	fflush(stdout);

	t0 = now();
	deadline = t0 + (double)secs;
	for (unsigned i = 0; i < nworkers; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("vfsmux-stress: fork");
			for (unsigned k = 0; k < i; k++)
				kill(pids[k], SIGKILL);
			return 1;
		}
		if (pids[i] == 0)
			worker_main((int)i, dir, mdir, seed + i * 0x9E3779B97F4A7C15ULL, deadline,
				    &st[i]);
	}
	/* Poll, so that a worker stuck in the mount is noticed and reported. */
	alive = (unsigned)nworkers;
	while (alive) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);

		if (p < 0) {
			perror("vfsmux-stress: waitpid");
			return 1;
		}
		if (p == 0) {
			if (now() > deadline + HANG_SECONDS) {
				fprintf(stderr,
					"vfsmux-stress: %u worker(s) still running %d s after the "
					"deadline: the mount hangs; killing them\n",
					alive, HANG_SECONDS);
				for (unsigned i = 0; i < nworkers; i++)
					if (pids[i] > 0)
						kill(pids[i], SIGKILL);
				deadline = now() + 1e9; /* report once */
				problems++;
			}
			usleep(100 * 1000);
			continue;
		}
		for (unsigned i = 0; i < nworkers; i++) {
			if (pids[i] != p)
				continue;
			pids[i] = -1;
			alive--;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				failed[i] = true;
				nfailed++;
				if (WIFSIGNALED(status))
					fprintf(stderr,
						"vfsmux-stress: worker %u killed by signal %d\n", i,
						WTERMSIG(status));
			}
		}
	}
	t1 = now();

	if (drop && drop_caches() < 0)
		problems++;
	for (unsigned i = 0; i < nworkers; i++) {
		char root[PATH_MAX], manifest[PATH_MAX];

		if (failed[i])
			continue;
		snprintf(root, sizeof(root), "%s/p%u", dir, i);
		snprintf(manifest, sizeof(manifest), "%s/p%u.manifest", mdir, i);
		problems += stress_check_manifest(root, manifest);
	}
	problems += stress_check_shared(path, &nrec);
	t2 = now();

	for (unsigned i = 0; i < nworkers; i++) {
		for (int k = 0; k < SOP_NR; k++)
			sum.ops[k] += st[i].ops[k];
		sum.lost_races += st[i].lost_races;
		sum.bytes_written += st[i].bytes_written;
		sum.bytes_read_checked += st[i].bytes_read_checked;
	}
	for (int k = 0; k < SOP_NR; k++)
		total += sum.ops[k];
	printf("ops:");
	for (int k = 0; k < SOP_NR; k++)
		printf(" %s=%" PRIu64, stress_op_names[k], sum.ops[k]);
	printf("\n");
	printf("vfsmux-stress: %" PRIu64 " ops in %.1f s (%.0f/s), %.1f MiB written, %.1f MiB "
	       "read and compared, %" PRIu64 " expected race outcomes, %" PRIu64
	       " shared records checked; final check %.1f s%s\n",
	       total, t1 - t0, (double)total / (t1 - t0), (double)sum.bytes_written / 1048576.0,
	       (double)sum.bytes_read_checked / 1048576.0, sum.lost_races, nrec, t2 - t1,
	       drop ? " (after drop_caches)" : "");
	if (nfailed || problems) {
		printf(
		    "vfsmux-stress: FAILED: %u worker(s) failed, %u check problem(s); seed %" PRIu64
		    "\n",
		    nfailed, problems, seed);
		return 1;
	}
	printf("vfsmux-stress: OK (seed %" PRIu64 ")\n", seed);
	return 0;
bad:
	fputs(usage, stderr);
	return 2;
}
