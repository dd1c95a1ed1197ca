# shellcheck shell=bash disable=SC2034
# tests/integration/lib.sh - sourced by every t_*.sh; not run on its own.
#
# Gives a test: a private work dir ($WORK, with $MNT as the default mountpoint),
# daemon start/stop that waits for --ready-fd instead of polling, cleanup that
# always runs (unmount, kill, remove), named checks that keep going after a
# failure, and a closing summary. STYLE.md idiom 13.
#
# Environment: VFSMUX (path of the built binary; meson sets it),
# VFSMUX_IT_TIMEOUT (seconds before the watchdog ends a stuck test, default 500),
# VFSMUX_IT_WAIT (seconds a wait for an event may take before it fails the
# test, default 120; see wait_for),
# VFSMUX_IT_KEEP=1 keeps the work dir for a look after a failure.

set -u
set -o pipefail

IT_NAME=$(basename "$0" .sh)
IT_PASS=0
IT_FAIL=0
IT_FAILED=()
IT_PIDS=()   # daemons we started; killed at exit
DPID=        # pid of the daemon started last

it_log() { printf '%s: %s\n' "$IT_NAME" "$*"; }

skip() {
	it_log "SKIP: $*"
	exit 77
}

die() {
	it_log "FATAL: $*"
	[ -s "${WORK:-/nonexistent}/daemon.log" ] && { echo "--- daemon log (last 40 lines)"; tail -n 40 "$WORK/daemon.log"; }
	exit 1
}

[ -n "${VFSMUX:-}" ] || { echo "VFSMUX is not set (meson sets it to the built vfsmux)"; exit 1; }
[ -x "$VFSMUX" ] || { echo "VFSMUX=$VFSMUX is not an executable"; exit 1; }
[ -c /dev/fuse ] || skip "/dev/fuse is missing"
[ "$(id -u)" = 0 ] || skip "needs root (mounts FUSE, checks ownership as other users)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vfsmux-$IT_NAME.XXXXXX") || exit 1
MNT=$WORK/mnt
mkdir "$MNT"
: >"$WORK/daemon.log"
: >"$WORK/mounts"  # every mountpoint a daemon was asked to use, one a line

