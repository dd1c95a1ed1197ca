# shellcheck shell=bash
# tests/stress/mountlib.sh - sourced by tests/stress/run.sh and tests/integrity/run.sh.
#
# A private work dir ($ML_WORK: src/ for the passthrough source, mnt/ the
# mountpoint), one vfsmux daemon with a passthrough and a memfs mount, started
# with --ready-fd (no polling of the mountpoint), and a cleanup that always
# runs: the daemon is killed, the mount detached, the work dir removed. A
# watchdog does the same if the script hangs in a FUSE call (bash runs traps
# only between commands, and a call the daemon never answers never returns).
#
# Environment: VFSMUX (the built daemon; meson sets it), ML_TIMEOUT (watchdog
# seconds), ML_WAIT (seconds a wait for an event may take before it fails,
# default 120), ML_KEEP=1 keeps the work dir.

set -u
set -o pipefail

ML_NAME=${ML_NAME:-$(basename "$0" .sh)}
DPID=
ML_BG=() # background helpers of the script, killed at exit

ml_log() { printf '%s: %s\n' "$ML_NAME" "$*"; }

[ -n "${VFSMUX:-}" ] || { ml_log "VFSMUX is not set (meson sets it to the built vfsmux)"; exit 1; }
[ -x "$VFSMUX" ] || { ml_log "VFSMUX=$VFSMUX is not an executable"; exit 1; }
[ -c /dev/fuse ] || { ml_log "SKIP: /dev/fuse is missing"; exit 77; }
[ "$(id -u)" = 0 ] || { ml_log "SKIP: needs root (mounts FUSE, drops caches)"; exit 77; }

ML_WORK=$(mktemp -d "${TMPDIR:-/tmp}/vfsmux-$ML_NAME.XXXXXX") || exit 1
ML_MNT=$ML_WORK/mnt
ML_SRC=$ML_WORK/src
mkdir "$ML_MNT" "$ML_SRC"

# ml_wait CMD...: runs CMD every 0.05 s until it succeeds (0), or ML_WAIT s
# pass (1). Scripts wait on events, never for a fixed time; the bound only
# ends a wait that a broken daemon would make endless.
ML_WAIT=${ML_WAIT:-120}
ml_wait() {
	local end=$((EPOCHSECONDS + ML_WAIT))
	until "$@"; do
		((EPOCHSECONDS < end)) || return 1
		sleep 0.05
	done
}

ml_is_mounted() {
	awk -v d="$1" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo
}

ml_cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	[ -n "${ML_WATCHDOG:-}" ] && kill "$ML_WATCHDOG" 2>/dev/null
	for p in "${ML_BG[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "$DPID" ]; then
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	while ml_is_mounted "$ML_MNT"; do umount -l "$ML_MNT" 2>/dev/null || break; done
	if [ "${ML_KEEP:-0}" = 1 ]; then
		ml_log "work dir kept: $ML_WORK"
	else
		rm -rf --one-file-system "$ML_WORK"
	fi
	exit "$rc"
}
trap ml_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(
	trap - EXIT INT TERM
	sleep "${ML_TIMEOUT:-900}"
	echo "$ML_NAME: watchdog: ran over ${ML_TIMEOUT:-900}s; killing the daemon" >&2
	[ -f "$ML_WORK/daemon.pid" ] && kill -KILL "$(cat "$ML_WORK/daemon.pid")" 2>/dev/null
	umount -l "$ML_MNT" 2>/dev/null
	kill -TERM $$ 2>/dev/null
) </dev/null >/dev/null 2>&1 &
ML_WATCHDOG=$!

# ml_start [EXTRA_YAML_LINES]: write the config, start the daemon, wait for "ok".
ml_start() {
	local i
	cat >"$ML_WORK/vfsmux.yaml" <<-EOF
		mountpoint: $ML_MNT
		${1:-}
		mounts:
		  - {path: /pt, type: passthrough, source: $ML_SRC}
		  - {path: /mem, type: memfs, size: 1GiB}
	EOF
	: >"$ML_WORK/ready"
	"$VFSMUX" run -c "$ML_WORK/vfsmux.yaml" --ready-fd 3 3>"$ML_WORK/ready" \
		2>"$ML_WORK/daemon.log" </dev/null &
	DPID=$!
	echo "$DPID" >"$ML_WORK/daemon.pid"
	ml_wait ml_ready_or_gone
	if [ "$(head -n1 "$ML_WORK/ready")" != ok ]; then
		ml_log "daemon did not come up: $(cat "$ML_WORK/ready")"
		tail -n 20 "$ML_WORK/daemon.log"
		return 1
	fi
	ml_log "daemon $DPID mounted $ML_MNT (/pt: passthrough over $ML_SRC on $(df --output=fstype "$ML_SRC" | tail -n1), /mem: memfs)"
}

# The daemon said something on its ready fd, or has exited.
ml_ready_or_gone() { [ -s "$ML_WORK/ready" ] || ! kill -0 "$DPID" 2>/dev/null; }
ml_gone() { ! kill -0 "$DPID" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$DPID/stat" 2>/dev/null)" = Z ]; }

# ml_stop: SIGTERM, the daemon must unmount and exit 0 (within ML_WAIT s).
ml_stop() {
	local rc
	kill -TERM "$DPID"
	if ! ml_wait ml_gone; then
		ml_log "daemon did not exit $ML_WAIT s after SIGTERM"
		return 1
	fi
	wait "$DPID"
	rc=$?
	DPID=
	if ml_is_mounted "$ML_MNT"; then
		ml_log "daemon exited but $ML_MNT is still mounted"
		return 1
	fi
	if [ "$rc" != 0 ]; then
		ml_log "daemon exited with $rc"
		tail -n 20 "$ML_WORK/daemon.log"
		return 1
	fi
	return 0
}

# Open fds of the daemon other than its channels to the kernel; /dev/fuse
# channels (one per worker); io_uring rings (one per ring thread, fuse.io_uring).
ml_fds() {
	find "/proc/$DPID/fd" -mindepth 1 ! -lname /dev/fuse ! -lname 'anon_inode:\[io_uring\]' \
		2>/dev/null | wc -l
}
ml_fuse_fds() { find "/proc/$DPID/fd" -mindepth 1 -lname /dev/fuse 2>/dev/null | wc -l; }
ml_ring_fds() { find "/proc/$DPID/fd" -mindepth 1 -lname 'anon_inode:\[io_uring\]' 2>/dev/null | wc -l; }
ml_rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$DPID/status"; }
ml_hwm_kib() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$DPID/status"; }
ml_threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$DPID/status"; }

# Is the daemon built with AddressSanitizer (its RSS then says nothing)?
ml_asan() { ldd "$VFSMUX" 2>/dev/null | grep -q libasan || nm "$VFSMUX" 2>/dev/null | grep -q __asan_init; }

ml_drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
