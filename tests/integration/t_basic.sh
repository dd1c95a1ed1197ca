#!/usr/bin/env bash
# t_basic.sh - the pseudofs tree, the command line, signals, a stale mountpoint
# and other people's mounts on ours.
# One FUSE mount with a memfs at /a/b, passthroughs at /c and /d/e/f.
. "$(dirname "$0")/lib.sh"

SRC=$WORK/src
mkdir -p "$SRC/sub" "$WORK/src2"
echo hello >"$SRC/hello.txt"
echo deep >"$SRC/sub/deep.txt"
echo f >"$WORK/src2/in-f.txt"

CFG=$WORK/basic.yaml
write_config "$CFG" <<EOF
mountpoint: $MNT
# every request reaches the daemon: the parallel stat storm must hit it
timeouts: {entry: 0, attr: 0, negative: 0}
mounts:
  - path: /a/b
    type: memfs
    size: 16MiB
  - path: /c
    type: passthrough
    source: $SRC
  - path: /d/e/f
    type: passthrough
    source: $WORK/src2
EOF

# ---------------------------------------------------------------- command line
out=$("$VFSMUX" --help 2>&1)
eq "--help exits 0" 0 $?
contains "--help names 'run'" "$out" "run"
contains "--help names 'check'" "$out" "check"
contains "--help names --ready-fd" "$out" "--ready-fd"
out=$("$VFSMUX" --version 2>&1)
eq "--version exits 0" 0 $?
contains "--version prints the version" "$out" "${VFSMUX_VERSION:-0.}"

"$VFSMUX" >/dev/null 2>&1
eq "no command is a usage error (exit 2)" 2 $?
"$VFSMUX" frobnicate >/dev/null 2>&1
eq "unknown command is a usage error (exit 2)" 2 $?
"$VFSMUX" run >/dev/null 2>&1
eq "run without -c is a usage error (exit 2)" 2 $?
"$VFSMUX" run -c "$CFG" --bogus-option >/dev/null 2>&1
eq "unknown option is a usage error (exit 2)" 2 $?
"$VFSMUX" run -c "$CFG" --ready-fd notanumber >/dev/null 2>&1
eq "--ready-fd with a non-number is a usage error (exit 2)" 2 $?

out=$("$VFSMUX" check -c "$CFG" 2>&1)
eq "check of a good config exits 0" 0 $?
contains "check prints the memfs mount" "$out" "memfs"
contains "check prints the passthrough source" "$out" "$SRC"
contains "check prints the mountpoint" "$out" "$MNT"

BAD=$WORK/bad.yaml
write_config "$BAD" <<EOF
mountpoint: $MNT
mounts:
  - path: /a
    type: memfs
    sizee: 1MiB
EOF
out=$("$VFSMUX" check -c "$BAD" 2>&1)
eq "check of a bad config exits 1" 1 $?
contains "check names file:line:col of the bad key" "$out" "$BAD:5:5:"
contains "check names the bad key" "$out" "sizee"

out=$("$VFSMUX" run -c "$BAD" --mountpoint "$MNT" 2>&1)
eq "run with a bad config exits 1" 1 $?
contains "run with a bad config names file:line:col" "$out" "$BAD:5:5:"
is_mounted "$MNT" && it_fail "run with a bad config mounts nothing" "$MNT is mounted" ||
	it_pass "run with a bad config mounts nothing"

BADJ=$WORK/bad.json
printf '{\n  "mounts": [\n    {"path": "/x", "type": "passthrough", "source": "relative/dir"}\n  ]\n}\n' >"$BADJ"
out=$("$VFSMUX" check -c "$BADJ" 2>&1)
eq "check of a bad JSON config exits 1" 1 $?
contains "JSON error names file:line" "$out" "$BADJ:3:"
contains "JSON error names the key" "$out" "mounts[0].source"