# Is DIR a mountpoint right now? (field 5 of mountinfo; our paths need no unescaping)
is_mounted() {
	awk -v d="$1" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# Is PID a child of this test script? bash reaps exited children by itself, so a
# pid we started may since name another process: signal only our own children.
our_child() {
	[ "$(awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null)" = "$$" ]
}

# PID is our child and has not exited.
alive() {
	our_child "$1" && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

it_cleanup() {
	local rc=$? p m
	trap - EXIT INT TERM
	[ -n "${IT_WATCHDOG:-}" ] && our_child "$IT_WATCHDOG" && kill "$IT_WATCHDOG" 2>/dev/null
	for p in "${IT_PIDS[@]}"; do
		our_child "$p" && kill -KILL "$p" 2>/dev/null
	done
	while read -r m; do
		while is_mounted "$m"; do umount -l "$m" 2>/dev/null || break; done
	done <"$WORK/mounts"
	for p in "${IT_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "${VFSMUX_IT_KEEP:-0}" = 1 ]; then
		it_log "work dir kept: $WORK"
	else
		# --one-file-system: never recurse into a mount we failed to detach
		rm -rf --one-file-system "$WORK"
	fi
	exit "$rc"
}
trap it_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A FUSE request the daemon never answers blocks the caller, and bash runs traps
# only between commands, so a stuck test would never reach it_cleanup. The
# watchdog kills every daemon and detaches every mount; the blocked syscall
# then fails (ENOTCONN) and the script ends through its EXIT trap.
(
	trap - EXIT INT TERM
	sleep "${VFSMUX_IT_TIMEOUT:-500}"
	echo "$IT_NAME: watchdog: test ran over ${VFSMUX_IT_TIMEOUT:-500}s; killing daemons" >&2
	while read -r p; do
		our_child "$p" && kill -KILL "$p"
	done <"$WORK/pids"
	while read -r m; do umount -l "$m" 2>/dev/null; done <"$WORK/mounts"
	kill -TERM $$ 2>/dev/null
) </dev/null >/dev/null 2>&1 &
IT_WATCHDOG=$!

# ---------------------------------------------------------------- waiting
# Tests wait on events, never for a fixed time: a condition is polled until it
# holds. IT_WAIT only bounds a wait that a broken daemon would make endless; a
# loaded machine is slow, never that slow.
IT_WAIT=${VFSMUX_IT_WAIT:-120}

# wait_for CMD...: runs CMD every 0.05 s until it succeeds (0), or IT_WAIT s pass (1).
wait_for() {
	local end=$((EPOCHSECONDS + IT_WAIT))
	until "$@" >/dev/null 2>&1; do
		((EPOCHSECONDS < end)) || return 1
		sleep 0.05
	done
}

# not CMD...: CMD fails (for wait_for and eventually).
not() { ! "$@"; }

# eventually NAME CMD...: a check that CMD comes to succeed (polled, see wait_for).
eventually() {
	local name=$1
	shift
	if wait_for "$@"; then
		it_pass "$name"
	else
		it_fail "$name" "'$*' still fails after $IT_WAIT s"
	fi
}

# wait_clock_past PATH: waits until a timestamp taken now on $WORK's filesystem
# (PATH must be on it) is later than PATH's mtime and ctime, so a change made
# next gets a different time whatever the clock's granularity.
ns_times() { stat -c '%.9Y %.9Z' "$@" | tr -d . | tr ' ' '\n' | sort -n | tail -n 1; }
clock_past() { touch "$WORK/.clock-probe" && (($(ns_times "$WORK/.clock-probe") > $(ns_times "$1"))); }
wait_clock_past() { wait_for clock_past "$1"; }

# ---------------------------------------------------------------- checks

it_pass() {
	IT_PASS=$((IT_PASS + 1))
	echo "ok - $1"
}

it_fail() {
	IT_FAIL=$((IT_FAIL + 1))
	IT_FAILED+=("$1")
	echo "not ok - $1${2:+: $2}"
}

# ok NAME CMD...: CMD succeeds.
ok() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		it_pass "$name"
	else
		it_fail "$name" "'$*' failed (exit $?): $(printf '%s' "$out" | tail -n 5)"
	fi
}

# fails NAME TEXT CMD...: CMD fails and its output contains TEXT ("" = any failure).
fails() {
	local name=$1 text=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = 0 ]; then
		it_fail "$name" "'$*' succeeded, expected a failure${text:+ with \"$text\"}"
	elif [ -n "$text" ] && [[ $out != *"$text"* ]]; then
		it_fail "$name" "'$*' failed (exit $rc) without \"$text\": $(printf '%s' "$out" | tail -n 5)"
	else
		it_pass "$name"
	fi
}

# eq NAME EXPECTED ACTUAL
eq() {
	if [ "$2" = "$3" ]; then
		it_pass "$1"
	else
		it_fail "$1" "expected [$2], got [$3]"
	fi
}

# contains NAME HAYSTACK NEEDLE
contains() {
	if [[ $2 == *"$3"* ]]; then
		it_pass "$1"
	else
		it_fail "$1" "[$3] not found in [$(printf '%s' "$2" | head -c 600)]"
	fi
}

# same_tree NAME A B: two trees with the same names, types, file sizes and contents.
same_tree() {
	local name=$1 a=$2 b=$3 d
	if d=$(diff <(cd "$a" && find . -printf '%y %s %P\n' | LC_ALL=C sort) \
		<(cd "$b" && find . -printf '%y %s %P\n' | LC_ALL=C sort) 2>&1) &&
		d=$(diff <(cd "$a" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) \
			<(cd "$b" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) 2>&1); then
		it_pass "$name"
	else
		it_fail "$name" "trees differ: $(printf '%s' "$d" | head -n 10)"
	fi
}

# Ends the test: one line per failed check, then the counts; exit 1 on any failure.
summary() {
	local f
	for f in "${IT_FAILED[@]}"; do
		echo "FAILED: $f"
	done
	echo "$IT_NAME: $IT_PASS passed, $IT_FAIL failed"
	if [ "$IT_FAIL" -ne 0 ]; then
		[ -s "$WORK/daemon.log" ] && { echo "--- daemon log (last 40 lines)"; tail -n 40 "$WORK/daemon.log"; }
		exit 1
	fi
	exit 0
}

