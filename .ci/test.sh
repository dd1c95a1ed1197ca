#!/usr/bin/env bash
# .ci/test.sh - the one command that sets up and runs the whole test suite:
# installs dependencies (.ci/deps), builds, runs every unit and integration test,
# and ends with one line "N passed, N failed, N skipped" from meson's test log.
#
#   .ci/test.sh                 plain build in build/
#   .ci/test.sh --sanitize      ASan+UBSan build in build-asan/ (leak checks on)
#   .ci/test.sh --no-deps ...   do not try to install packages
# Exit status: 0 when no test failed (and at least one ran), else 1.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
builddir=build
setup_args=()
deps=1
for a in "$@"; do
	case $a in
	--sanitize)
		builddir=build-asan
		# shellcheck disable=SC2054 # one meson option whose value has commas
		setup_args=(-Db_sanitize=address,undefined -Db_lundef=false)
		;;
	--no-deps) deps=0 ;;
	*)
		echo "usage: $0 [--sanitize] [--no-deps]" >&2
		exit 2
		;;
	esac
done

((deps)) && "$top/.ci/deps"
rm -f "$builddir/test-summary" # .ci/run reads it; never a stale one

if [ -f "$builddir/build.ninja" ]; then
	meson setup --reconfigure "$builddir" "${setup_args[@]}" >/dev/null
else
	meson setup "$builddir" "${setup_args[@]}"
fi
ninja -C "$builddir"

if ((${#setup_args[@]})); then
	# Leak checks: LeakSanitizer works here (it needs ptrace-like access to its own
	# threads, which this machine allows). Abort on the first error so a test sees it.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1:print_summary=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

rc=0
meson test -C "$builddir" --print-errorlogs --num-processes "$(nproc)" || rc=$?

# meson writes one JSON object per test; "SKIP" is exit 77 (no root, no /dev/fuse).
log=$builddir/meson-logs/testlog.json
read -r passed failed skipped < <(python3 - "$log" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
try:
    for line in open(sys.argv[1]):
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            counts["passed"] += 1
        elif r == "SKIP":
            counts["skipped"] += 1
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, INTERRUPT
            counts["failed"] += 1
except FileNotFoundError:
    pass
print(counts["passed"], counts["failed"], counts["skipped"])
PY
)
echo "$passed $failed $skipped" >"$builddir/test-summary"
if ((rc == 0 && failed == 0 && passed == 0)); then
	echo "no test ran" >&2
	rc=1
fi
((failed > 0)) && rc=1
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
