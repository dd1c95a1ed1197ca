#!/bin/bash
# tests/integrity/run.sh [OPS] [SEED...] - fsx on every writable backend.
#
# Starts vfsmux with a passthrough mount (over a temp dir on the host's /tmp)
# and a memfs mount, and runs `fsx -N OPS -S SEED` on a file in each, for each
# seed (default: two fixed seeds, so a failure in CI replays as is, plus
# FSX_RANDOM_SEEDS fresh ones, printed). Then SIGTERM: the daemon must unmount
# and exit 0. Environment: VFSMUX, VFSMUX_FSX (meson sets both), FSX_ARGS
# (extra fsx options), FSX_RANDOM_SEEDS (default 0), FSX_CONFIG (one more
# top-level config line, e.g. "fuse: {writeback_cache: true}"), ML_KEEP=1.

OPS=${1:-20000}
shift
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 20240611)
for ((i = 0; i < ${FSX_RANDOM_SEEDS:-0}; i++)); do
	SEEDS+=("$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')")
done
ML_NAME=integrity
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../stress/mountlib.sh
. "$HERE/../stress/mountlib.sh"

[ -x "${VFSMUX_FSX:-}" ] || { ml_log "VFSMUX_FSX is not set to the built fsx"; exit 1; }
FAILED=()
read -r -a EXTRA <<<"${FSX_ARGS:-}"

ml_start "${FSX_CONFIG:-}" || exit 1
for m in pt mem; do
	for s in "${SEEDS[@]}"; do
		f=$ML_MNT/$m/fsx.$s
		ml_log "=== $m: fsx -S $s -N $OPS ${EXTRA[*]}"
		if ! "$VFSMUX_FSX" -q -S "$s" -N "$OPS" "${EXTRA[@]}" "$f" 2>&1 | sed 's/^/  /'; then
			FAILED+=("$m seed $s")
			ml_log "FAIL: $m seed $s; replay: fsx -S $s -N $OPS ${EXTRA[*]} FILE on a $m mount"
		fi
		rm -f "$f"
	done
done
ml_stop || FAILED+=("daemon stop")
if [ ${#FAILED[@]} -gt 0 ]; then
	ml_log "FAILED: ${FAILED[*]}"
	tail -n 30 "$ML_WORK/daemon.log"
	exit 1
fi
ml_log "OK: ${#SEEDS[@]} seed(s) x $OPS ops on passthrough and memfs"