# ---------------------------------------------------------------- daemon

# write_config FILE <<EOF ... EOF: a config from stdin.
write_config() {
	cat >"$1"
}

# start_daemon CFG [--mountpoint DIR] [ARGS...]: run the daemon in the background,
# wait (IT_WAIT s at most) for "ok" on its --ready-fd; DPID is its pid. Returns 1 with
# the daemon's answer in READY_STATUS when it did not become ready.
# Set DAEMON_WRAP (e.g. "prlimit --nofile=4096:4096") to run it under a wrapper
# that execs it (so the pid stays the daemon's).
READY_STATUS=
start_daemon() {
	local cfg=$1 mp fifo
	shift
	local args=("$@")
	mp=$(mount_arg "$@")
	[[ " $* " == *" --mountpoint "* ]] || args=(--mountpoint "$mp" "${args[@]}")
	echo "$mp" >>"$WORK/mounts"
	fifo=$(mktemp -u "$WORK/ready.XXXXXX")
	mkfifo "$fifo" || die "mkfifo $fifo"
	echo "=== $(date +%T) vfsmux run -c $cfg ${args[*]}" >>"$WORK/daemon.log"
	# shellcheck disable=SC2086
	${DAEMON_WRAP:-} "$VFSMUX" run -c "$cfg" --ready-fd 3 "${args[@]}" \
		3>"$fifo" </dev/null >>"$WORK/daemon.log" 2>&1 &
	DPID=$!
	IT_PIDS+=("$DPID")
	echo "$DPID" >>"$WORK/pids"
	READY_STATUS=
	# The child opened the write end before exec, so this open does not block;
	# read gets EOF if the daemon dies without a word, and gives up after IT_WAIT s.
	read -r -t "$IT_WAIT" READY_STATUS <"$fifo"
	rm -f "$fifo"
	[ "$READY_STATUS" = ok ]
}

# mount_or_die CFG [ARGS...]: start_daemon, or end the test with the daemon's log.
mount_or_die() {
	start_daemon "$@" || die "daemon did not become ready: '${READY_STATUS:-no answer in $IT_WAIT s}'"
	is_mounted "$(mount_arg "$@")" || die "daemon said ok but nothing is mounted"
}

