#!/usr/bin/env bash
# bench/trace.sh - count the FUSE requests each workload costs, vfsmux against passthrough_ll.
#
#   bench/trace.sh [--files N]
#
# Timings on a shared 2-core machine are noisy; request counts are not. This mounts a
# small tree (1,000 leaf dirs x N files, default 2) through vfsmux (`run -v`, debug log)
# and through libfuse's passthrough_ll (`-d`), runs a few workloads one after another
# and prints, per workload, how many requests of each opcode the daemon received.
# Needs bench/run.sh to have built build-bench/ (or builds it the same way).
# Everything it mounts is unmounted on exit.
set -u -o pipefail
set -m
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
FILES=2
[ "${1:-}" = --files ] && FILES=${2:?}
[ "$(id -u)" = 0 ] || { echo "trace.sh: run as root" >&2; exit 1; }

VFSMUX=$REPO/build-bench/server/vfsmux
if [ ! -x "$VFSMUX" ]; then
	meson setup "$REPO/build-bench" "$REPO" --buildtype=release -Dwerror=false >/dev/null &&
		ninja -C "$REPO/build-bench" server/vfsmux >/dev/null || exit 1
fi
W=$(mktemp -d /tmp/vfsmux-trace.XXXXXX) || exit 1
PIDS=() MNTS=()
cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[$i]}" 2>/dev/null
		wait "${PIDS[$i]}" 2>/dev/null
		awk -v m="${MNTS[$i]}" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo &&
			umount -l "${MNTS[$i]}"
	done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# shellcheck disable=SC2046 # pkg-config output is meant to be split
gcc -O2 -o "$W/ptll" /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c \
	$(pkg-config --cflags --libs fuse3) || exit 1
# the shared harness's walker: ../shared/bench beside the repo (or beside the main worktree)
SW=""
for c in "${FSBENCH_DIR:-}" "$REPO/../shared/bench" \
	"$(dirname "$(dirname "$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)")")/shared/bench"; do
	[ -n "$c" ] && [ -f "$c/statwalk.c" ] && { SW=$c/statwalk.c; break; }
done
[ -n "$SW" ] || { echo "trace.sh: cannot find shared/bench/statwalk.c (set FSBENCH_DIR)" >&2; exit 1; }
gcc -O2 -o "$W/statwalk" "$SW" || exit 1
python3 "$HERE/mktree.py" "$W/src/tree" --files "$FILES" >/dev/null || exit 1
head -c $((64 << 20)) /dev/urandom >"$W/src/big.bin"
tar -C /usr/include -cf "$W/inc.tar" linux || exit 1
NTAR=$(tar -tf "$W/inc.tar" | wc -l)
mkdir -p "$W/mv" "$W/mp"
cat >"$W/c.json" <<EOF
{"mountpoint": "$W/mv", "timeouts": {"entry": 86400, "attr": 86400, "negative": 0},
 "mounts": [{"path": "/data", "type": "passthrough", "source": "$W/src"}]}
EOF

# count LOG FROM TO: opcode histogram of the request lines FROM..TO of LOG
count() {
	sed -n "$2,$3p" "$1" | sed -n -e 's/.*debug: unique [0-9]* \([A-Z_0-9]*\)(.*/\1/p' \
		-e 's/^unique: [0-9]*, opcode: \([A-Z_0-9]*\) .*/\1/p' |
		sort | uniq -c | sort -rn | awk '{ printf "%s %s, ", $2, $1; t += $1 } END { printf "total %d\n", t }'
}

phase() { # phase LABEL LOG CMD...
	local label=$1 logf=$2 n0 n1
	shift 2
	sync; echo 3 >/proc/sys/vm/drop_caches
	n0=$(($(wc -l <"$logf") + 1))
	"$@" >/dev/null || echo "  ($label failed)"
	sleep 0.3
	n1=$(wc -l <"$logf")
	printf '  %-26s %s\n' "$label" "$(count "$logf" "$n0" "$n1")"
}
phase_warm() { # same, without dropping caches first
	local label=$1 logf=$2 n0 n1
	shift 2
	n0=$(($(wc -l <"$logf") + 1))
	"$@" >/dev/null || echo "  ($label failed)"
	sleep 0.3
	n1=$(wc -l <"$logf")
	printf '  %-26s %s\n' "$label" "$(count "$logf" "$n0" "$n1")"
}

run_phases() { # run_phases DIR LOG
	local d=$1 l=$2 n
	n=$(find "$W/src/tree" -mindepth 1 | wc -l)
	echo "  (tree: $n entries; 'cold' = after drop_caches)"
	phase "stat walk cold" "$l" "$W/statwalk" walk "$d/tree"
	phase_warm "stat walk warm" "$l" "$W/statwalk" walk "$d/tree"
	phase_warm "readdir walk warm" "$l" "$W/statwalk" readdir "$d/tree"
	mkdir "$d/ct"
	phase_warm "create+unlink 100 files" "$l" "$W/statwalk" create "$d/ct" 100
	rmdir "$d/ct"
	phase "cat 64 MiB cold" "$l" cat "$d/big.bin"
	phase_warm "cat 64 MiB again" "$l" cat "$d/big.bin"
	phase_warm "stat big.bin x100" "$l" bash -c 'for i in $(seq 100); do stat "$1"; done' _ "$d/big.bin"
	mkdir "$d/x"
	phase_warm "untar ($NTAR files)" "$l" tar -C "$d/x" -xf "$W/inc.tar"
	rm -rf "$d/x"
}

wait_mounted() {
	local i
	for i in $(seq 100); do
		awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo && return 0
		sleep 0.05
	done
	return 1
}

echo "vfsmux (one passthrough mount at /data, entry/attr timeouts 86400 s):"
"$VFSMUX" run -c "$W/c.json" -v >"$W/v.log" 2>&1 &
PIDS+=($!) MNTS+=("$W/mv")
wait_mounted "$W/mv" && sleep 0.2 && run_phases "$W/mv/data" "$W/v.log"

echo "passthrough_ll (-o source=..., default cache=auto: 1 s timeouts):"
"$W/ptll" -d -o source="$W/src" "$W/mp" >"$W/p.log" 2>&1 &
PIDS+=($!) MNTS+=("$W/mp")
wait_mounted "$W/mp" && sleep 0.2 && run_phases "$W/mp" "$W/p.log"
