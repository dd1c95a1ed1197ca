#!/usr/bin/env bash
# tests/fuzz/run.sh - build the libFuzzer targets with clang + ASan/UBSan and run
# each for a bounded time from the kept seeds and regression inputs.
# Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]   (default 45)
# A crash fails the run and prints its input (base64); once fixed, the input
# belongs in tests/fuzz/regressions/TARGET/ so replay-TARGET keeps it fixed.
set -euo pipefail
secs=${1:-45}
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$repo/build-fuzz}
work=$(mktemp -d /tmp/vfsmux-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$repo" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$build" tests/fuzz/fuzz_dispatch tests/fuzz/fuzz_config >/dev/null

status=0
for t in dispatch config; do
	mkdir -p "$work/$t"
	cp "$repo/tests/fuzz/seeds/$t/"* "$work/$t/"
	find "$repo/tests/fuzz/regressions/$t" -type f ! -name '.*' -exec cp {} "$work/$t/" \;
	echo "fuzz $t: ${secs}s"
	if ! (cd "$work" && "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=8192 \
		-artifact_prefix="$work/crash-$t-" "$work/$t" >"$work/$t.log" 2>&1); then
		echo "fuzz $t FAILED:"; tail -n 40 "$work/$t.log"
		# Print the crashing input, so it can be rebuilt from the CI log.
		for c in "$work"/crash-"$t"-*; do
			[ -f "$c" ] && { echo "input $c (base64):"; base64 "$c"; }
		done
		status=1
	else
		grep -E '^Done [0-9]+ runs' "$work/$t.log" || true
	fi
done
exit $status