out=$(timeout "$IT_WAIT" "$VFSMUX" run -c "$CFG" --mountpoint "$WORK/does-not-exist" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && it_pass "missing mountpoint fails cleanly" ||
	it_fail "missing mountpoint fails cleanly" "exit $rc"
contains "missing mountpoint: message names it" "$out" "$WORK/does-not-exist"
contains "missing mountpoint: message says why" "$out" "does not exist"

: >"$WORK/plainfile"
out=$(timeout "$IT_WAIT" "$VFSMUX" run -c "$CFG" --mountpoint "$WORK/plainfile" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && it_pass "file as mountpoint fails cleanly" ||
	it_fail "file as mountpoint fails cleanly" "exit $rc"
contains "file as mountpoint: message names it" "$out" "$WORK/plainfile"
contains "file as mountpoint: message says why" "$out" "not a directory"

# ---------------------------------------------------------------- the tree
mount_or_die "$CFG"

opts=$(awk -v d="$MNT" '$5 == d { print $6 }' /proc/self/mountinfo)
contains "mount is nosuid by default" "$opts" "nosuid"
contains "mount is nodev by default" "$opts" "nodev"
fstype=$(awk -v d="$MNT" '$5 == d { for (i = 7; $i != "-"; i++); print $(i + 1) }' /proc/self/mountinfo)
contains "mount type is fuse" "$fstype" "fuse"

eq "ls of the root lists the top names" "a c d" "$(names "$MNT")"
eq "ls of /a lists b" "b" "$(names "$MNT/a")"
eq "ls of /d/e lists f" "f" "$(names "$MNT/d/e")"
out=$(ls -la "$MNT" 2>&1)
contains "ls -la of the root shows ." "$out" " ."$'\n'
contains "ls -la of the root shows .." "$out" " .."$'\n'
eq "ls -la of /d shows ., .. and e" ". .. e" "$(names -a "$MNT/d")"

for d in "" /a /d /d/e; do
	eq "stat $d/: a directory of mode 0755" "directory 755" "$(stat -c '%F %a' "$MNT$d/" 2>&1)"
done
eq "root's st_ino is 1 (FUSE_ROOT_ID)" 1 "$(stat -c %i "$MNT")"
eq "pseudo dirs have distinct st_ino" 4 "$(stat -c %i "$MNT" "$MNT/a" "$MNT/d" "$MNT/d/e" | sort -u | wc -l)"
eq "nlink of /d counts its subdirectory" 3 "$(stat -c %h "$MNT/d")"
eq "a mount root shows the backend (passthrough /c)" "hello.txt sub" "$(names "$MNT/c")"
eq "a file in a passthrough reads back" hello "$(cat "$MNT/c/hello.txt" 2>&1)"
eq "memfs root starts empty" "" "$(ls -A "$MNT/a/b" 2>&1)"

expected=$(printf '%s\n' "$MNT" "$MNT/a" "$MNT/a/b" "$MNT/c" "$MNT/c/hello.txt" "$MNT/c/sub" \
	"$MNT/c/sub/deep.txt" "$MNT/d" "$MNT/d/e" "$MNT/d/e/f" "$MNT/d/e/f/in-f.txt")
eq "find lists exactly the expected paths" "$expected" "$(find "$MNT" 2>&1 | LC_ALL=C sort)"

fails "mkdir in the pseudo root is EROFS" "Read-only file system" mkdir "$MNT/newdir"
fails "mkdir in a pseudo dir is EROFS" "Read-only file system" mkdir "$MNT/d/x"
fails "creating a file in a pseudo dir is EROFS" "Read-only file system" touch "$MNT/a/file"
fails "rmdir of a pseudo dir is refused" "" rmdir "$MNT/d/e"
fails "rename of a pseudo dir is refused" "" mv "$MNT/d" "$MNT/dd"
fails "chmod of a pseudo dir is refused" "" chmod 700 "$MNT/d"
fails "lookup of a missing name is ENOENT" "No such file or directory" stat "$MNT/nope"
ok "mkdir inside a mount works" mkdir "$MNT/a/b/newdir"
ok "creating a file inside a passthrough works" touch "$MNT/c/new"
[ -e "$SRC/new" ] && it_pass "the created file is in the source" || it_fail "the created file is in the source"

# Many processes at once: 8 x 500 stats over pseudo and backend paths, no attr cache.
storm=()
for i in 1 2 3 4 5 6 7 8; do
	python3 - "$MNT" >"$WORK/storm.$i" 2>&1 <<'PY' &
import os, sys
m = sys.argv[1]
paths = [m, m + "/a", m + "/a/b", m + "/c/hello.txt", m + "/d/e", m + "/d/e/f/in-f.txt"]
bad = 0
for n in range(500):
    p = paths[n % len(paths)]
    try:
        os.stat(p)
    except OSError as e:
        bad += 1
        if bad < 5:
            print(p, e)
print("failures", bad)
PY
	storm+=($!)
done
wait "${storm[@]}"
eq "8 processes x 500 parallel stats all succeed" "failures 0 x8" \
	"$(cat "$WORK"/storm.* | grep '^failures' | sort | uniq -c | awk '{print $2" "$3" x"$1}')"
alive "$DPID" && it_pass "daemon alive after the stat storm" || it_fail "daemon alive after the stat storm"

# ---------------------------------------------------------------- SIGTERM
stop_daemon "$DPID" TERM
eq "SIGTERM: daemon exits 0" 0 "$DAEMON_RC"
# The worker pool grows to the concurrency it meets and keeps its threads: a pool
# that retired a worker at every idle moment started hundreds during this storm.
started=$(sed -n 's/.*requests; \([0-9]*\) worker threads started.*/\1/p' "$WORK/daemon.log" | tail -n 1)
if [ -n "$started" ] && [ "$started" -le 16 ]; then
	it_pass "stat storm: $started worker threads started (max_threads 16)"
else
	it_fail "stat storm: worker threads started" "got '${started:-no log line}', want <= 16"
fi
is_mounted "$MNT" && it_fail "SIGTERM leaves no mount behind" "$MNT still in mountinfo" ||
	it_pass "SIGTERM leaves no mount behind"

# A key this version validates but does not act on is said aloud at start, and
# SIGHUP (reload, which this version lacks) is refused with a warning, not obeyed.
CSCFG=$WORK/basic-csock.yaml
{ cat "$CFG"; echo "control_socket: $WORK/ctl.sock"; } >"$CSCFG"
mount_or_die "$CSCFG"
contains "control_socket: a warning that it is ignored" "$(cat "$WORK/daemon.log")" \
	"control_socket $WORK/ctl.sock: this vfsmux has no control socket; the key is ignored"
[ -e "$WORK/ctl.sock" ] && it_fail "control_socket: nothing is created" "$WORK/ctl.sock exists" ||
	it_pass "control_socket: nothing is created"
kill -HUP "$DPID"
eventually "SIGHUP: a warning that reload is not supported" \
	grep -q "SIGHUP ignored: this vfsmux reads its config once" "$WORK/daemon.log"
eq "SIGHUP: the daemon goes on serving" f "$(cat "$MNT/d/e/f/in-f.txt" 2>&1)"
stop_daemon "$DPID" INT
eq "SIGINT: daemon exits 0" 0 "$DAEMON_RC"
is_mounted "$MNT" && it_fail "SIGINT leaves no mount behind" || it_pass "SIGINT leaves no mount behind"

# A relative --mountpoint is taken from the working directory (as mount(8) does).
echo "$MNT" >>"$WORK/mounts" # cleanup unmounts by the absolute path
pushd "$(dirname "$MNT")" >/dev/null || die "cd $(dirname "$MNT")"
start_daemon "$CFG" --mountpoint "./$(basename "$MNT")"
rc=$?
popd >/dev/null || die popd
if [ "$rc" = 0 ] && is_mounted "$MNT"; then
	it_pass "relative --mountpoint: mounted at $MNT"
	eq "relative --mountpoint: the tree is served" "a c d" "$(names "$MNT" 2>&1)"
	stop_daemon "$DPID" TERM
	eq "relative --mountpoint: SIGTERM exits 0" 0 "$DAEMON_RC"
	is_mounted "$MNT" && it_fail "relative --mountpoint: unmounted on SIGTERM" ||
		it_pass "relative --mountpoint: unmounted on SIGTERM"
else
	it_fail "relative --mountpoint: mounted at $MNT" "ready said '$READY_STATUS'"
	stop_daemon "$DPID" TERM
fi

# SIGTERM with a file open: the mount leaves the namespace at once, the open
# file keeps working, and the daemon exits once it is closed.
mount_or_die "$CFG"
check_term_with_open_file "$MNT" "$MNT/c/hello.txt" hello

# ---------------------------------------------------------------- stale mountpoint
mount_or_die "$CFG"
stop_daemon "$DPID" KILL
out=$(timeout "$IT_WAIT" stat "$MNT" 2>&1)
contains "after kill -9, stat says the endpoint is gone" "$out" "Transport endpoint is not connected"

start_daemon "$CFG"
rc=$?
[ "$rc" -ne 0 ] && it_pass "run on a stale mountpoint without --force fails" ||
	it_fail "run on a stale mountpoint without --force fails" "it mounted"
contains "--ready-fd reports the error" "$READY_STATUS" "error"
contains "stale error names 'umount -l'" "$(cat "$WORK/daemon.log")" "umount -l"
stop_daemon "$DPID" TERM
[ "$DAEMON_RC" != 0 ] && it_pass "stale without --force: non-zero exit" || it_fail "stale without --force: non-zero exit"

if start_daemon "$CFG" --force; then
	it_pass "--force recovers the stale mountpoint"
	eq "after --force the tree is served" "a c d" "$(names "$MNT" 2>&1)"
	eq "after --force exactly one mount is on the mountpoint" 1 \
		"$(awk -v d="$MNT" '$5 == d' /proc/self/mountinfo | wc -l)"
	stop_daemon "$DPID" TERM
	eq "after --force: SIGTERM exits 0" 0 "$DAEMON_RC"
else
	it_fail "--force recovers the stale mountpoint" "ready said '$READY_STATUS'"
fi

# ---------------------------------------------------------------- other people's mounts
# Number of mounts stacked on MNT, and the type of the topmost.
mounts_on() { awk -v d="$1" '$5 == d' /proc/self/mountinfo | wc -l; }
top_type() {
	awk -v d="$1" '$5 == d { for (i = 7; $i != "-"; i++); t = $(i + 1) } END { print t }' \
		/proc/self/mountinfo
}
# wait_log TEXT: until the daemon log has TEXT (the daemon writes it, or dies trying).
wait_log() {
	wait_for grep -qF -- "$1" "$WORK/daemon.log"
}

# A second daemon on a live mountpoint is refused, --force or not, and the first serves on.
mount_or_die "$CFG"
FIRST=$DPID
for force in "" --force; do
	n="second daemon${force:+ with $force}"
	start_daemon "$CFG" $force
	contains "$n on a live mountpoint: refused" "$READY_STATUS" "error"
	stop_daemon "$DPID" TERM
	[ "$DAEMON_RC" != 0 ] && [ "$DAEMON_RC" != timeout ] && it_pass "$n: non-zero exit" ||
		it_fail "$n: non-zero exit" "exit $DAEMON_RC"
	log=$(tail -n 3 "$WORK/daemon.log")
	contains "$n: the error names the mountpoint" "$log" "mountpoint $MNT already has a live FUSE filesystem"
	contains "$n: the error names what is mounted there" "$log" "(fuse.vfsmux, source 'vfsmux')"
	eq "$n: nothing stacked" 1 "$(mounts_on "$MNT")"
	eq "$n: the first one still serves" hello "$(cat "$MNT/c/hello.txt" 2>&1)"
	alive "$FIRST" && it_pass "$n: the first one is alive" || it_fail "$n: the first one is alive"
done
# A first daemon that does not answer (stopped) is live too: no hang, no takeover.
kill -STOP "$FIRST"
start_daemon "$CFG" --force
contains "second daemon --force on a hung mountpoint: refused" "$READY_STATUS" "did not answer within"
stop_daemon "$DPID" TERM
kill -CONT "$FIRST"
eq "hung first daemon: nothing stacked" 1 "$(mounts_on "$MNT")"
eq "hung first daemon: serves again once resumed" hello "$(cat "$MNT/c/hello.txt" 2>&1)"
stop_daemon "$FIRST" TERM
eq "the first daemon: SIGTERM exits 0" 0 "$DAEMON_RC"
eq "the first daemon: its mount is gone" 0 "$(mounts_on "$MNT")"

# Someone stacks a tmpfs on our mount, and a second daemon mounts on that: at
# stop each daemon detaches its own mount only, never one on top of it.
mount_or_die "$CFG"
FIRST=$DPID
mount -t tmpfs vfsmux-test-top "$MNT" || die "mount tmpfs on $MNT"
mount_or_die "$CFG" # over a tmpfs: allowed, as mount(8) allows it
SECOND=$DPID
eq "stacked: fuse, tmpfs, fuse" 3 "$(mounts_on "$MNT")"
kill -TERM "$FIRST"
wait_log "not unmounting $MNT: another mount (fuse.vfsmux, source 'vfsmux') sits on top of ours"
contains "stacked: the first daemon says why it leaves the mount on top" \
	"$(cat "$WORK/daemon.log")" "not unmounting $MNT: another mount (fuse.vfsmux, source 'vfsmux') sits on top of ours"
stop_daemon "$FIRST" TERM # a second signal ends its grace time for open files
eq "stacked: the first daemon exits 0" 0 "$DAEMON_RC"
eq "stacked: every mount is still there" 3 "$(mounts_on "$MNT")"
eq "stacked: the second daemon still serves" hello "$(cat "$MNT/c/hello.txt" 2>&1)"
stop_daemon "$SECOND" TERM
eq "stacked: the second daemon exits 0" 0 "$DAEMON_RC"
eq "stacked: it detached its own mount only" "2 tmpfs" "$(mounts_on "$MNT") $(top_type "$MNT")"
umount "$MNT" || it_fail "stacked: the tmpfs unmounts"
out=$(timeout "$IT_WAIT" stat "$MNT" 2>&1) # a stale mount answers at once; the bound only fails
contains "stacked: the first daemon's mount, left beneath, is stale" "$out" "Transport endpoint is not connected"
if start_daemon "$CFG" --force; then
	it_pass "stacked: --force replaces the stale mount left beneath"
	eq "stacked: one mount after --force" 1 "$(mounts_on "$MNT")"
	stop_daemon "$DPID" TERM
else
	it_fail "stacked: --force replaces the stale mount left beneath" "ready said '$READY_STATUS'"
fi
eq "stacked: nothing left mounted" 0 "$(mounts_on "$MNT")"

# ---------------------------------------------------------------- blocked requests
# A backend call that blocks holds its worker only: when the last reader takes a
# request, the pool starts another, so three STATFS held in the daemon (more
# than the two workers it starts with) leave other callers served. They are
# held until the test lets them go (lib.sh, hold_setup), not for a time.
hold_setup
SLOWCFG=$WORK/slow.yaml
write_config "$SLOWCFG" <<EOF
mountpoint: $MNT
fuse: {threads: 2, max_threads: 16}
timeouts: {entry: 3600, attr: 3600}
mounts:
  - {path: /mem, type: memfs}
  - {path: /slow, type: passthrough, source: $HOLD_SRC}
EOF
mount_or_die "$SLOWCFG" -v
check_held_requests "blocked requests"
stop_daemon "$DPID" TERM
eq "blocked requests: SIGTERM exits 0" 0 "$DAEMON_RC"
stop_daemon "$HOLD_PID" TERM
eq "the holder: SIGTERM exits 0" 0 "$DAEMON_RC"
is_mounted "$MNT" && it_fail "nothing left mounted at the end" || it_pass "nothing left mounted at the end"

summary
