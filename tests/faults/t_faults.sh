#!/bin/sh
# tests/faults/t_faults.sh - injected backend faults reach the caller unchanged,
# the daemon keeps serving, a clean mount next to the faulty one is unaffected,
# and nothing leaks (daemon fds back to their start, heap in use flat across rounds).
#
#   FAULTS_ITERS=N  iterations per workload round (default 1500; each ~5 ops)
#   FAULTS_ROUNDS=N rounds (default 2)
. "$(dirname "$0")/lib.sh"

ITERS=${FAULTS_ITERS:-1500}
ROUNDS=${FAULTS_ROUNDS:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir "$WORK/bad" "$WORK/good" "$WORK/mnt"
# threads == max_threads: the worker pool (one cloned /dev/fuse fd each) cannot
# grow, so the daemon's fd count is comparable before and after.
cat >"$WORK/c.yaml" <<YAML
fuse: {threads: 2, max_threads: 2}
mounts:
  - {path: /bad, type: passthrough, source: $WORK/bad,
     faults: {rate: 0.2, errors: [EIO, ENOSPC], seed: 7}}
  - {path: /good, type: passthrough, source: $WORK/good}
YAML
# The trim shim (see lib.sh) publishes the daemon's heap bytes in use;
# sanitizer builds keep freed memory in quarantine and run without it.
shim=$FT_SHIM
FT_PRELOAD=$shim ft_start "$WORK/c.yaml" "$WORK/mnt"
pid=$DPID
# A mount takes its fds (its root's, the mount fd) when first used and keeps
# them cached: count from there.
ls "$WORK/mnt/good" >/dev/null
for _ in 1 2 3 4 5 6 7 8 9 10; do # /bad fails a fifth of its calls
	ls "$WORK/mnt/bad" >/dev/null 2>&1 && break
done
fd0=$(ft_nfds "$pid")
heap_prev=""
ft_log "daemon $pid: $fd0 fds, RSS $(ft_rss_kib "$pid") KiB at start"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	python3 "$HERE/fault_workload.py" "$WORK/mnt/bad" "$ITERS" EIO,ENOSPC "$r" "$WORK/bad" \
		>"$WORK/bad.$r.json" &
	bpid=$!
	python3 "$HERE/fault_workload.py" "$WORK/mnt/good" "$ITERS" "" "$((r + 100))" \
		>"$WORK/good.$r.json" &
	gpid=$!
	brc=0 grc=0
	wait "$bpid" || brc=$?
	wait "$gpid" || grc=$?
	ft_log "round $r faulty: $(cat "$WORK/bad.$r.json")"
	ft_log "round $r clean:  $(cat "$WORK/good.$r.json")"
	[ "$brc" = 0 ] || fail "faulty mount: an unexpected errno or wrong data (above)"
	[ "$grc" = 0 ] || fail "clean mount: a call failed or data was wrong (above)"
	# Faults really happened, and both configured errnos came through as they are.
	jq -e '.failed > 0 and .by_errno.EIO > 0 and .by_errno.ENOSPC > 0 and
	       (.by_errno | keys | all(. == "EIO" or . == "ENOSPC"))' \
		"$WORK/bad.$r.json" >/dev/null || fail "round $r: faults not seen as configured"
	jq -e '.failed == 0 and .ok > 0' "$WORK/good.$r.json" >/dev/null ||
		fail "round $r: the clean mount saw failures"

	ft_alive "$pid" || fail "daemon died during round $r"
	stat "$WORK/mnt/good" >/dev/null || fail "clean mount stopped answering"
	ls "$WORK/mnt" >/dev/null || fail "pseudofs stopped answering"

	# What the clean mount kept is on its source, byte for byte.
	(cd "$WORK/good" && find . -type f -exec cksum {} + | sort) >"$WORK/src.sum"
	(cd "$WORK/mnt/good" && find . -type f -exec cksum {} + | sort) >"$WORK/mnt.sum"
	cmp -s "$WORK/src.sum" "$WORK/mnt.sum" || fail "clean mount and its source differ"

	# Forget everything: the kernel drops its inodes, the daemon its fds.
	# FORGETs and RELEASEs reach the daemon asynchronously: wait until its fds
	# are back (a leaked fh or inode fd never gets there).
	ft_drop_caches
	ft_wait "round $r: daemon fds back to their start ($fd0): a leaked fh or inode fd?" \
		ft_fds_at_most "$pid" "$fd0"
	ft_log "round $r: daemon $(ft_nfds "$pid") fds (start $fd0), RSS $(ft_rss_kib "$pid") KiB after drop_caches"
	if [ -n "$shim" ]; then
		# From the second round on the heap must come back to where the
		# first left it (hash tables keep their grown size: 256 KiB slack),
		# but for the forgotten inodes each of the two passthrough mounts
		# keeps, bounded (FT_HINT_HEAP), which fill up over the rounds.
		if [ -n "$heap_prev" ]; then
			ft_settle_heap $((heap_prev + 262144 + 2 * FT_HINT_HEAP))
			[ "$FT_HEAP" -le $((heap_prev + 262144 + 2 * FT_HINT_HEAP)) ] ||
				fail "daemon heap grew from $heap_prev to $FT_HEAP bytes between rounds"
		else
			ft_settle_heap
		fi
		ft_log "round $r: daemon heap in use $FT_HEAP bytes"
		heap_prev=$FT_HEAP
	fi
	r=$((r + 1))
done

ft_stop "$pid"
ft_log "PASS"
