# tests/faults/lib.sh - sourced by the tests/faults/t_*.sh scripts.
#
# Gives each test a work directory under /tmp, starts vfsmux daemons that
# say when they are ready (--ready-fd), and on exit - success, failure or
# signal - unmounts everything it mounted (lazily, so a dead or busy mount
# cannot block), stops the daemons it started (by pid) and removes the work
# directory without crossing into any mount left behind.
# Exit 77 (skipped) without root or /dev/fuse.

set -eu

: "${VFSMUX:?VFSMUX must name the vfsmux binary}"
[ -c /dev/fuse ] || { echo "no /dev/fuse: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root: skipped"; exit 77; }

WORK=$(mktemp -d /tmp/vfsmux-faults.XXXXXX)
FT_MNTS=""  # mountpoints to unmount on exit
FT_PIDS=""  # daemons (and helpers) to stop on exit
FT_N=0      # fifo counter

FT_T0=$(date +%s)
ft_log() { printf '%s [%ss]: %s\n' "$(basename "$0")" "$(($(date +%s) - FT_T0))" "$*"; }
fail() { ft_log "FAIL: $*"; exit 1; }

ft_cleanup() {
	rc=$?
	set +e
	for p in $FT_PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for m in $FT_MNTS; do
		umount -l "$m" 2>/dev/null
	done
	for p in $FT_PIDS; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for m in $FT_MNTS; do
		umount -l "$m" 2>/dev/null
	done
	if grep -q " $WORK" /proc/self/mounts; then
		ft_log "WARNING: something is still mounted under $WORK; leaving it"
	else
		rm -rf --one-file-system "$WORK"
	fi
	exit $rc
}
trap ft_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ft_start CFG MNT [extra vfsmux args...]: start a daemon, wait until it is
# ready; sets DPID. FT_PRELOAD=lib.so preloads a library into the daemon only. Fails the test with the daemon's message if it is not.
ft_start() {
	cfg=$1 mnt=$2
	shift 2
	FT_N=$((FT_N + 1))
	fifo=$WORK/ready.$FT_N
	mkfifo "$fifo"
	FT_MNTS="$FT_MNTS $mnt"
	# env execs vfsmux, so $! is the daemon's pid; FT_PRELOAD is for it alone.
	env ${FT_PRELOAD:+LD_PRELOAD="$FT_PRELOAD"} \
		"$VFSMUX" run -q -c "$cfg" --mountpoint "$mnt" --ready-fd 3 "$@" 3>"$fifo" \
		2>>"$WORK/daemon.log" &
	DPID=$!
	FT_PIDS="$FT_PIDS $DPID"
	status=$(cat "$fifo")
	rm -f "$fifo"
	[ "$status" = ok ] || fail "daemon did not start: $status ($(tail -3 "$WORK/daemon.log"))"
}

# ft_stop PID: SIGTERM and wait for a clean exit (status 0).
ft_stop() {
	kill -TERM "$1"
	st=0
	wait "$1" || st=$?
	FT_PIDS=$(echo "$FT_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
	[ "$st" = 0 ] || fail "daemon $1 exited with status $st"
}

# ft_wait WHAT CMD...: runs CMD every 0.1 s until it succeeds. Tests wait on
# such conditions, never for a fixed time; FT_WAIT seconds (FAULTS_WAIT, default
# 120) only bound a wait that a broken daemon would make endless, and reaching
# it fails the test with "WHAT: not so after N s".
FT_WAIT=${FAULTS_WAIT:-120}
ft_wait() {
	_what=$1
	shift
	_end=$(($(date +%s) + FT_WAIT))
	until "$@"; do
		[ "$(date +%s)" -lt "$_end" ] || fail "$_what: not so after $FT_WAIT s"
		sleep 0.1
	done
}

# The trim shim (trim_shim.c) for a daemon whose memory a test measures
# (FT_PRELOAD=$FT_SHIM ft_start ...); empty in sanitizer builds, whose
# quarantine keeps freed memory. About every 100 ms it publishes to
# $TRIM_SHIM_STATS the daemon's heap bytes in use, the highest figure so far
# and the sample's number. One shimmed daemon per test.
FT_SHIM=""
if [ -n "${FAULTS_TRIM_SHIM:-}" ] && [ -z "${FAULTS_SANITIZED:-}" ]; then
	FT_SHIM=$FAULTS_TRIM_SHIM
fi
TRIM_SHIM_STATS=$WORK/heap
export TRIM_SHIM_STATS
# ft_shim_read: FT_INUSE, FT_PEAK, FT_SEQ from the shim's last sample (0 before the first).
ft_shim_read() {
	FT_INUSE=0 FT_PEAK=0 FT_SEQ=0
	if [ -s "$TRIM_SHIM_STATS" ]; then read -r FT_INUSE FT_PEAK FT_SEQ <"$TRIM_SHIM_STATS"; fi
}
ft_shim_since() { ft_shim_read && [ "$FT_SEQ" -ge "$1" ]; }
# ft_heap: FT_INUSE (and FT_PEAK) from a sample measured after this call
# began: the one after next, as the next may have been measured before.
ft_heap() {
	ft_shim_read
	ft_wait "a fresh sample from the trim shim" ft_shim_since $((FT_SEQ + 2))
}
# ft_settle_heap [BOUND]: the kernel sends FORGETs in batches as it evicts and
# the daemon frees as they arrive, which on a busy machine outlasts any fixed
# pause. With BOUND: samples until the heap in use is at or below BOUND bytes
# (a leak never gets there: the test fails after FT_WAIT s). Without: until
# 10 fresh samples in a row bring no new low, for a reference figure (read too
# early it is only too high, which loosens later bounds, never fails them).
# FT_HEAP is the lowest figure seen.
ft_settle_heap() {
	ft_heap
	FT_HEAP=$FT_INUSE
	_still=0
	_end=$(($(date +%s) + FT_WAIT))
	while if [ $# -gt 0 ]; then [ "$FT_HEAP" -gt "$1" ]; else [ "$_still" -lt 10 ]; fi; do
		[ "$(date +%s)" -lt "$_end" ] || return 0
		ft_heap
		if [ "$FT_INUSE" -lt "$FT_HEAP" ]; then FT_HEAP=$FT_INUSE _still=0; else _still=$((_still + 1)); fi
	done
}

ft_alive() { kill -0 "$1" 2>/dev/null; }
ft_nfds() { ls "/proc/$1/fd" | wc -l; }
ft_fds_at_most() { [ "$(ft_nfds "$1")" -le "$2" ]; }
ft_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# Heap a passthrough mount may keep after drop_caches on purpose: up to 4,096
# forgotten inodes stay as hints with their host handle (no fd), so the kernel
# can still open them by a file handle of the mount (issue 15 item 13);
# ~260 bytes each measured, 400 allowed.
FT_HINT_HEAP=$((4096 * 400))
ft_drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
