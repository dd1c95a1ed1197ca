#!/usr/bin/env bash
# t_export.sh - file handles on the mount (issue 15 item 13): name_to_handle_at
# and open_by_handle_at, what an NFS server re-exporting the mount relies on.
# Handles of files and directories in a passthrough mount, a memfs mount, the
# pseudofs and the root are taken; `echo 2 > drop_caches` makes the kernel
# forget the inodes (FORGET); reopened by handle, the kernel then asks the daemon
# LOOKUP(nodeid, ".") for each and LOOKUP(dir, "..") up to the root to reconnect
# a directory. Contents and paths must come back; a handle of a removed file
# must give ESTALE, also when the host gave its inode number to a new file (the
# nodeid is then the same and only the generation tells them apart).
# Mounts: /srv/pt passthrough $WORK/src, /mem memfs. $WORK/src is a small ext4
# of its own (a loop file) when mkfs.ext4 and loop devices are there: nothing
# else allocates inodes on it, so a removed file's number goes to the next file.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 not found"
FH="python3 $(dirname "$0")/fhandle.py"
SRC=$WORK/src
mkdir -p "$SRC" "$WORK/h"
if command -v mkfs.ext4 >/dev/null && truncate -s 16M "$WORK/ext4.img" &&
	mkfs.ext4 -q -F "$WORK/ext4.img" >/dev/null 2>&1; then
	echo "$SRC" >>"$WORK/mounts"
	mount -o loop "$WORK/ext4.img" "$SRC" 2>/dev/null ||
		it_log "SKIP part: cannot mount an ext4 loop file; the source is $WORK's filesystem"
fi
mkdir -p "$SRC/dir/sub"
rm -rf "$SRC/lost+found"
echo pt-content >"$SRC/dir/sub/file"
echo pt-gone >"$SRC/gone"

CFG=$WORK/export.yaml
write_config "$CFG" <<EOF
mountpoint: $MNT
mounts:
  - {path: /srv/pt, type: passthrough, source: $SRC}
  - {path: /mem, type: memfs}
EOF
mount_or_die "$CFG" -v
PT=$MNT/srv/pt
M=$MNT/mem
mkdir -p "$M/dir/sub"
echo mem-content >"$M/dir/sub/file"
echo mem-gone >"$M/gone"

drop_caches() { sync; echo 2 >/proc/sys/vm/drop_caches; }

# name PATH: save PATH's handle as $WORK/h/name
for spec in ptfile:$PT/dir/sub/file ptsub:$PT/dir/sub ptroot:$PT pseudo:$MNT/srv \
	root:$MNT memfile:$M/dir/sub/file memsub:$M/dir/sub memroot:$M \
	ptgone:$PT/gone memgone:$M/gone; do
	ok "name_to_handle_at ${spec%%:*}" $FH save "${spec#*:}" "$WORK/h/${spec%%:*}"
done
ptfile_ino=$(stat -c %i "$PT/dir/sub/file")
memfile_ino=$(stat -c %i "$M/dir/sub/file")
rm "$PT/gone" "$M/gone"

drop_caches
lines_before=$(wc -l <"$WORK/daemon.log")

eq "passthrough file by handle after drop_caches" pt-content "$($FH cat "$MNT" "$WORK/h/ptfile" 2>&1)"
eq "memfs file by handle after drop_caches" mem-content "$($FH cat "$MNT" "$WORK/h/memfile" 2>&1)"
# The kernel had forgotten them: it asked LOOKUP(file nodeid, ".") (a LOOKUP on a
# regular file's nodeid can be nothing else).
new_log=$(tail -n +"$((lines_before + 1))" "$WORK/daemon.log")
contains "the kernel asked LOOKUP \".\" of the passthrough file" "$new_log" \
	"LOOKUP(1) nodeid $(printf '%#x' "$ptfile_ino") len 42"
contains "the kernel asked LOOKUP \".\" of the memfs file" "$new_log" \
	"LOOKUP(1) nodeid $(printf '%#x' "$memfile_ino") len 42"

drop_caches
eq "passthrough directory by handle lists" file "$($FH ls "$MNT" "$WORK/h/ptsub" 2>&1)"
eq "memfs directory by handle lists" file "$($FH ls "$MNT" "$WORK/h/memsub" 2>&1)"
drop_caches
# A directory is reconnected up to the root with LOOKUP ".." (mount root -> pseudofs).
eq "passthrough directory by handle reconnects to its path" "$PT/dir/sub" \
	"$($FH path "$MNT" "$WORK/h/ptsub" 2>&1)"
eq "memfs directory by handle reconnects to its path" "$M/dir/sub" \
	"$($FH path "$MNT" "$WORK/h/memsub" 2>&1)"
drop_caches
eq "passthrough mount root by handle" "dir" "$($FH ls "$MNT" "$WORK/h/ptroot" 2>&1)"
eq "memfs mount root by handle" dir "$($FH ls "$MNT" "$WORK/h/memroot" 2>&1)"
eq "pseudofs directory by handle" "pt" "$($FH ls "$MNT" "$WORK/h/pseudo" 2>&1)"
eq "root by handle" "mem srv" "$($FH ls "$MNT" "$WORK/h/root" 2>&1)"

drop_caches
fails "handle of a removed passthrough file is ESTALE" ESTALE $FH cat "$MNT" "$WORK/h/ptgone"
fails "handle of a removed memfs file is ESTALE" ESTALE $FH cat "$MNT" "$WORK/h/memgone"

# The host reuses a removed file's inode number (ext4 does): the new file gets
# the old nodeid back once the kernel forgot the old one, with another generation.
echo old >"$PT/reuse-old"
old_ino=$(stat -c %i "$PT/reuse-old")
ok "name_to_handle_at of the file to remove" $FH save "$PT/reuse-old" "$WORK/h/reuse"
rm "$PT/reuse-old"
drop_caches
# The host frees the inode only once the daemon has processed the FORGET that
# drop_caches queued and closed its cached fd of it: wait for that.
held_old() { ls -l "/proc/$DPID/fd" 2>/dev/null | grep -qF "$SRC/reuse-old (deleted)"; }
for _ in $(seq 1 200); do held_old || break; sleep 0.05; done
held_old && it_fail "the daemon let go of the removed file after drop_caches"
provoked=0
for i in $(seq 1 200); do
	echo "new $i" >"$PT/reuse-new$i"
	if [ "$(stat -c %i "$PT/reuse-new$i")" = "$old_ino" ]; then
		provoked=$i
		break
	fi
done
if [ "$provoked" = 0 ]; then
	it_log "SKIP part: the host did not reuse the inode number; no nodeid reuse to check"
else
	drop_caches
	stat "$PT/reuse-new$provoked" >/dev/null # the backend knows the new file by that number
	fails "an old handle of a reused nodeid is ESTALE, not the new file" ESTALE \
		$FH cat "$MNT" "$WORK/h/reuse"
	eq "the new file under the reused nodeid reads" "new $provoked" "$(cat "$PT/reuse-new$provoked")"
fi

# Handles of files still known stay good without drop_caches too.
eq "handle of a cached file" pt-content "$($FH cat "$MNT" "$WORK/h/ptfile" 2>&1)"
stop_daemon
eq "daemon exits 0" 0 "$DAEMON_RC"
summary
