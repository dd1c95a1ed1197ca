#!/bin/bash
# tests/stress/run.sh [SECONDS] - stress every writable backend of one daemon.
#
# Starts vfsmux with a passthrough mount (over a temp dir on the host's /tmp,
# ext4 here) and a memfs mount, then for each: runs vfsmux-stress for SECONDS
# (default 20) with STRESS_WORKERS processes (default 4), which checks every
# answer against its workers' mirrors and, after drop_caches, every file
# against what its writer recorded; then deletes the tree, drops the caches
# (the kernel FORGETs every inode) and checks the daemon:
#   - fds other than /dev/fuse channels back to exactly the count before the
#     run (passthrough's O_PATH fd cache holds fds only for inodes the kernel
#     still references, so after the FORGETs it is empty again: no slack);
#   - /dev/fuse channels at most max_threads + 1 (one cloned channel per
#     worker thread; surplus workers exit only after serving a request, so a
#     burst may leave up to max_threads of them: bounded, not a leak); with
#     fuse.io_uring (STRESS_FUSE), io_uring rings at most max_threads per CPU;
#   - RSS at most its value after mount + STRESS_RSS_SLACK_MIB (default 20).
# Finally SIGTERM: the daemon must unmount and exit 0.
#
# While it runs, a forget storm drops the dentry/inode and page caches every
# STRESS_DROP_EVERY seconds (default 2; 0 = never), so FORGETs race with requests
# and reads go back to the daemon.
#
# Environment: VFSMUX, VFSMUX_STRESS (meson sets both), STRESS_WORKERS,
# STRESS_SEED, STRESS_RSS_SLACK_MIB, STRESS_ARGS (more vfsmux-stress options),
# STRESS_DROP_EVERY, STRESS_MOUNTS (default "pt mem"), STRESS_FUSE (more fuse: keys,
# e.g. "io_uring: true"), ML_KEEP=1 (keep the work dir).

SECS=${1:-20}
# meson sets MALLOC_PERTURB_: glibc then writes over every freed chunk, which
# keeps freed memory resident and makes the daemon's RSS say nothing.
unset MALLOC_PERTURB_
ML_NAME=stress
ML_TIMEOUT=$((SECS * 2 + 600))
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mountlib.sh
. "$HERE/mountlib.sh"

[ -x "${VFSMUX_STRESS:-}" ] || { ml_log "VFSMUX_STRESS is not set to the built vfsmux-stress"; exit 1; }
WORKERS=${STRESS_WORKERS:-4}
SLACK_MIB=${STRESS_RSS_SLACK_MIB:-20}
MAX_THREADS=16
FAILED=()

fail() {
	ml_log "FAIL: $*"
	FAILED+=("$1")
}

ml_start "fuse: {max_threads: $MAX_THREADS${STRESS_FUSE:+, $STRESS_FUSE}}" || exit 1
ls "$ML_MNT/pt" "$ML_MNT/mem" >/dev/null
FD0=$(ml_fds)
RSS0=$(ml_rss_kib)
ml_log "daemon at start: $FD0 fds + $(ml_fuse_fds) /dev/fuse channels, RSS $((RSS0 / 1024)) MiB ($RSS0 KiB), $(ml_threads) threads"

for m in ${STRESS_MOUNTS:-pt mem}; do
	run=$((${run:-0} + 1))
	dir=$ML_MNT/$m/stress
	seed_opt=()
	[ -n "${STRESS_SEED:-}" ] && seed_opt=(-s "$STRESS_SEED")
	ml_log "=== $m: $SECS s, $WORKERS workers"
	mkdir -p "$ML_WORK/manifest-$run"
	# Forget storm: the kernel drops every unused dentry and inode (FORGETs
	# while requests are in flight) and the page cache, every STRESS_DROP_EVERY s.
	storm=
	if [ "${STRESS_DROP_EVERY:-2}" != 0 ]; then
		(
			trap - EXIT INT TERM
			while sleep "${STRESS_DROP_EVERY:-2}"; do ml_drop_caches; done
		) </dev/null >/dev/null 2>&1 &
		storm=$!
		ML_BG+=("$storm")
	fi
	if ! "$VFSMUX_STRESS" -d "$dir" -t "$SECS" -p "$WORKERS" -m "$ML_WORK/manifest-$run" \
		-D "${seed_opt[@]}" ${STRESS_ARGS:-} 2>&1 | sed "s/^/  /"; then
		fail "$m: stress run or its consistency check"
	fi
	if [ -n "$storm" ]; then
		kill "$storm"
		wait "$storm" 2>/dev/null
	fi
	PEAK_FDS=$(ml_fds)
	if ! rm -rf "$dir"; then
		fail "$m: rm -rf of the stress tree"
	fi
	if [ "$m" = pt ] && [ -n "$(ls -A "$ML_SRC")" ]; then
		fail "$m: source dir not empty after rm -rf: $(ls -A "$ML_SRC" | head -5)"
	fi
	# FORGETs reach the daemon asynchronously: wait until its fds are back (a
	# leak never gets there; the check below then fails).
	fds_back() { ml_drop_caches && [ "$(ml_fds)" -le "$FD0" ]; }
	ml_wait fds_back
	# A few idle requests let surplus workers retire (each checks after a request).
	for ((i = 0; i < 40; i++)); do stat "$ML_MNT/$m" >/dev/null; done
	ml_drop_caches
	FD1=$(ml_fds)
	FUSE1=$(ml_fuse_fds)
	RING1=$(ml_ring_fds)
	RSS1=$(ml_rss_kib)
	ml_log "$m after delete + drop_caches: fds $FD1 (start $FD0, before delete $PEAK_FDS), /dev/fuse channels $FUSE1 (bound $((MAX_THREADS + 1))), rings $RING1, RSS $((RSS1 / 1024)) MiB ($RSS1 KiB; start $RSS0 KiB, peak $(($(ml_hwm_kib) / 1024)) MiB), $(ml_threads) threads"
	if [ "$FD1" -ne "$FD0" ]; then
		fail "$m: daemon fds $FD1 != $FD0 at start (leak)"
		ls -l "/proc/$DPID/fd" | grep -v /dev/fuse | tail -n 20
	fi
	[ "$FUSE1" -le $((MAX_THREADS + 1)) ] || fail "$m: $FUSE1 /dev/fuse channels > max_threads + 1"
	# fuse.io_uring: ring threads grow per CPU queue up to max_threads and stay.
	[ "$RING1" -le $((MAX_THREADS * $(nproc --all))) ] ||
		fail "$m: $RING1 io_uring rings > max_threads per CPU"
	if ml_asan; then
		ml_log "$m: RSS check skipped: the daemon is built with AddressSanitizer (quarantine keeps freed memory)"
	elif [ "$RSS1" -gt $((RSS0 + SLACK_MIB * 1024)) ]; then
		fail "$m: daemon RSS $RSS1 KiB > start $RSS0 KiB + $SLACK_MIB MiB"
	fi
done

ml_stop || fail "daemon stop"
if grep -qiE "AddressSanitizer|runtime error|LeakSanitizer" "$ML_WORK/daemon.log"; then
	fail "sanitizer report in the daemon log"
	grep -iE -A20 "AddressSanitizer|runtime error|LeakSanitizer" "$ML_WORK/daemon.log" | head -60
fi
if [ ${#FAILED[@]} -gt 0 ]; then
	ml_log "FAILED: ${FAILED[*]}"
	ml_log "daemon log (last 30 lines):"
	tail -n 30 "$ML_WORK/daemon.log"
	exit 1
fi
ml_log "OK: ${STRESS_MOUNTS:-pt mem}, $SECS s each"
