#!/bin/sh
# tests/faults/t_limits.sh - resource bounds.
#
# (a) Forget storm: stat LIMITS_STORM_FILES names LIMITS_STORM_ROUNDS times
#     each with entry/attr timeouts 0 (every stat is a LOOKUP: one more kernel
#     reference), then drop_caches (the kernel FORGETs them all). A shim
#     (trim_shim.so, LD_PRELOAD) publishes the daemon's heap bytes in use and
#     their highest figure, kept by the shim while the storm runs (another
#     process's drop_caches may make the kernel forget the storm's inodes
#     before the test could read a peak after it): after the storm they must
#     fall back to within a quarter of the storm's growth (at least 64 KiB),
#     and a second storm must not raise them. RSS (before, peak from
#     VmHWM, after) is printed too, not asserted: what glibc hands back depends
#     on fragmentation. Under sanitizers (no shim) only RSS is printed.
#
# (b) Open files: several processes hold LIMITS_OPEN files open through a
#     passthrough mount (each process has its own 20,000 limit). Each open file
#     is a host fd in the daemon, so the daemon reaches its own RLIMIT_NOFILE
#     first: the caller must then get EMFILE or ENFILE, the daemon must keep
#     serving, and once the files are closed its fds return and opens work.
#
# Each stat of DIR/sN/fM is two backend LOOKUPs (sN and fM; timeouts 0), so a
# storm makes 2 * files * rounds lookups.
#   defaults: LIMITS_OPEN=30000 LIMITS_PROCS=2 LIMITS_STORM_FILES=12500 LIMITS_STORM_ROUNDS=4
#   (100,000 lookups per storm; full size: LIMITS_STORM_FILES=100000 LIMITS_STORM_ROUNDS=5,
#   1,000,000 lookups per storm)
. "$(dirname "$0")/lib.sh"

