#!/usr/bin/env bash
# bench/run.sh - vfsmux against native access and libfuse's passthrough_ll, in one run.
#
#   bench/run.sh [--quick] [--systems "LIST"] [--only "WORKLOADS"] [--rounds N]
#                [--work DIR] [--no-install]
#
# Installs what it needs, builds vfsmux (release, build dir build-bench) and
# libfuse's passthrough_ll example (into a temp dir), prepares the dataset once,
# then runs the shared fsbench harness on every system one after another and
# prints a table with each figure's ratio to native and to passthrough_ll.
# Everything it mounts is unmounted on exit, failure or Ctrl-C included.
# See bench/README.md. Not part of CI (takes ~25 minutes; --quick a few).
set -u -o pipefail
# Job control: every background job (daemons, the harness) gets its own process group,
# so a Ctrl-C reaches only this script, whose trap then stops them in order.
set -m
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

DEFAULT_SYSTEMS="native passthrough_ll vfsmux-1 vfsmux-3 vfsmux-1-t1 passthrough-tmpfs memfs"
# FUSE over io_uring: the same as vfsmux-1, passthrough-tmpfs and memfs with fuse.io_uring on
# (the fuse module's enable_uring is switched on for the run and put back at the end).
DEFAULT_SYSTEMS="$DEFAULT_SYSTEMS vfsmux-1-uring vfsmux-3-uring passthrough-tmpfs-uring memfs-uring"
# vfsmux-1-nokp (kernel passthrough off) only when asked for with --systems.
ALL_SYSTEMS="$DEFAULT_SYSTEMS vfsmux-1-nokp"
ALL_WORKLOADS="stat readdir seqread randread create seqwrite tar findcat"
QUICK=0
ROUNDS=1
ONLY=""
INSTALL=1
SYSTEMS=$DEFAULT_SYSTEMS
WORK=${BENCH_WORK:-/tmp/vfsmux-bench}

usage() {
	cat <<EOF
Usage: bench/run.sh [--quick] [--systems "LIST"] [--only "WORKLOADS"] [--rounds N]
                    [--work DIR] [--no-install]

  --quick        1 rep, 3 s random reads, a 5,000-file tree and a 128 MiB file (a few minutes)
  --systems L    subset of: $ALL_SYSTEMS
                 (default: $DEFAULT_SYSTEMS)
  --only W       fsbench workloads for native, passthrough_ll, vfsmux-1 and vfsmux-3, a
                 subset of: $ALL_WORKLOADS
  --rounds N     run the systems round-robin N times, one rep each (unless BENCH_REPS is
                 set), and report the median over the rounds: a burst of load on a shared
                 machine then hits every system alike instead of the one running at the time
  --work DIR     dataset, mount points and results (default $WORK, must be a local disk)
  --no-install   do not apt-get install missing tools

Environment: FSBENCH_DIR (the shared harness; default ../shared/bench beside the repo),
BENCH_REPS, BENCH_RAND_SECS (override the mode's defaults).
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--systems) SYSTEMS=${2:?--systems needs a list}; shift ;;
	--only) ONLY=${2:?--only needs a list}; shift ;;
	--rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
	--work) WORK=${2:?--work needs a directory}; shift ;;
	--no-install) INSTALL=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
for s in $SYSTEMS; do
	case " $ALL_SYSTEMS " in *" $s "*) ;; *) echo "run.sh: unknown system '$s'" >&2; exit 2 ;; esac
done
for w in $ONLY; do
	case " $ALL_WORKLOADS " in *" $w "*) ;; *) echo "run.sh: unknown workload '$w'" >&2; exit 2 ;; esac
done
case $ROUNDS in '' | *[!0-9]* | 0) echo "run.sh: --rounds wants a positive number" >&2; exit 2 ;; esac

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (drop_caches for cold runs, tmpfs and FUSE mounts)"

# ------------------------------------------------------------------ settings per mode
DEFAULT_REPS=3
[ "$ROUNDS" -gt 1 ] && DEFAULT_REPS=1
if [ $QUICK = 1 ]; then
	REPS=${BENCH_REPS:-1}
	RAND_SECS=${BENCH_RAND_SECS:-3}
	SRC=$WORK/quick-src
	TREE_FILES=5          # per leaf dir: 1,000 leaves x 5 = 5,000 files
	BIG_MIB=128
	MEM_FILES=2           # memfs/tmpfs tree: 2,000 files
	FS_TIMEOUT=60         # fsbench per-run cap (dd, tar, find|cat)
	SYS_TIMEOUT=600       # cap for one system's whole fsbench run
