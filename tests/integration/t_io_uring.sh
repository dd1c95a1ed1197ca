#!/usr/bin/env bash
# t_io_uring: FUSE over io_uring (fuse.io_uring). With the fuse module's
# enable_uring parameter on, a mount asking for it serves its requests from
# per-CPU ring entries: files, big reads and writes, listings, xattrs and
# renames behave exactly as over /dev/fuse, from callers on every CPU, and
# the daemon's exit line shows the requests really came by ring. With the
# parameter off, or the key off, the same mount stays on /dev/fuse.
# The parameter is system-wide: the test puts back the value it found.
IT_NAME=t_io_uring
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

PARAM=/sys/module/fuse/parameters/enable_uring
[ -w "$PARAM" ] || skip "no writable $PARAM (kernel before 6.14, or fuse built without io_uring)"
ORIG=$(cat "$PARAM")
restore_param() { echo "$ORIG" >"$PARAM" 2>/dev/null; }
# lib.sh's EXIT trap reads $? first thing: keep it across the restore.
trap 'rc=$?; restore_param; (exit $rc); it_cleanup' EXIT
echo Y >"$PARAM" 2>/dev/null || skip "cannot switch on $PARAM"

SRC=$WORK/src
mkdir -p "$SRC/tree" "$MNT"
chmod 755 "$WORK" # uid 1000 below walks to the mount
for d in a b c; do
	mkdir -p "$SRC/tree/$d/sub"
	for i in $(seq 40); do
		head -c $((i * 97)) /dev/urandom >"$SRC/tree/$d/f$i"
		echo "$d $i" >"$SRC/tree/$d/sub/s$i"
	done
done
ln -s a/f1 "$SRC/tree/link"

write_config "$WORK/uring.yaml" <<EOF
mountpoint: $MNT
fuse: {io_uring: true, allow_other: true}
timeouts: {entry: 1, attr: 1}
mounts:
  - {path: /pt, type: passthrough, source: $SRC}
  - {path: /mem, type: memfs, size: 512MiB}
EOF
mount_or_die "$WORK/uring.yaml"
eq "the daemon set up the rings" 1 "$(grep -Ec 'io_uring: [0-9]+ queues' "$WORK/daemon.log")"

same_tree "passthrough: the tree reads back as on the host" "$SRC/tree" "$MNT/pt/tree"
ok "memfs: cp -a of the tree" cp -a "$SRC/tree" "$MNT/mem/tree"
sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }
eq "memfs: the copy has the same files with the same bytes" "$(sums "$SRC/tree")" \
	"$(sums "$MNT/mem/tree")"
eq "readlink through the ring" a/f1 "$(readlink "$MNT/mem/tree/link")"

# 32 MiB with 1 MiB writes: payloads as large as the ring entry holds.
head -c $((32 << 20)) /dev/urandom >"$WORK/big"
ok "memfs: dd of 32 MiB in 1 MiB blocks" dd if="$WORK/big" of="$MNT/mem/big" bs=1M status=none
ok "memfs: 32 MiB read back unchanged" cmp "$WORK/big" "$MNT/mem/big"
ok "memfs: read back with O_DIRECT too" dd if="$MNT/mem/big" of="$WORK/big2" bs=1M iflag=direct status=none
ok "and those bytes are the same" cmp "$WORK/big" "$WORK/big2"
ok "passthrough: cp of 32 MiB" cp "$WORK/big" "$MNT/pt/big"
ok "passthrough: the host file has those bytes" cmp "$WORK/big" "$SRC/big"

# Callers pinned to each CPU reach every queue; in parallel, each on its own files.
pids=()
for cpu in $(seq 0 $(($(nproc) - 1))); do
	taskset -c "$cpu" sh -c "
		mkdir '$MNT/mem/cpu$cpu' && cd '$MNT/mem/cpu$cpu' || exit 1
		for i in \$(seq 300); do echo \"cpu $cpu file \$i\" > f\$i || exit 1; done
		for i in \$(seq 300); do mv f\$i g\$i || exit 1; done
		for i in \$(seq 1 3 300); do rm g\$i || exit 1; done" &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=1; done