# The --mountpoint in ARGS, else $MNT.
mount_arg() {
	local mp=$MNT
	while [ $# -gt 0 ]; do
		[ "$1" = --mountpoint ] && mp=$2
		shift
	done
	echo "$mp"
}

# stop_daemon [PID] [SIGNAL]: signal it (TERM), wait until it exits (IT_WAIT s
# at most); DAEMON_RC is its exit code, "timeout" when it did not exit.
DAEMON_RC=
stop_daemon() {
	local pid=${1:-$DPID} sig=${2:-TERM}
	our_child "$pid" && kill -s "$sig" "$pid" 2>/dev/null
	# a zombie is not alive: the wait below reaps it
	if ! wait_for not alive "$pid"; then
		DAEMON_RC=timeout
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		it_forget_pid "$pid"
		return 1
	fi
	wait "$pid" 2>/dev/null
	DAEMON_RC=$?
	it_forget_pid "$pid"
	return 0
}

# PID has been reaped: never signal it again (its number may be reused).
it_forget_pid() {
	local p keep=()
	for p in "${IT_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	IT_PIDS=("${keep[@]}")
	printf '%s\n' "${IT_PIDS[@]}" >"$WORK/pids"
}

# ---------------------------------------------------------------- held requests
# A backend call that waits until the test lets it go, not for a time: the
# source of a passthrough mount lies on a second vfsmux (the holder, a memfs at
# $WORK/held) that the test stops with SIGSTOP. A request of the daemon under
# test that reaches that source then waits in its worker or ring thread until
# SIGCONT.

# hold_setup: start the holder; HOLD_SRC is the source to serve, HOLD_PID its pid.
hold_setup() {
	mkdir -p "$WORK/held"
	write_config "$WORK/holder.yaml" <<-EOF
		mounts:
		  - {path: /m, type: memfs}
	EOF
	mount_or_die "$WORK/holder.yaml" --mountpoint "$WORK/held"
	HOLD_PID=$DPID
	HOLD_SRC=$WORK/held/m
}

# Every thread of PID is stopped (SIGSTOP is delivered to each thread as it
# next runs: until then one may still answer a request).
all_stopped() {
	local t
	for t in /proc/"$1"/task/*/stat; do
		[ "$(awk '{ print $3 }' "$t" 2>/dev/null)" = T ] || return 1
	done
}

# STATFS(17) requests from each of PIDS in the daemon's -v trace after line FROM.
statfs_seen() { # FROM PIDS...
	local from=$1 p
	shift
	for p in "$@"; do
		tail -n "+$from" "$WORK/daemon.log" | grep -Eq " STATFS\(17\) .* pid $p\$" || return 1
	done
}

# check_held_requests NAME [PREFIX...]: a blocked backend call holds its thread
# only. The running daemon ($DPID, with -v) serves /slow, a passthrough of
# HOLD_SRC, and /mem, a memfs; its timeouts are long enough that /slow stays
# looked up. Three STATFS of /slow are held in the daemon (more than the two
# threads it starts with); until they are let go a file is created and read in
# /mem. PREFIX (e.g. taskset -c 0) runs each caller.
check_held_requests() {
	local n=$1 p pids=() still=0 maker from rc
	shift
	stat -f "$MNT/slow" >/dev/null || it_fail "$n: /slow answers before the hold"
	from=$(($(wc -l <"$WORK/daemon.log") + 1))
	kill -STOP "$HOLD_PID"
	wait_for all_stopped "$HOLD_PID" || it_fail "$n: the holder stops" "not every thread of $HOLD_PID stopped"
	for _ in 1 2 3; do
		"$@" stat -f "$MNT/slow" >/dev/null 2>&1 &
		pids+=($!)
	done
	eventually "$n: the three STATFS reached the daemon (its -v trace)" statfs_seen "$from" "${pids[@]}"
	"$@" sh -c "echo fresh >'$MNT/mem/fresh' && cat '$MNT/mem/fresh'" >"$WORK/fresh.out" 2>&1 &
	maker=$!
	if wait_for not alive "$maker"; then
		it_pass "$n: while three STATFS are held in the daemon, a file is created and read"
		for p in "${pids[@]}"; do alive "$p" && still=$((still + 1)); done
		eq "$n: ... and the three are still held" 3 "$still"
	else
		for p in "${pids[@]}"; do alive "$p" && still=$((still + 1)); done
		if ((still == 3)); then
			it_fail "$n: while three STATFS are held in the daemon, a file is created and read" \
				"the maker still runs after $IT_WAIT s"
		else
			# Known and unexplained (issue note of 2026-12-04): under load,
			# the stopped holder sometimes answers some of the STATFS, and
			# then the maker's shell stalls until the holder is let go,
			# although the daemon answered every request it was sent. The
			# scenario was not set up: say so, do not count it either way.
			echo "# $n: only $still of 3 STATFS stayed held and the maker stalled;" \
				"scenario not set up (known, see docs/testing.md)"
		fi
	fi
	kill -CONT "$HOLD_PID"
	wait "$maker"
	eq "$n: the file reads back" fresh "$(cat "$WORK/fresh.out")"
	rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=$?; done
	eq "$n: let go, the three STATFS succeed" 0 "$rc"
}

# names [ls options] DIR: the names ls lists, on one line, space-separated.
names() {
	ls "$@" | paste -sd' ' -
}

# Number of open fds of a process.
fd_count() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# check_term_with_open_file MOUNTPOINT FILE TEXT: with FILE (one line, TEXT) open
# on the running daemon's mount, SIGTERM takes the mount out of the namespace at
# once, the open file still reads, and the daemon exits 0 once it is closed.
check_term_with_open_file() {
	local mp=$1 f=$2 want=$3 n="SIGTERM with a file open"
	exec 7<"$f"
	our_child "$DPID" && kill -TERM "$DPID"
	# "at once": before the file is closed (a daemon that waited for the close
	# would never get there; the wait is bounded by IT_WAIT only)
	eventually "$n: mount detached at once" not is_mounted "$mp"
	eq "$n: the open file still reads" "$want" "$(cat <&7 2>&1)"
	exec 7<&-
	stop_daemon "$DPID" 0 # no second signal: closing the last file ends it
	eq "$n: exits 0 after the close" 0 "$DAEMON_RC"
}

# check_kill_suidgid NAME DIR: setuid/setgid are dropped on a write, an O_TRUNC
# open, a truncate and a chown, as a local filesystem drops them (the daemon
# does it, told by the kernel's KILLPRIV_V2 flags); setgid without group execute
# stays for a member of the file's group (it marks mandatory locking, not "run
# as group") and goes for anyone else; root's write keeps
# both. DIR must let uid 1000 in (allow_other); the mode is read through the
# mount, so a stale mode in the kernel's attribute cache fails too.

check_kill_suidgid() {
	local n=$1 d=$2 f=$2/kill-suidgid u=(setpriv --reuid=1000 --regid=1000 --clear-groups)
	mode_of() { stat -c %a "$f" 2>&1; }
	fresh() { rm -f "$f" && echo data >"$f" && chmod "$1" "$f"; }
	fresh 6777
	ok "$n: uid 1000 appends to a 6777 file" "${u[@]}" sh -c "echo more >>'$f'"
	eq "$n: a write by uid 1000 drops setuid and setgid (group exec)" 777 "$(mode_of)"
	fresh 6777
	ok "$n: uid 1000 writes it opened read-write" "${u[@]}" sh -c "echo more 1<>'$f'"
	eq "$n: a read-write write by uid 1000 drops them too" 777 "$(mode_of)"
	fresh 6767
	chgrp 1000 "$f"
	ok "$n: uid 1000 appends to a 6767 file of its group" "${u[@]}" sh -c "echo more >>'$f'"
	eq "$n: setgid without group exec survives a group member's write" 2767 "$(mode_of)"
	fresh 6767
	ok "$n: uid 1000 appends to a 6767 file of group 0" "${u[@]}" sh -c "echo more >>'$f'"
	eq "$n: setgid without group exec goes for a write from outside the group" 767 "$(mode_of)"
	fresh 6777
	echo more >>"$f"
	eq "$n: a write by root keeps both" 6777 "$(mode_of)"
	fresh 6777
	ok "$n: uid 1000 opens it O_TRUNC" "${u[@]}" sh -c ": >'$f'"
	eq "$n: an O_TRUNC open by uid 1000 drops them" 777 "$(mode_of)"
	fresh 6777
	ok "$n: uid 1000 truncates it" "${u[@]}" truncate -s 2 "$f"
	eq "$n: a truncate by uid 1000 drops them" 777 "$(mode_of)"
	fresh 6777
	chown 1000 "$f"
	eq "$n: a chown drops them" 777 "$(mode_of)"
	rm -f "$f"
}

# ref_tmpfs: a tmpfs at $WORK/ref (mounted once; the cleanup unmounts it), the
# local filesystem that memfs follows and that the checks below compare with.
ref_tmpfs() {
	local r=$WORK/ref
	if ! is_mounted "$r"; then
		mkdir -p "$r" && echo "$r" >>"$WORK/mounts" && mount -t tmpfs -o mode=755 vfsmux-ref "$r" ||
			die "cannot mount the reference tmpfs"
	fi
	echo "$r"
}

# check_drop_privs NAME DIR: a write, a truncate and a fallocate by uid 1000
# (group 1000, supplementary group 1001, no capabilities) leave the same mode as
# on tmpfs, for files of group 0 (uid 1000 outside it), 1000 and 1001 (inside),
# with setuid and setgid, with and without group execute (fs/attr.c
# setattr_should_drop_suidgid: setgid without group execute goes only for a
# caller outside the file's group). DIR must let uid 1000 in.
check_drop_privs() {
	local n=$1 d=$2 ref out=() dir g m op f
	ref=$(ref_tmpfs)/drop-privs
	mkdir -p "$ref" && chmod 777 "$ref"
	for dir in "$ref" "$d"; do
		f=$dir/drop-privs
		out+=("$(for g in 0 1000 1001; do for m in 6666 6676 2666 2676 4666; do
			for op in write truncate fallocate; do
				rm -f "$f" && echo data >"$f" && chgrp $g "$f" && chmod $m "$f"
				case $op in
				write) setpriv --reuid=1000 --regid=1000 --groups=1001 sh -c "echo x >>'$f'" ;;
				truncate) setpriv --reuid=1000 --regid=1000 --groups=1001 truncate -s 2 "$f" ;;
				fallocate) setpriv --reuid=1000 --regid=1000 --groups=1001 fallocate -l 8192 "$f" ;;
				esac
				echo "group $g, $m, $op: $(stat -c %a "$f" 2>&1)"
			done
		done; done)")
		rm -f "$f"
	done
	if [ "${out[0]}" = "${out[1]}" ]; then
		it_pass "$n: write, truncate, fallocate by another user drop setuid/setgid as tmpfs does"
	else
		it_fail "$n: write, truncate, fallocate by another user drop setuid/setgid as tmpfs does" \
			"$(diff <(echo "${out[0]}") <(echo "${out[1]}") | grep '^[<>]' | head -n 8 | tr '\n' ' ')"
	fi
}

# check_posix_acl NAME DIR: POSIX ACLs through the mount behave as on tmpfs:
# default ACLs are inherited by mkdir, create and mknod in place of the umask,
# the umask applies without one, chmod rewrites the access ACL, setting an ACL
# changes the mode at once, setting one as a user outside the file's group
# drops setgid (as chmod would), getfacl/setfacl round-trip, and the kernel
# enforces a named-user entry. DIR must let uid 1000 in; the mount needs
# default_permissions (the kernel checks ACLs only then).
check_posix_acl() {
	local n=$1 d=$2 ref dir r out=() u=(setpriv --reuid=1000 --regid=1000 --clear-groups)
	ref=$(ref_tmpfs)/posix-acl
	mkdir -p "$ref" && chmod 777 "$ref"
	for dir in "$ref" "$d"; do
		r=$dir/acl
		rm -rf "$r" && mkdir "$r" && chmod 755 "$r"
		out+=("$(
			cd "$r" || exit 1
			mkdir dg du plain
			setfacl -d -m g::rwx dg
			setfacl -d -m u:1000:rwx,g::r-x,m::rwx du
			for p in dg du plain; do
				(umask 022 && mkdir $p/dir && touch $p/file && mkfifo $p/fifo && mkdir $p/dir/sub &&
					ln -s file $p/link)
				(umask 077 && mkdir $p/dir077 && touch $p/file077)
			done
			touch chm && setfacl -m u:1000:rw,g::r chm && chmod 604 chm && getfacl -p chm
			touch equiv && chmod 600 equiv && setfacl -m g::r equiv
			echo "equiv's mode at once: $(stat -c %a equiv)"
			echo "equiv keeps no ACL: $(getfattr -n system.posix_acl_access equiv 2>&1 | grep -c '^system')"
			touch sg-out sg-in && chown 1000:0 sg-out && chown 1000:1000 sg-in && chmod 2770 sg-out sg-in
			"${u[@]}" setfacl -m u:1000:rwx,g::rx sg-out
			"${u[@]}" setfacl -m u:1000:rwx,g::rx sg-in
			echo secret >private && chmod 600 private && setfacl -m u:1000:r private
			echo "uid 1000 reads via its entry: $("${u[@]}" cat private 2>&1)"
			echo "uid 1001 does not: $(setpriv --reuid=1001 --regid=1001 --clear-groups cat private 2>&1 | grep -c denied)"
			getfacl -p private | setfacl --set-file=- chm 2>&1
			setfacl -b equiv
			find . -printf '%M %u:%g %p\n' | LC_ALL=C sort
			find . | LC_ALL=C sort | while read -r f; do getfacl -p "$f" 2>&1; done
		)")
	done
	[ -n "${VFSMUX_IT_SHOW:-}" ] && printf '%s\n' "${out[0]}"
	if [ "${out[0]}" = "${out[1]}" ]; then
		it_pass "$n: POSIX ACLs (default ACLs, umask, chmod, setgid, getfacl) as on tmpfs"
	else
		it_fail "$n: POSIX ACLs (default ACLs, umask, chmod, setgid, getfacl) as on tmpfs" \
			"$(diff <(echo "${out[0]}") <(echo "${out[1]}") | grep '^[<>]' | head -n 40 | tr '\n' ' ')"
	fi
	rm -rf "$ref/acl" "$d/acl"
}

# check_write_drops_fcaps NAME DIR: a write removes the file's capabilities
# (security.capability), as on a local filesystem: whoever writes, opened
# write-only or read-write; other xattrs stay. Needs root.
check_write_drops_fcaps() {
	local n=$1 f=$2/fcaps how redir
	# VFS_CAP_REVISION_2 with the effective bit, cap_net_raw permitted
	local cap=0x0100000200200000000000000000000000000000
	capof() { getfattr --absolute-names -e hex -n security.capability "$f" 2>&1 | sed -n 's/^security.capability=//p'; }
	for how in write-only read-write; do
		[ $how = write-only ] && redir='>>' || redir='1<>'
		rm -f "$f" && echo data >"$f"
		setfattr -n security.capability -v $cap "$f" && setfattr -n user.keep -v k "$f"
		eq "$n: the file has capabilities" $cap "$(capof)"
		ok "$n: root writes it opened $how" sh -c "echo more $redir'$f'"
		fails "$n: a $how write drops them" "No such attribute" \
			getfattr --absolute-names -n security.capability "$f"
		eq "$n: other xattrs stay ($how)" k "$(getfattr --absolute-names --only-values -n user.keep "$f" 2>&1)"
	done
	rm -f "$f"
}

# check_term_with_hung_call NAME DIR [CALLER...]: DIR is on the running daemon's
# mount, and its backend's statfs hangs (faults: {rate: 0, delay_ms: 3600000,
# ops: [statfs]}: an hour, a hung network source). Once a caller's STATFS is
# inside the daemon (the caller waits in the kernel for the answer), SIGTERM
# must still end the daemon within its grace time (10 s, docs/vfsmux.1.md):
# the stuck thread is left behind, the daemon exits 1 saying so, and the
# caller gets an error instead of waiting for ever. Waits on events only: the
# caller's wait channel, then the daemon's exit (failure only past IT_WAIT s).
# CALLER is a prefix for stat (e.g. taskset -c 0).
check_term_with_hung_call() {
	local n=$1 d=$2 caller t0 t1 pid=$DPID
	shift 2
	"$@" stat -f "$d" >/dev/null 2>&1 &
	caller=$!
	if ! wait_for grep -q request_wait_answer "/proc/$caller/wchan"; then
		it_fail "$n: a STATFS is held in the daemon" "the caller waits in $(cat "/proc/$caller/wchan" 2>&1)"
		return
	fi
	it_pass "$n: a STATFS is held in the daemon"
	t0=$(date +%s%N)
	our_child "$pid" && kill -TERM "$pid"
	wait_for not alive "$pid"
	t1=$(date +%s%N)
	if alive "$pid"; then
		it_fail "$n: SIGTERM ends the daemon within its grace time" "still running after $IT_WAIT s"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		DAEMON_RC=timeout
	else
		wait "$pid" 2>/dev/null
		DAEMON_RC=$?
		it_pass "$n: SIGTERM ends the daemon within its grace time ($(((t1 - t0) / 1000000)) ms)"
	fi
	it_forget_pid "$pid"
	eq "$n: exit 1, the stuck thread left behind" 1 "$DAEMON_RC"
	contains "$n: the daemon says what it left behind" "$(tail -n 5 "$WORK/daemon.log")" \
		"still inside backend calls"
	wait "$caller"
	[ $? -ne 0 ] && it_pass "$n: the held caller gets an error" ||
		it_fail "$n: the held caller gets an error" "stat -f succeeded"
}
