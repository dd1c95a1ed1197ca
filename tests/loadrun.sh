#!/usr/bin/env bash
# tests/loadrun.sh [-C BUILDDIR] [-l STRESS_ARGS] N - the whole suite N times
# in a row on a loaded machine: tests wait on events, never on the clock, so a
# slow machine may make them slower but never makes them fail.
#
# Starts `stress-ng $STRESS_ARGS` (default "--cpu 4": four CPU hogs on top of
# whatever else runs), then runs `meson test -C BUILDDIR --num-processes 2`
# N times, one after the other, and stops stress-ng. Each run's meson log is
# kept in BUILDDIR/loadrun/run-K.txt (testlog.txt of that run). Prints one line
# per run (verdict, minutes, failed tests) and ends with
#   loadrun: N runs under 'stress-ng --cpu 4': P passed, F failed (tests failed: ...)
# Exit status 0 when every run passed. Needs stress-ng (apt-get install stress-ng)
# and what the suite needs (root, /dev/fuse); builds nothing (ninja -C BUILDDIR first).
set -euo pipefail

builddir=build
stress_args="--cpu 4"
while getopts "C:l:" o; do
	case $o in
	C) builddir=$OPTARG ;;
	l) stress_args=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# != 1 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 [-C BUILDDIR] [-l STRESS_ARGS] N" >&2
	exit 2
fi
n=$1
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -f "$builddir/build.ninja" ] || { echo "$builddir is not a configured build dir" >&2; exit 2; }
command -v stress-ng >/dev/null || { echo "stress-ng is not installed (apt-get install stress-ng)" >&2; exit 2; }

out=$builddir/loadrun
rm -rf "$out"
mkdir -p "$out"
# shellcheck disable=SC2086 # STRESS_ARGS is a list of options
stress-ng $stress_args --quiet &
hog=$!
run=
trap 'kill $run "$hog" 2>/dev/null; wait $run "$hog" 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
failed=0
all_failed=()
for ((k = 1; k <= n; k++)); do
	t0=$EPOCHSECONDS
	rc=0
	# in the background, so a signal to this script reaches its trap (and meson) at once
	meson test -C "$builddir" --no-rebuild --num-processes 2 >"$out/run-$k.out" 2>&1 &
	run=$!
	wait "$run" || rc=$?
	run=
	cp "$builddir/meson-logs/testlog.txt" "$out/run-$k.txt" 2>/dev/null || true
	# the tests of this run that did not pass (meson's JSON log: one object per test)
	bad=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
        print(r.get("name"))' "$builddir/meson-logs/testlog.json" | paste -sd' ' -)
	mins=$(awk -v s=$((EPOCHSECONDS - t0)) 'BEGIN { printf "%.1f", s / 60 }')
	if [ "$rc" = 0 ] && [ -z "$bad" ]; then
		passed=$((passed + 1))
		echo "run $k/$n: ok ($mins min)"
	else
		failed=$((failed + 1))
		read -ra names <<<"$bad"
		all_failed+=("${names[@]}")
		echo "run $k/$n: FAILED ($mins min): ${bad:-meson exit $rc}; log $out/run-$k.txt"
	fi
done
# the load must have lasted the whole time, or the runs proved less
kill -0 "$hog" 2>/dev/null || { echo "stress-ng $stress_args ended before the runs did" >&2; exit 2; }
summary="loadrun: $n runs under 'stress-ng $stress_args': $passed passed, $failed failed"
((failed)) && summary+=" (tests failed: $(printf '%s\n' "${all_failed[@]}" | sort | uniq -c | awk '{ printf "%s%s x%s", NR > 1 ? ", " : "", $2, $1 }'))"
echo "$summary"
((failed == 0))