eq "parallel create/rename/unlink from every CPU succeeded" 0 "$bad"
for cpu in $(seq 0 $(($(nproc) - 1))); do
	eq "cpu $cpu: 200 files left, as renamed" 200 "$(find "$MNT/mem/cpu$cpu" -name 'g*' | wc -l)"
	eq "cpu $cpu: a file holds what its writer wrote" "cpu $cpu file 2" "$(cat "$MNT/mem/cpu$cpu/g2")"
done

# A listing larger than one READDIRPLUS reply.
mkdir "$MNT/mem/many"
(cd "$MNT/mem/many" && for i in $(seq 1500); do : >"entry-with-a-longish-name-$i"; done)
eq "a 1,500-entry directory lists in full" 1500 "$(ls "$MNT/mem/many" | wc -l)"

# xattrs: the size probe, the value, ERANGE for a short buffer.
ok "setfattr through the ring" setfattr -n user.k -v "$(printf 'v%.0s' $(seq 200))" "$MNT/pt/tree/a/f1"
eq "getfattr gives the 200-byte value back" 200 \
	"$(getfattr --only-values -n user.k "$MNT/pt/tree/a/f1" | wc -c)"
eq "the host file has it" 200 "$(getfattr --only-values -n user.k "$SRC/tree/a/f1" | wc -c)"
ok "a too-small buffer gives ERANGE" python3 -c "
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
n = libc.getxattr(b'$MNT/pt/tree/a/f1', b'user.k', ctypes.create_string_buffer(10), 10)
e = ctypes.get_errno()
raise SystemExit(0 if n == -1 and e == errno.ERANGE else 'got %d, errno %d' % (n, e))"
fails "EXDEV across mounts still comes back as an error" "" \
	python3 -c "import os; os.rename('$MNT/mem/big', '$MNT/pt/big-moved')"
ok "a non-root caller (allow_other) reads a file" \
	setpriv --reuid=1000 --regid=1000 --clear-groups cat "$MNT/pt/tree/b/sub/s3"
ok "rm -rf of the memfs tree" rm -rf "$MNT/mem/tree" "$MNT/mem/many"

stop_daemon "$DPID" TERM
eq "SIGTERM: exit 0" 0 "$DAEMON_RC"
served=$(sed -n 's/.*io_uring: served \([0-9]*\) requests.*/\1/p' "$WORK/daemon.log" | tail -1)
if [ "${served:-0}" -gt 1000 ]; then
	it_pass "the workload's requests came by ring ($served)"
else
	it_fail "the workload's requests came by ring (only '${served:-none}')"
fi

# A request blocked in the daemon holds its ring thread only: the queue of its
# CPU starts another, so other callers on that CPU are served meanwhile. The
# requests are held until the test lets them go (lib.sh, hold_setup).
hold_setup
write_config "$WORK/held.yaml" <<EOF
mountpoint: $MNT
fuse: {io_uring: true}
timeouts: {entry: 3600, attr: 3600}
mounts:
  - {path: /mem, type: memfs}
  - {path: /slow, type: passthrough, source: $HOLD_SRC}
EOF
n0=$(($(wc -l <"$WORK/daemon.log") + 1))
mount_or_die "$WORK/held.yaml" -v
eq "held requests: the daemon set up the rings" 1 \
	"$(tail -n "+$n0" "$WORK/daemon.log" | grep -Ec 'io_uring: [0-9]+ queues')"
check_held_requests "CPU 0's ring" taskset -c 0
stop_daemon "$DPID" TERM
eq "held requests: SIGTERM exit 0" 0 "$DAEMON_RC"
stop_daemon "$HOLD_PID" TERM