else
	REPS=${BENCH_REPS:-$DEFAULT_REPS}
	RAND_SECS=${BENCH_RAND_SECS:-10}
	SRC=$WORK/src
	TREE_FILES=50         # fsbench's own dataset: 50,000 files
	BIG_MIB=1024
	MEM_FILES=10          # memfs/tmpfs tree: 10,000 files
	FS_TIMEOUT=120
	SYS_TIMEOUT=1200
fi
TAR=$WORK/usrinclude.tar
MNTBASE=$WORK/mnt
TMPFS=$WORK/tmpfs
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$WORK/results-$STAMP$([ $QUICK = 1 ] && echo -quick)
TSV=$OUT/results.tsv
BUILD=$REPO/build-bench
VFSMUX=$BUILD/server/vfsmux

# ------------------------------------------------------------------ cleanup (always)
# Every daemon we start and everything we mount is recorded here; cleanup undoes it
# all, whatever happened, and is safe to run twice.
PIDS=()        # daemon pids, same index as MOUNTS entries that are FUSE mounts
MOUNTS=()      # mount points, unmounted in reverse order
TMPD=$(mktemp -d /tmp/vfsmux-bench-bin.XXXXXX) || exit 1

is_mounted() { # is_mounted DIR  (from mountinfo, never touching the mount itself)
	awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# Abort a FUSE connection whose daemon does not answer, so nothing hangs on it.
fuse_abort() {
	local dev minor
	dev=$(awk -v m="$1" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
	minor=${dev#*:}
	[ -n "$minor" ] && [ -w "/sys/fs/fuse/connections/$minor/abort" ] &&
		echo 1 >"/sys/fs/fuse/connections/$minor/abort"
}

stop_daemon() { # stop_daemon PID MOUNTPOINT
	local pid=$1 mnt=$2 i
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			log "daemon $pid did not stop in 15 s: aborting its connection and killing it"
			fuse_abort "$mnt"
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	fi
	if is_mounted "$mnt"; then
		fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	fi
	is_mounted "$mnt" && log "warning: $mnt is still mounted"
	return 0
}

cleanup() {
	local i
	trap - EXIT INT TERM
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		[ -n "${MOUNTS[$i]}" ] || continue
		stop_daemon "${PIDS[$i]:-}" "${MOUNTS[$i]}"
	done
	MOUNTS=() PIDS=()
	if is_mounted "$TMPFS"; then umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS"; fi
	[ -n "$URING_ORIG" ] && echo "$URING_ORIG" >"$URING_PARAM" 2>/dev/null
	rm -rf "$TMPD"
}
# uring_on: switch FUSE over io_uring on for this run (remembering the old value).
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_ORIG=""
uring_on() {
	[ -w "$URING_PARAM" ] || return 1
	[ -n "$URING_ORIG" ] || URING_ORIG=$(cat "$URING_PARAM")
	echo Y >"$URING_PARAM"
}
CHILD=""       # process group of the running harness, killed on interrupt
on_signal() {
	log "interrupted: stopping the harness, the daemons and unmounting"
	[ -n "$CHILD" ] && kill -TERM -- -"$CHILD" 2>/dev/null
	exit 130
}
trap cleanup EXIT
trap on_signal INT TERM HUP

# ------------------------------------------------------------------ 1. tools and builds
find_fsbench() {
	local c common
	for c in "${FSBENCH_DIR:-}" "$REPO/../shared/bench"; do
		[ -n "$c" ] && [ -x "$c/fsbench.sh" ] && { (cd "$c" && pwd); return; }
	done
	# In a git worktree, ../shared sits beside the main checkout instead.
	common=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) &&
		c=$(dirname "$(dirname "$common")")/shared/bench && [ -x "$c/fsbench.sh" ] &&
		{ (cd "$c" && pwd); return; }
	return 1
}
FSBENCH_DIR=$(find_fsbench) || die "cannot find the shared harness (set FSBENCH_DIR=.../shared/bench)"
FSBENCH=$FSBENCH_DIR/fsbench.sh

PTLL_SRC=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
need=()
for pair in fio:fio jq:jq gcc:gcc pkg-config:pkg-config fusermount3:fuse3 meson:meson \
	ninja:ninja-build python3:python3 tar:tar; do
	command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
{ [ -f "$PTLL_SRC" ] || [ -f "$PTLL_SRC.gz" ]; } && pkg-config --exists fuse3 2>/dev/null || need+=(libfuse3-dev)
pkg-config --exists yaml-0.1 2>/dev/null || need+=(libyaml-dev)
pkg-config --exists jansson 2>/dev/null || need+=(libjansson-dev)
if [ ${#need[@]} -gt 0 ]; then
	[ $INSTALL = 1 ] || die "missing: ${need[*]} (run without --no-install, or install them)"
	log "installing: ${need[*]}"
	apt-get install -y "${need[@]}" >"$TMPD/apt.log" 2>&1 ||
		{ apt-get update >>"$TMPD/apt.log" 2>&1 && apt-get install -y "${need[@]}" >>"$TMPD/apt.log" 2>&1; } ||
		{ cat "$TMPD/apt.log" >&2; die "apt-get install failed"; }
fi

mkdir -p "$OUT" "$MNTBASE" || die "cannot create $OUT"
log "results in $OUT"

log "building vfsmux (release) in $BUILD"
# werror off: a benchmark must not stop on a warning that only -O3 raises (the
# warnings still show in build.log, and the debug and ASan builds keep -Werror).
# Always reconfigure: backends/meson.build picks up backend dirs with fs.exists(), which
# meson does not watch, so a newly merged backend would otherwise be left out.
reconf=()
[ -f "$BUILD/build.ninja" ] && reconf=(--reconfigure)
meson setup "${reconf[@]}" "$BUILD" "$REPO" --buildtype=release -Dwerror=false >"$OUT/build.log" 2>&1 ||
	{ tail -30 "$OUT/build.log" >&2; die "meson setup failed"; }
ninja -C "$BUILD" server/vfsmux >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; die "vfsmux build failed"; }

log "building libfuse's passthrough_ll example into $TMPD"
ptll_c=$PTLL_SRC
if [ ! -f "$ptll_c" ]; then # some Debian versions gzip the examples
	gunzip -c "$PTLL_SRC.gz" >"$TMPD/passthrough_ll.c" || die "cannot unpack $PTLL_SRC.gz"
	ptll_c=$TMPD/passthrough_ll.c
fi
# shellcheck disable=SC2046 # pkg-config output is meant to be split
gcc -O2 -I"$(dirname "$PTLL_SRC")" -o "$TMPD/passthrough_ll" "$ptll_c" $(pkg-config --cflags --libs fuse3) \
	>"$OUT/ptll-build.log" 2>&1 || { cat "$OUT/ptll-build.log" >&2; die "passthrough_ll build failed"; }
PTLL=$TMPD/passthrough_ll

# fsbench builds this on first use too; build it now so a compile error stops us early.
STATWALK=$TMPD/statwalk
gcc -O2 -Wall -o "$STATWALK" "$FSBENCH_DIR/statwalk.c" || die "cannot build statwalk"
export STATWALK

# ------------------------------------------------------------------ 2. dataset (once)
log "preparing the dataset in $SRC"
if [ $QUICK = 1 ]; then
	if [ ! -d "$SRC/tree" ]; then
		python3 "$HERE/mktree.py" "$SRC/tree.tmp" --files $TREE_FILES >/dev/null &&
			mv "$SRC/tree.tmp" "$SRC/tree" || die "cannot build $SRC/tree"
	fi
	if [ ! -f "$SRC/big.bin" ]; then
		head -c $((BIG_MIB << 20)) /dev/urandom >"$SRC/big.bin.tmp" && mv "$SRC/big.bin.tmp" "$SRC/big.bin" ||
			die "cannot write $SRC/big.bin"
	fi
fi
# The harness's --prepare skips what exists: in --quick it only adds the tarball and inc/.
"$FSBENCH" --prepare "$SRC" "$TAR" >"$OUT/prepare.log" 2>&1 || { cat "$OUT/prepare.log" >&2; die "dataset preparation failed"; }
# Stray scratch dirs from an interrupted earlier run would be walked too.
rm -rf "$SRC"/fsbench-scratch.* "$SRC"/.fsbench-probe.*
for d in aux1 aux2; do
	if [ ! -d "$WORK/$d" ]; then
		mkdir -p "$WORK/$d" && for i in $(seq 20); do echo "$d $i" >"$WORK/$d/f$i"; done
	fi
done
TREE_ENTRIES=$(find "$SRC/tree" -mindepth 1 | wc -l)
log "dataset: $TREE_ENTRIES entries in tree/, big.bin $(($(stat -c %s "$SRC/big.bin") >> 20)) MiB"

# ------------------------------------------------------------------ machine description
{
	echo "date: $(date -u +%FT%TZ)"
	echo "command: bench/run.sh $([ $QUICK = 1 ] && echo --quick) --systems \"$SYSTEMS\"$([ -n "$ONLY" ] && echo " --only \"$ONLY\"") --rounds $ROUNDS"
	echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (dirty)')"
	echo "kernel: $(uname -sr)"
	echo "cpus: $(nproc) ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"
	echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "dataset fs: $(findmnt -n -o FSTYPE,SOURCE -T "$SRC" | tr -s ' ')"
	echo "RLIMIT_NOFILE: $(ulimit -Sn) soft / $(ulimit -Hn) hard"
	echo "libfuse: $(pkg-config --modversion fuse3)   fio: $(fio --version)"
	echo "load average at start: $(cut -d" " -f1-3 /proc/loadavg)"
	echo "rounds: $ROUNDS (systems round-robin), reps per round: $REPS, random-read seconds: $RAND_SECS, tree entries: $TREE_ENTRIES"
} | tee "$OUT/machine.txt" >&2

# ------------------------------------------------------------------ helpers
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
vmrss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null; }
tsv() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; } # label name median unit runs note

