#!/usr/bin/env bash
# t_examples.sh - what README.md promises: examples/quickstart.sh serves the demo,
# and examples/sandbox.yaml mounts a read-only system with a memfs home.
. "$(dirname "$0")/lib.sh"

TOP=${VFSMUX_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
chmod 755 "$WORK" # uid 1000 must reach the sandbox mountpoint below it

# ---------------------------------------------------------------- quick start
DEMO=$WORK/demo
fifo=$WORK/qs.ready
mkfifo "$fifo"
echo "$DEMO/mnt" >>"$WORK/mounts"
VFSMUX_DEMO_DIR=$DEMO "$TOP/examples/quickstart.sh" --ready-fd 3 3>"$fifo" </dev/null >>"$WORK/daemon.log" 2>&1 &
DPID=$! # quickstart.sh execs vfsmux, so this is the daemon
IT_PIDS+=("$DPID")
echo "$DPID" >>"$WORK/pids"
READY_STATUS=
read -r -t 20 READY_STATUS <"$fifo"
[ "$READY_STATUS" = ok ] || die "quickstart.sh did not become ready: '$READY_STATUS'"
D=$DEMO/mnt
contains "quickstart prints what to look at" "$(cat "$WORK/daemon.log")" "In another terminal"
eq "demo root lists its mounts and pseudo dirs" "library notes tmp" "$(names "$D")"
same_tree "demo /library is examples/data/library" "$TOP/examples/data/library" "$D/library"
fails "demo /library is read-only" "Read-only file system" touch "$D/library/x"
ok "demo /notes is writable" sh -c "echo added >>'$D/notes/todo.txt'"
contains "demo /notes writes land in the demo dir, not the repo" "$(cat "$DEMO/notes/todo.txt")" added
[[ $(cat "$TOP/examples/data/notes/todo.txt") != *added* ]] && it_pass "the repository's notes are untouched" ||
	it_fail "the repository's notes are untouched"
ok "demo /tmp/scratch (memfs) takes 8 MiB" dd if=/dev/zero of="$D/tmp/scratch/f" bs=1M count=8 status=none
eq "demo memfs size is 64 MiB" $((64 << 20)) "$(df -B1 --output=size "$D/tmp/scratch" | tail -n 1 | tr -d ' ')"
stop_daemon "$DPID" INT
eq "demo: Ctrl-C (SIGINT) exits 0" 0 "$DAEMON_RC"
is_mounted "$D" && it_fail "demo: unmounted after Ctrl-C" || it_pass "demo: unmounted after Ctrl-C"

# ---------------------------------------------------------------- sandbox
out=$("$VFSMUX" check -c "$TOP/examples/sandbox.yaml" 2>&1)
eq "vfsmux check accepts examples/sandbox.yaml" 0 $?
contains "check shows the sandbox home" "$out" "sandbox"
SB=$WORK/sb
mkdir "$SB"
mount_or_die "$TOP/examples/sandbox.yaml" --mountpoint "$SB"
eq "sandbox root" "etc home tmp usr" "$(names "$SB")"
eq "sandbox /usr is the host's" "$(names /usr/bin | head -c 2000)" "$(names "$SB/usr/bin" | head -c 2000)"
eq "a host binary reads identically" "$(sha256sum </usr/bin/env)" "$(sha256sum <"$SB/usr/bin/env")"
fails "sandbox /usr is read-only" "Read-only file system" touch "$SB/usr/x"
eq "sandbox home: mode 0700, owned by 1000:1000" "700 1000:1000" "$(stat -c '%a %u:%g' "$SB/home/sandbox")"
eq "sandbox /tmp: sticky, world-writable" 1777 "$(stat -c %a "$SB/tmp")"
ok "uid 1000 writes in the sandbox home" setpriv --reuid=1000 --regid=1000 --clear-groups \
	sh -c "mkdir '$SB/home/sandbox/.config' && echo x >'$SB/home/sandbox/.config/f'"
eq "files made by uid 1000 are its own" 1000:1000 "$(stat -c %u:%g "$SB/home/sandbox/.config/f")"
fails "uid 1001 cannot enter the 0700 home" "Permission denied" \
	setpriv --reuid=1001 --regid=1001 --clear-groups ls "$SB/home/sandbox"
stop_daemon "$DPID" TERM
eq "sandbox: SIGTERM exits 0" 0 "$DAEMON_RC"
is_mounted "$SB" && it_fail "sandbox: unmounted" || it_pass "sandbox: unmounted"

summary