# Ending a ring mount: SIGTERM with a file open keeps that file served by the
# rings until it is closed; after kill -9 callers get an error at once (no
# hang on an entry nobody serves), and --force mounts again.
mount_or_die "$WORK/uring.yaml"
echo kept >"$MNT/mem/open"
check_term_with_open_file "$MNT" "$MNT/mem/open" kept
mount_or_die "$WORK/uring.yaml"
ls "$MNT/pt" >/dev/null
stop_daemon "$DPID" KILL
out=$(timeout "$IT_WAIT" stat "$MNT" 2>&1)
rc=$?
[ "$rc" -ne 124 ] && it_pass "after kill -9, stat returns at once" ||
	it_fail "after kill -9, stat returns at once" "it hung for $IT_WAIT s"
# ENOTCONN, or ECONNABORTED: the ring's teardown aborts the connection.
if grep -Eq "Transport endpoint is not connected|Software caused connection abort" <<<"$out"; then
	it_pass "after kill -9, stat says the connection is gone"
else
	it_fail "after kill -9, stat says the connection is gone" "$out"
fi
start_daemon "$WORK/uring.yaml"
contains "without --force the stale mountpoint is refused, naming 'umount -l'" \
	"$(tail -n 3 "$WORK/daemon.log")" "umount -l"
stop_daemon "$DPID" TERM
if start_daemon "$WORK/uring.yaml" --force; then
	eq "after --force the rings serve the tree again" "big tree" "$(names "$MNT/pt" 2>&1)"
	stop_daemon "$DPID" TERM
	eq "after --force: SIGTERM exits 0" 0 "$DAEMON_RC"
else
	it_fail "--force recovers the stale mountpoint" "ready said '$READY_STATUS'"
fi

# A backend call that never returns holds one ring thread; SIGTERM still ends
# the daemon within its grace time (the stuck ring thread is left behind).
write_config "$WORK/hung.yaml" <<EOF
mountpoint: $MNT
fuse: {io_uring: true}
mounts:
  - {path: /mem, type: memfs}
  - {path: /hung, type: memfs, faults: {rate: 0, delay_ms: 3600000, ops: [statfs]}}
EOF
n0=$(($(wc -l <"$WORK/daemon.log") + 1))
mount_or_die "$WORK/hung.yaml"
ok "hung mount: the memfs mount is served" taskset -c 0 sh -c "echo x >'$MNT/mem/x' && cat '$MNT/mem/x'"
check_term_with_hung_call "io_uring" "$MNT/hung" taskset -c 0
contains "io_uring: the hung call was taken by a ring thread" "$(tail -n "+$n0" "$WORK/daemon.log")" \
	"ring thread still busy"

# The key alone does nothing while the module parameter is off.
echo N >"$PARAM"
n0=$(($(wc -l <"$WORK/daemon.log") + 1))
mount_or_die "$WORK/uring.yaml"
ok "parameter off: the mount still works" cmp "$WORK/big" "$MNT/pt/big"
stop_daemon "$DPID" TERM
log=$(tail -n "+$n0" "$WORK/daemon.log")
contains "parameter off: the daemon says why the ring is not used" "$log" \
	"io_uring: the kernel does not offer it"
eq "parameter off: no ring was set up" 0 "$(grep -c 'io_uring: .* queues' <<<"$log")"

# And with the parameter on, a config without the key stays on /dev/fuse.
echo Y >"$PARAM"
write_config "$WORK/plain.yaml" <<EOF
mountpoint: $MNT
mounts:
  - {path: /pt, type: passthrough, source: $SRC}
EOF
n0=$(($(wc -l <"$WORK/daemon.log") + 1))
mount_or_die "$WORK/plain.yaml"
ok "io_uring not asked for: the mount works" cmp "$WORK/big" "$MNT/pt/big"
stop_daemon "$DPID" TERM
eq "io_uring not asked for: no ring was set up" 0 \
	"$(tail -n "+$n0" "$WORK/daemon.log" | grep -c 'io_uring: ')"

summary