# start_fuse LABEL MOUNTPOINT READY_PATH CMD...: start a daemon in the background,
# wait until READY_PATH is reachable through the mount; records the mount time.
DPID=""
start_fuse() {
	local label=$1 mnt=$2 ready=$3 t0 t1 i
	shift 3
	mkdir -p "$mnt"
	is_mounted "$mnt" && die "$mnt is already mounted (left by an earlier run? umount -l it)"
	drop_caches
	t0=$(date +%s.%N)
	"$@" >"$OUT/$label.daemon.log" 2>&1 &
	DPID=$!
	MOUNTS+=("$mnt")
	PIDS+=("$DPID")
	for i in $(seq 200); do
		kill -0 "$DPID" 2>/dev/null || { tail -20 "$OUT/$label.daemon.log" >&2; log "$label: daemon exited at start"; return 1; }
		is_mounted "$mnt" && timeout 5 ls "$ready" >/dev/null 2>&1 && break
		sleep 0.05
	done
	is_mounted "$mnt" || { log "$label: not mounted after 10 s"; return 1; }
	t1=$(date +%s.%N)
	tsv "$label" rss_at_mount "$(vmrss "$DPID")" kB "" "daemon VmRSS once mounted"
	tsv "$label" mount_time "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" s "" "start until $ready lists"
	return 0
}