NOPEN=${LIMITS_OPEN:-30000}
NPROCS=${LIMITS_PROCS:-2}
SFILES=${LIMITS_STORM_FILES:-12500}
SROUNDS=${LIMITS_STORM_ROUNDS:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir "$WORK/tmpfs" "$WORK/mnt"
# The sources live on a tmpfs of their own: tens of thousands of creates are
# quick there, and nothing of the host disk's speed gets into the figures.
FT_MNTS="$FT_MNTS $WORK/tmpfs"
mount -t tmpfs -o size=512m,nr_inodes=1000000 vfsmux-faults "$WORK/tmpfs"
mkdir "$WORK/tmpfs/src" "$WORK/tmpfs/storm"

# Files are made on the sources directly: quicker, and not what is tested.
python3 - "$WORK/tmpfs/src" "$NOPEN" "$WORK/tmpfs/storm" "$SFILES" <<'PY'
import os, sys
src, n, storm, sn = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for i in range(n):
    with open(os.path.join(src, f"f{i}"), "w") as f:
        f.write(str(i))
for i in range(sn):
    if i % 1000 == 0:
        os.mkdir(os.path.join(storm, f"s{i // 1000}"))
    open(os.path.join(storm, f"s{i // 1000}", f"f{i}"), "w").close()
PY
cat >"$WORK/c.yaml" <<YAML
fuse: {threads: 2, max_threads: 2}
mounts:
  - {path: /data, type: passthrough, source: $WORK/tmpfs/src}
  - {path: /storm, type: passthrough, source: $WORK/tmpfs/storm, timeouts: {entry: 0, attr: 0}}
  - {path: /mem, type: memfs}
YAML

shim=$FT_SHIM
FT_PRELOAD=$shim ft_start "$WORK/c.yaml" "$WORK/mnt"
pid=$DPID
# A mount takes its fds (its root's, the mount fd) when first used and keeps
# them cached: count from there.
ls "$WORK/mnt/data/f0" "$WORK/mnt/storm" >/dev/null
fd0=$(ft_nfds "$pid")
limit=$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")
ft_log "daemon $pid: $fd0 fds at start, limit $limit"

# ---- (a) forget storm ----------------------------------------------------------------------
storm() {
	python3 "$HERE/storm.py" "$WORK/mnt/storm" "$SFILES" "$SROUNDS" >"$WORK/storm.json" ||
		fail "storm: stats failed: $(cat "$WORK/storm.json")"
	[ -z "$shim" ] || { ft_heap && heap_peak=$FT_PEAK; }
	rss_peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
	ft_drop_caches
}
ft_drop_caches
rss0=$(ft_rss_kib "$pid")
[ -z "$shim" ] || { ft_settle_heap && heap0=$FT_HEAP; }
echo 5 >"/proc/$pid/clear_refs" # VmHWM restarts from here: the peak is the storm's
storm
ft_log "storm 1: $(cat "$WORK/storm.json")"
if [ -n "$shim" ]; then
	# The storm mount keeps its last forgotten inodes (FT_HINT_HEAP, bounded;
	# full after this storm, so the second storm below is held flat).
	slack=$(((heap_peak - heap0) / 4))
	[ "$slack" -ge 65536 ] || slack=65536
	bound=$((heap0 + slack + FT_HINT_HEAP))
	ft_settle_heap "$bound"
	heap1=$FT_HEAP
	ft_log "storm 1: heap in use before $heap0, peak $heap_peak, after $heap1 bytes"
	[ "$heap1" -le "$bound" ] ||
		fail "heap after the storm ($heap1 bytes) stays above $bound: the storm's inodes leaked"
fi
ft_wait "daemon fds back to their start ($fd0) after storm 1" ft_fds_at_most "$pid" "$fd0"
ft_log "storm 1: RSS before $rss0 KiB, peak $rss_peak KiB, after $(ft_rss_kib "$pid") KiB"
storm
if [ -n "$shim" ]; then
	bound=$((heap1 + 65536))
	ft_settle_heap "$bound"
	ft_log "storm 2: heap in use peak $heap_peak, after $FT_HEAP bytes"
	[ "$FT_HEAP" -le "$bound" ] ||
		fail "heap grew from $heap1 to $FT_HEAP bytes over a second storm: a leak"
else
	ft_log "heap not asserted (a sanitizer build)"
fi
ft_alive "$pid" || fail "daemon died in the forget storm"
ft_wait "daemon fds back to their start ($fd0) after storm 2" ft_fds_at_most "$pid" "$fd0"
ft_log "storm 2: RSS after $(ft_rss_kib "$pid") KiB (peak so far $rss_peak KiB)"

# ---- (b) open files ------------------------------------------------------------------------
python3 "$HERE/hold_open.py" "$WORK/mnt/data" "$NOPEN" "$NPROCS" "$pid" >"$WORK/open.json" ||
	fail "hold_open.py failed"
ft_log "open files: $(cat "$WORK/open.json")"
ft_alive "$pid" || fail "daemon died holding many open files"
jq -e '.errnos | length > 0 and all(. == "EMFILE" or . == "ENFILE")' "$WORK/open.json" \
	>/dev/null || fail "callers did not get EMFILE/ENFILE when the daemon ran out of fds"
jq -e ".opened >= $limit - 2000 and .opened < $NOPEN" "$WORK/open.json" >/dev/null ||
	fail "opens stopped far from the daemon's limit ($limit)"
jq -e '.while_held.stat_dir == "ok"' "$WORK/open.json" >/dev/null ||
	fail "daemon stopped serving stat while out of fds"
stat "$WORK/mnt/mem" >/dev/null || fail "memfs mount not served after the fd exhaustion"
# close() of a file must not fail because the daemon is short of fds (its
# FLUSH has nothing to report then): kept as a check, see README "Known bugs".
# The other checks still run, so one run shows everything.
late_fail=""
jq -e '.close_errors == {}' "$WORK/open.json" >/dev/null || {
	late_fail="close() reported $(jq -c .close_errors "$WORK/open.json") (passthrough FLUSH dup()s fh)"
	ft_log "FAIL (reported at the end): $late_fail"
}

# Everything closed: RELEASEs arrive asynchronously; wait until the daemon has
# closed its fds (a leak never gets there).
ft_drop_caches
ft_wait "daemon fds back to their start ($fd0) after every file was closed" \
	ft_fds_at_most "$pid" "$fd0"
ft_log "after closing: daemon $(ft_nfds "$pid") fds (start $fd0)"
cat "$WORK/mnt/data/f$((NOPEN - 1))" >/dev/null || fail "open after recovery failed"
echo again >"$WORK/mnt/data/new" || fail "create after recovery failed"


ft_stop "$pid"
[ -z "$late_fail" ] || fail "$late_fail"
ft_log "PASS"
