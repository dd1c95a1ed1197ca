#!/usr/bin/env bash
# t_source_gone.sh - a passthrough source directory removed while mounted (issue
# 15 item 8). Before: listings came back empty (not even "."), every call ENOENT,
# nothing logged. Now the mount answers ESTALE ("Stale file handle") to every
# call but I/O on files already open, logs it once, and stays so when a new
# directory appears at the source path (another directory: restart to serve it).
# Mounts: /x passthrough $WORK/src (timeouts 0: every call reaches the daemon),
# /m memfs (must not be affected).
. "$(dirname "$0")/lib.sh"

SRC=$WORK/src
mkdir -p "$SRC/sub"
echo kept-open >"$SRC/open-me"
echo data >"$SRC/sub/file"
CFG=$WORK/gone.yaml
write_config "$CFG" <<EOF
mountpoint: $MNT
mounts:
  - path: /x
    type: passthrough
    source: $SRC
    timeouts: {entry: 0, attr: 0, negative: 0}
  - {path: /m, type: memfs}
EOF
mount_or_die "$CFG"
X=$MNT/x
STALE="Stale file handle"

eq "the source lists before" "open-me sub" "$(names "$X")"
exec 7<"$X/open-me"
rm -rf "$SRC"

fails "ls of the removed source's mount is ESTALE" "$STALE" ls "$X"
fails "stat of its root is ESTALE" "$STALE" stat "$X"
fails "stat of a file in it is ESTALE" "$STALE" stat "$X/sub/file"
fails "creating a file in it is ESTALE" "$STALE" touch "$X/new"
fails "mkdir in it is ESTALE" "$STALE" mkdir "$X/newdir"
# read(2) only: fstat(2) of it would send a GETATTR without a handle (ESTALE).
line=
read -r line <&7
eq "a file open before still reads" kept-open "$line"
exec 7<&-
eq "the pseudo directory still shows the mount point" "m x" "$(names "$MNT")"
ok "another mount is not affected" sh -c "echo hi >'$MNT/m/f' && [ \"\$(cat '$MNT/m/f')\" = hi ]"
eq "logged once" 1 "$(grep -c "mount /x: passthrough source $SRC was removed while mounted" "$WORK/daemon.log")"

# A new directory at the same path is another directory: the mount stays gone.
mkdir -p "$SRC" && echo back >"$SRC/back"
fails "a new directory at the source path is not served" "$STALE" ls "$X"
fails "nor its files" "$STALE" cat "$X/back"
eq "still logged once" 1 "$(grep -c "source $SRC was removed while mounted" "$WORK/daemon.log")"

stop_daemon
eq "daemon exits 0" 0 "$DAEMON_RC"
summary