stop_fuse() { # stop the most recently started daemon
	local n=$((${#MOUNTS[@]} - 1))
	[ $n -ge 0 ] || return 0
	stop_daemon "${PIDS[$n]}" "${MOUNTS[$n]}"
	unset "MOUNTS[$n]" "PIDS[$n]"
	MOUNTS=("${MOUNTS[@]}") PIDS=("${PIDS[@]}")
}

# fsbench LABEL DIR PID [ONLY]: run the shared harness, log, and note EMFILE failures.
fsbench() {
	local label=$1 dir=$2 pid=$3 only=${4:-} rss0
	local load0
	load0=$(cut -d' ' -f1 /proc/loadavg)
	log "== $label: fsbench on $dir (load average $load0)"
	if [ -n "$pid" ]; then
		rss0=$(vmrss "$pid")
		[ -n "$rss0" ] && tsv "$label" rss_before_walk "$rss0" kB "" "daemon VmRSS just before the walks"
	fi
	# In the background and waited for, so that a signal's trap runs at once.
	(FSBENCH_LABEL=$label FSBENCH_TSV=$TSV FSBENCH_PID=$pid FSBENCH_REPS=$REPS \
		FSBENCH_RAND_SECS=$RAND_SECS FSBENCH_TAR=$TAR FSBENCH_TIMEOUT=$FS_TIMEOUT \
		FSBENCH_ONLY=${only:-${ONLY:-$ALL_WORKLOADS}} \
		timeout -k 10 $SYS_TIMEOUT "$FSBENCH" "$dir" 2>&1 | tee "$OUT/$label.log") &
	CHILD=$!
	wait "$CHILD"
	[ $? = 124 ] && tsv "$label" note - - "" "fsbench stopped after ${SYS_TIMEOUT}s"
	CHILD=""
	# The machine may be shared: record how busy it was around this system's run.
	tsv "$label" loadavg "$load0" "" "$load0,$(cut -d' ' -f1 /proc/loadavg)" "1-min load average before,after"
	local emfile
	emfile=$(grep -c 'Too many open files' "$OUT/$label.log")
	[ "$emfile" -gt 0 ] && tsv "$label" note - - "" \
		"$emfile run(s) failed with EMFILE (Too many open files); RLIMIT_NOFILE $(ulimit -Hn)"
	if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
		tsv "$label" note - - "" "the daemon died during the run"
		log "$label: the daemon died during the run"
	fi
	return 0
}

# vfsmux_config FILE MOUNTPOINT ENTRY_ATTR_TIMEOUT MOUNT_JSON...: a JSON config;
# FUSE_JSON, when set, is the body of its "fuse" map.
vfsmux_config() {
	local f=$1 mnt=$2 tmo=$3 sep="" m
	shift 3
	{
		printf '{\n  "mountpoint": "%s",\n' "$mnt"
		[ -n "${FUSE_JSON:-}" ] && printf '  "fuse": {%s},\n' "$FUSE_JSON"
		printf '  "timeouts": {"entry": %s, "attr": %s, "negative": 0},\n' "$tmo" "$tmo"
		printf '  "mounts": [\n'
		for m in "$@"; do printf '%s    %s' "$sep" "$m"; sep=$',\n'; done
		printf '\n  ]\n}\n'
	} >"$f"
}
pt_mount() { printf '{"path": "%s", "type": "passthrough", "source": "%s"}' "$1" "$2"; }

# run_vfsmux LABEL TIMEOUT SUBDIR ONLY MOUNT_JSON...: mount, run fsbench on MNT/SUBDIR, unmount.
run_vfsmux() {
	local label=$1 tmo=$2 sub=$3 only=$4 mnt=$MNTBASE/$1 cfg=$OUT/$1.json
	shift 4
	vfsmux_config "$cfg" "$mnt" "$tmo" "$@"
	if start_fuse "$label" "$mnt" "$mnt/$sub" "$VFSMUX" run -c "$cfg"; then
		fsbench "$label" "$mnt/$sub" "$DPID" "$only"
	else
		tsv "$label" note - - "" "vfsmux did not mount (see $label.daemon.log)"
	fi
	stop_fuse
}

# stat_rewarm LABEL TREE: the stat walk a third time (cold, warm, then this). The
# warm pass still sends one GETATTR per directory, as the cold pass's READDIRs
# made the kernel drop each directory's cached atime; this pass sends nothing,
# so its rate is what the warm pass would reach with a daemon that cost nothing.
stat_rewarm() {
	local label=$1 tree=$2 i o runs=()
	for i in $(seq "$REPS"); do
		drop_caches
		for _ in 1 2; do "$STATWALK" walk "$tree" >/dev/null || break; done
		o=$("$STATWALK" walk "$tree") && runs+=("$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$o")") || runs+=(FAIL)
	done
	tsv "$label" stat_rewarm "$(printf '%s\n' "${runs[@]}" | grep -v FAIL | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); else print "FAIL" }')" \
		entries/s "$(IFS=,; echo "${runs[*]}")" "third walk after a cold one: no request reaches the daemon"
}

# run_small LABEL MOUNT_JSON: memfs vs passthrough-over-tmpfs, same workload for both.
run_small() {
	local label=$1 m=$2 mnt=$MNTBASE/$1 cfg=$OUT/$1.json o
	vfsmux_config "$cfg" "$mnt" 86400 "$m"
	if start_fuse "$label" "$mnt" "$mnt/m" "$VFSMUX" run -c "$cfg"; then
		log "== $label: building a tree of $((MEM_FILES * 1000)) files through the mount"
		if o=$(timeout $SYS_TIMEOUT python3 "$HERE/mktree.py" "$mnt/m/tree" --files $MEM_FILES 2>&1); then
			tsv "$label" populate "$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$o")" files/s "" \
				"mktree.py through the mount: 1,110 mkdir + $((MEM_FILES * 1000)) create+write 256 B+close"
		else
			tsv "$label" populate FAIL files/s FAIL "mktree.py: $o"
		fi
		fsbench "$label" "$mnt/m" "$DPID" "stat readdir create"
		stat_rewarm "$label" "$mnt/m/tree"
	else
		tsv "$label" note - - "" "vfsmux did not mount (see $label.daemon.log)"
	fi
	stop_fuse
}

# ------------------------------------------------------------------ 3. the systems
: >"$TSV"
T_START=$(date +%s)
for round in $(seq "$ROUNDS"); do
	[ "$ROUNDS" -gt 1 ] && log "=== round $round of $ROUNDS"
	for sys in $SYSTEMS; do
		case $sys in
		native)
			fsbench native "$SRC" ""
			;;
		passthrough_ll)
			# Default cache (cache=auto: 1 s entry/attr timeouts), multithreaded, foreground.
			mnt=$MNTBASE/ptll
			if start_fuse passthrough_ll "$mnt" "$mnt/tree" "$PTLL" -f -o source="$SRC" "$mnt"; then
				fsbench passthrough_ll "$mnt" "$DPID"
			else
				tsv passthrough_ll note - - "" "passthrough_ll did not mount"
			fi
			stop_fuse
			;;
		vfsmux-1)
			run_vfsmux vfsmux-1 86400 data "" "$(pt_mount /data "$SRC")"
			;;
		vfsmux-3)
			# The dataset is the last of three mounts, so any per-mount lookup cost shows.
			run_vfsmux vfsmux-3 86400 data "" "$(pt_mount /aux1 "$WORK/aux1")" \
				"$(pt_mount /aux2 "$WORK/aux2")" "$(pt_mount /data "$SRC")"
			;;
		vfsmux-1-t1)
			# vfsmux with passthrough_ll's default 1 s timeouts: the metadata walks only.
			run_vfsmux vfsmux-1-t1 1 data "stat readdir" "$(pt_mount /data "$SRC")"
			;;
		vfsmux-1-uring)
			# vfsmux-1 taking its requests over io_uring (needs kernel 6.14+).
			if uring_on; then
				FUSE_JSON='"io_uring": true' run_vfsmux vfsmux-1-uring 86400 data "" \
					"$(pt_mount /data "$SRC")"
			else
				tsv vfsmux-1-uring note - - "" "no writable $URING_PARAM: io_uring unavailable"
			fi
			;;
		vfsmux-3-uring)
			if uring_on; then
				FUSE_JSON='"io_uring": true' run_vfsmux vfsmux-3-uring 86400 data "" \
					"$(pt_mount /aux1 "$WORK/aux1")" "$(pt_mount /aux2 "$WORK/aux2")" \
					"$(pt_mount /data "$SRC")"
			else
				tsv vfsmux-3-uring note - - "" "no writable $URING_PARAM: io_uring unavailable"
			fi
			;;
		vfsmux-1-nokp)
			# vfsmux-1 with kernel passthrough off: every READ and WRITE through the daemon.
			FUSE_JSON='"passthrough": false' run_vfsmux vfsmux-1-nokp 86400 data "" \
				"$(pt_mount /data "$SRC")"
			;;
		passthrough-tmpfs | memfs | passthrough-tmpfs-uring | memfs-uring)
			fj=""
			if [ "${sys%-uring}" != "$sys" ]; then
				if ! uring_on; then
					tsv "$sys" note - - "" "no writable $URING_PARAM: io_uring unavailable"
					continue
				fi
				fj='"io_uring": true'
			fi
			if ! is_mounted "$TMPFS"; then
				mkdir -p "$TMPFS" && mount -t tmpfs -o size=4g,mode=0755 vfsmux-bench "$TMPFS" ||
					die "cannot mount tmpfs on $TMPFS"
			fi
			rm -rf "${TMPFS:?}/pt" && mkdir -p "$TMPFS/pt"
			if [ "${sys%-uring}" = memfs ]; then
				FUSE_JSON=$fj run_small "$sys" '{"path": "/m", "type": "memfs"}'
			else
				FUSE_JSON=$fj run_small "$sys" "$(pt_mount /m "$TMPFS/pt")"
			fi
			rm -rf "${TMPFS:?}/pt"
			;;
		esac
	done
done
T_END=$(date +%s)
if is_mounted "$TMPFS"; then umount "$TMPFS" || umount -l "$TMPFS"; fi

# ------------------------------------------------------------------ 4. the table
python3 "$HERE/table.py" "$TSV" --machine "$OUT/machine.txt" \
	--elapsed $((T_END - T_START)) >"$OUT/table.md" || die "table.py failed"
echo
cat "$OUT/table.md"
log "done in $((T_END - T_START)) s; raw rows in $TSV, logs and table.md in $OUT"
