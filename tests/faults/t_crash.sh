#!/bin/sh
# tests/faults/t_crash.sh - kill -9 the daemon and restart it.
#
# Data written and fsync'ed through a passthrough mount survives the crash on
# the source; the dead mountpoint answers ENOTCONN; a restart without --force
# refuses it and names `umount -l`; a restart with --force recovers the same
# mountpoint, even while a process still holds a file open in the dead mount.
#   CRASH_FILES=N  files written before the kill (default 40)
. "$(dirname "$0")/lib.sh"

NFILES=${CRASH_FILES:-40}
mkdir "$WORK/src" "$WORK/orig" "$WORK/mnt"
cat >"$WORK/c.yaml" <<YAML
mounts:
  - {path: /data, type: passthrough, source: $WORK/src}
  - {path: /scratch, type: memfs}
YAML
ft_start "$WORK/c.yaml" "$WORK/mnt"
pid=$DPID

# Files of assorted sizes (0 to ~1 MiB), each copied in and fsync'ed; half of
# them are rewritten in place (pwrite + fsync) to cover overwrites too.
python3 - "$WORK/orig" "$WORK/mnt/data" "$NFILES" <<'PY'
import os, random, sys
orig, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(1)
os.makedirs(os.path.join(dst, "sub/deeper"))
for i in range(n):
    rel = f"sub/deeper/f{i}" if i % 3 == 0 else f"f{i}"
    data = bytearray(rng.randbytes(rng.choice([0, 1, 4095, 4096, 65537, 1 << 20])))
    fd = os.open(os.path.join(dst, rel), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, data)
    if i % 2 and data:
        patch = rng.randbytes(min(len(data), 777))
        off = rng.randrange(0, len(data) - len(patch) + 1)
        os.pwrite(fd, patch, off)
        data[off:off + len(patch)] = patch
    os.fsync(fd)
    os.close(fd)
    os.makedirs(os.path.dirname(os.path.join(orig, rel)), exist_ok=True)
    with open(os.path.join(orig, rel), "wb") as f:
        f.write(data)
PY
echo scratch >"$WORK/mnt/scratch/note"

# A process that keeps a file open and its cwd inside the mount across the crash.
(cd "$WORK/mnt/data/sub" && exec 9<"$WORK/mnt/data/f1" && : >"$WORK/holding" && exec sleep 600) &
holder=$!
FT_PIDS="$FT_PIDS $holder"
ft_wait "the holder has its file open" test -e "$WORK/holding"

stat "$WORK/mnt" >/dev/null # the root's attributes are now cached in the kernel
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
ft_log "daemon $pid killed with SIGKILL"

# An immediate restart without --force, while stat() of the root still answers
# from the kernel's cache: it must see the dead mount (statfs) and refuse,
# not mount a second filesystem on top of it.
st=0
timeout "$FT_WAIT" "$VFSMUX" run -c "$WORK/c.yaml" --mountpoint "$WORK/mnt" >"$WORK/early.out" 2>&1 ||
	st=$?
ft_log "immediate restart without --force: exit $st: $(head -c 300 "$WORK/early.out")"
[ "$st" != 0 ] && [ "$st" != 124 ] || fail "immediate restart did not refuse the dead mount (exit $st)"
n=$(awk -v m="$WORK/mnt" '$2 == m' /proc/mounts | wc -l)
[ "$n" -le 1 ] || fail "$n mounts stacked on $WORK/mnt after the immediate restart"

# The mountpoint is dead: stat gives ENOTCONN (once the root's cached
# attributes expire: the kernel answers stat from its cache for up to the attr
# timeout, 1 s by default, even on an aborted connection). Polled: FT_WAIT
# seconds only bound the wait.
python3 - "$WORK/mnt" "$FT_WAIT" <<'PY' || fail "stat of the dead mountpoint did not give ENOTCONN"
import errno, os, sys, time
end = time.monotonic() + int(sys.argv[2])
while True:
    try:
        os.stat(sys.argv[1])
    except OSError as e:
        print(f"stat: {errno.errorcode.get(e.errno)}")
        sys.exit(0 if e.errno == errno.ENOTCONN else 1)
    if time.monotonic() > end:
        print(f"stat still succeeds {sys.argv[2]} s after the kill")
        sys.exit(1)
    time.sleep(0.1)
PY

# Restart without --force: refused, and the message says what to do.
st=0
timeout "$FT_WAIT" "$VFSMUX" run -c "$WORK/c.yaml" --mountpoint "$WORK/mnt" >"$WORK/noforce.out" 2>&1 ||
	st=$?
ft_log "restart without --force: exit $st: $(head -c 300 "$WORK/noforce.out")"
[ "$st" != 0 ] && [ "$st" != 124 ] || fail "restart without --force did not fail cleanly (exit $st)"
grep -q "umount -l" "$WORK/noforce.out" || fail "refusal does not name 'umount -l'"

# fsync'ed data is intact on the source itself.
(cd "$WORK/orig" && find . -type f -exec cksum {} + | sort) >"$WORK/orig.sum"
(cd "$WORK/src" && find . -type f -exec cksum {} + | sort) >"$WORK/src.sum"
cmp -s "$WORK/orig.sum" "$WORK/src.sum" || {
	diff "$WORK/orig.sum" "$WORK/src.sum" | head
	fail "data fsync'ed before the crash differs on the source"
}

# Restart with --force on the same config and mountpoint: works again.
ft_start "$WORK/c.yaml" "$WORK/mnt" --force
pid=$DPID
(cd "$WORK/mnt/data" && find . -type f -exec cksum {} + | sort) >"$WORK/mnt.sum"
cmp -s "$WORK/orig.sum" "$WORK/mnt.sum" || fail "data read through the new mount differs"
echo after >"$WORK/mnt/data/new" && [ "$(cat "$WORK/src/new")" = after ] ||
	fail "writing through the recovered mount failed"
[ ! -e "$WORK/mnt/scratch/note" ] || fail "memfs content outlived its daemon"
touch "$WORK/mnt/scratch/again" || fail "memfs of the recovered mount not writable"
grep -q "stale" "$WORK/daemon.log" || fail "the forced restart did not log the stale mount it cleared"
ft_log "$(ls "$WORK/mnt/data" | wc -l) entries readable after the forced restart"

kill "$holder" 2>/dev/null || true
ft_stop "$pid"
ft_log "PASS"
