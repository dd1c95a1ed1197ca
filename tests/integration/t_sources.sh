#!/usr/bin/env bash
# t_sources.sh - passthrough over sources on different host filesystems (issue 9
# item 4): xfs (a loop file), kernel overlayfs (lower+upper+work) and tmpfs.
# Each is served by one passthrough mount of one daemon:
#   /xfs   passthrough $XFS   (skipped when mkfs.xfs or loop devices are missing)
#   /ovl   passthrough $OVL   (overlayfs without nfs_export: no decodable file handles)
#   /tmpfs passthrough $TMPFS
# The same workload runs through each (create, write, read back by checksum,
# rename, hard link st_ino, symlink, mkdir/rmdir, user xattr, chmod, truncate)
# and is checked on the host side too. The daemon logs for each source whether
# it found inodes by "handles" or by "names": checked per filesystem.
# The daemon runs with -v (a log line per request): a close(2) after a write
# must cost no FLUSH on the local filesystems (FOPEN_NOFLUSH), and must still
# send one on overlayfs, whose own flush the backend passes on.
. "$(dirname "$0")/lib.sh"

XFS=$WORK/xfs
OVL=$WORK/ovl/merged
TMPFS=$WORK/tmpfs
mkdir -p "$XFS" "$TMPFS" "$WORK/ovl/lower/sub" "$WORK/ovl/upper" "$WORK/ovl/work" "$OVL"

# Every host mount goes into $WORK/mounts first, so it_cleanup detaches it even if
# this script dies half-way; a loop device made by `mount -o loop` is freed by
# the kernel itself once its filesystem is gone (autoclear).
host_mount() {
	echo "${*: -1}" >>"$WORK/mounts"
	mount "$@"
}

have_xfs=1
if ! command -v mkfs.xfs >/dev/null; then
	it_log "SKIP part: mkfs.xfs not found (apt-get install xfsprogs); no xfs source"
	have_xfs=0
elif [ ! -e /dev/loop-control ] && [ ! -e /dev/loop0 ]; then
	it_log "SKIP part: no loop devices (/dev/loop-control); no xfs source"
	have_xfs=0
else
	# 300 MiB is mkfs.xfs's smallest filesystem; the file is sparse.
	truncate -s 320M "$WORK/xfs.img" || die "cannot make $WORK/xfs.img"
	if ! mkfs.xfs -q "$WORK/xfs.img" >"$WORK/mkfs.log" 2>&1; then
		it_log "SKIP part: mkfs.xfs failed: $(tail -n 1 "$WORK/mkfs.log"); no xfs source"
		have_xfs=0
	elif ! host_mount -o loop "$WORK/xfs.img" "$XFS" 2>"$WORK/loop.log"; then
		it_log "SKIP part: cannot mount the xfs loop file: $(tail -n 1 "$WORK/loop.log"); no xfs source"
		have_xfs=0
	fi
fi

echo lower-content >"$WORK/ovl/lower/from-lower"
echo lower-sub >"$WORK/ovl/lower/sub/inner"
# nfs_export=off (also the module default): overlayfs then cannot decode file
# handles, so the backend must reach inodes by name and still work.
host_mount -t overlay overlay -o "lowerdir=$WORK/ovl/lower,upperdir=$WORK/ovl/upper,workdir=$WORK/ovl/work,nfs_export=off,index=off" "$OVL" ||
	die "cannot mount an overlayfs"
host_mount -t tmpfs -o size=64m,mode=0755 vfsmux-src "$TMPFS" || die "cannot mount a tmpfs"

CFG=$WORK/sources.yaml
{
	echo "mountpoint: $MNT"
	echo "mounts:"
	[ "$have_xfs" = 1 ] && echo "  - {path: /xfs, type: passthrough, source: $XFS}"
	echo "  - {path: /ovl, type: passthrough, source: $OVL}"
	echo "  - {path: /tmpfs, type: passthrough, source: $TMPFS}"
} | write_config "$CFG"
mount_or_die "$CFG" -v

# The mode the daemon logged for source SRC: "handles" or "names".
inode_mode() {
	sed -n "s|^.*passthrough $1: inodes by \(.*\), fd cache .*$|\1|p" "$WORK/daemon.log" | head -n 1
}

sum() { sha256sum <"$1" | cut -d' ' -f1; }

# requests NONE GOT CHECK: with NONE "yes", CHECK is that GOT (a count of requests
# in the log) is 0; otherwise that it is above 0.
requests() {
	if [ "$1" = yes ]; then
		eq "$3" 0 "$2"
	else
		[ "$2" -gt 0 ] && it_pass "$3" || it_fail "$3" "none in the log"
	fi
}

# flushes NAME DIR WANT: write and close a file in DIR; WANT is "none" or "some"
# FLUSH requests in the debug log for that close.
flushes() {
	local n=$1 d=$2 want=$3 before got
	before=$(wc -l <"$WORK/daemon.log")
	echo probe >"$d/flush-probe"
	got=$(tail -n +"$((before + 1))" "$WORK/daemon.log" | grep -c ' FLUSH(')
	rm -f "$d/flush-probe"
	if [ "$want" = none ]; then
		requests yes "$got" "$n: close(2) after a write sends no FLUSH"
	else
		requests no "$got" "$n: close(2) after a write sends a FLUSH"
	fi
}

# kernel_io NAME DIR SRC WANT: write, read back, mmap-write and read again a file
# in DIR (SRC on the host); WANT "kernel" means no READ or WRITE request may reach
# the daemon (kernel passthrough: the kernel does the I/O on the host file),
# "daemon" means they must (a stacked source: overlayfs is refused as a backing
# filesystem with max_stack_depth 1, and such files take the ordinary path).
kernel_io() {
	local n=$1 d=$2 s=$3 want=$4 before got
	before=$(wc -l <"$WORK/daemon.log")
	head -c 200000 /dev/urandom >"$WORK/io.$n"
	ok "$n: write a file" cp "$WORK/io.$n" "$d/io"
	eq "$n: it reads back" "$(sum "$WORK/io.$n")" "$(sum "$d/io")"
	ok "$n: write through a shared mapping" python3 -c "
import mmap, os
fd = os.open('$d/io', os.O_RDWR)
m = mmap.mmap(fd, 8192)
m[4096:4101] = b'MMAP!'
m.flush(); m.close(); os.close(fd)"
	eq "$n: the host file has the mapped bytes" 'MMAP!' "$(dd if="$s/io" bs=1 skip=4096 count=5 status=none)"
	eq "$n: and so does a read through the mount" 'MMAP!' "$(dd if="$d/io" bs=1 skip=4096 count=5 status=none)"
	printf 'HOST!' | dd of="$s/io" bs=1 seek=8192 conv=notrunc status=none
	eq "$n: a host-side write shows through the mount at once" 'HOST!' \
		"$(dd if="$d/io" bs=1 skip=8192 count=5 status=none)"
	# A file unlinked while open lives on through the kernel's backing file;
	# the calls that still come to the daemon (fsync, truncate, fallocate,
	# lseek) use the daemon's own fd of that open.
	ok "$n: write, fsync, truncate, fallocate and SEEK_HOLE on an unlinked open file" python3 -c "
import os
p = '$d/unlinked'
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.unlink(p)
os.write(fd, b'u' * 100000)
os.fsync(fd)
assert os.pread(fd, 100000, 0) == b'u' * 100000
os.ftruncate(fd, 10)
assert os.fstat(fd).st_size == 10
os.posix_fallocate(fd, 0, 1 << 20)
assert os.fstat(fd).st_size == 1 << 20
assert os.pread(fd, 12, 0) == b'u' * 10 + bytes(2)
assert os.lseek(fd, 0, os.SEEK_HOLE) <= 1 << 20
os.close(fd)"
	eq "$n: the unlinked file is gone from the host" no "$([ -e "$s/unlinked" ] && echo yes || echo no)"
	got=$(tail -n +"$((before + 1))" "$WORK/daemon.log" | grep -cE ' (READ|WRITE)\(')
	rm -f "$d/io"
	if [ "$want" = kernel ]; then
		requests yes "$got" "$n: no READ or WRITE reached the daemon (kernel passthrough)"
	else
		requests no "$got" "$n: READ and WRITE went through the daemon"
	fi
}

# workload NAME DIR SRC: DIR is the mount's view of host directory SRC.
workload() {
	local n=$1 d=$2 s=$3 want i1 i2
	head -c 300000 /dev/urandom >"$WORK/data.$n"
	want=$(sum "$WORK/data.$n")
	ok "$n: create and write a file" cp "$WORK/data.$n" "$d/file"
	eq "$n: read back through the mount" "$want" "$(sum "$d/file")"
	eq "$n: the host source has the same bytes" "$want" "$(sum "$s/file")"
	echo tail >>"$d/file"
	eq "$n: an append shows on the host" 300005 "$(stat -c %s "$s/file")"
	ok "$n: rename" mv "$d/file" "$d/renamed"
	eq "$n: the old name is gone on the host" no "$([ -e "$s/file" ] && echo yes || echo no)"
	eq "$n: the new name has the data" "$want" "$(head -c 300000 "$d/renamed" | sha256sum | cut -d' ' -f1)"
	ok "$n: hard link" ln "$d/renamed" "$d/hard"
	i1=$(stat -c %i "$d/renamed")
	i2=$(stat -c %i "$d/hard")
	eq "$n: both names of a hard link share st_ino" "$i1" "$i2"
	eq "$n: link count 2" 2 "$(stat -c %h "$d/renamed")"
	ok "$n: symlink" ln -s renamed "$d/sym"
	eq "$n: readlink" renamed "$(readlink "$d/sym")"
	eq "$n: the host has the symlink" renamed "$(readlink "$s/sym")"
	eq "$n: a read through the symlink" 300005 "$(wc -c <"$d/sym")"
	ok "$n: mkdir" mkdir -p "$d/dir/sub"
	eq "$n: a new dir's link count" 3 "$(stat -c %h "$d/dir")"
	ok "$n: rmdir" rmdir "$d/dir/sub" "$d/dir"
	eq "$n: rmdir reached the host" no "$([ -e "$s/dir" ] && echo yes || echo no)"
	ok "$n: setfattr user.x" setfattr -n user.x -v "val-$n" "$d/renamed"
	eq "$n: getfattr user.x" "val-$n" "$(getfattr --absolute-names --only-values -n user.x "$d/renamed" 2>&1)"
	eq "$n: the host has user.x" "val-$n" "$(getfattr --absolute-names --only-values -n user.x "$s/renamed" 2>&1)"
	ok "$n: chmod" chmod 0640 "$d/renamed"
	eq "$n: the mode on the mount" 640 "$(stat -c %a "$d/renamed")"
	eq "$n: the mode on the host" 640 "$(stat -c %a "$s/renamed")"
	# The kernel applies the caller's umask; the daemon's own must not apply again.
	(umask 000 && touch "$d/umask0" && mkdir "$d/umask0.d")
	eq "$n: a file created with umask 0 is 0666 on the host" 666 "$(stat -c %a "$s/umask0")"
	eq "$n: a dir created with umask 0 is 0777 on the host" 777 "$(stat -c %a "$s/umask0.d")"
	rm -rf "$d/umask0" "$d/umask0.d"
	ok "$n: truncate" truncate -s 1000 "$d/hard"
	eq "$n: the truncated size through the other name" 1000 "$(stat -c %s "$d/renamed")"
	eq "$n: truncate kept the head" "$(head -c 1000 "$WORK/data.$n" | sha256sum)" "$(sha256sum <"$d/renamed")"
	# st_ino is the file's for its life, even after the kernel evicts its inode
	# (the backend then forgets it): as on the host, a later stat gives the same.
	i1=$(stat -c %i "$d/renamed")
	sync
	echo 2 >/proc/sys/vm/drop_caches
	eq "$n: st_ino unchanged after the kernel dropped its inodes" "$i1" "$(stat -c %i "$d/renamed")"
	ok "$n: unlink" rm "$d/renamed" "$d/hard" "$d/sym"
	eq "$n: the directory is empty again" "" "$(ls -A "$d" | grep -v -e '^from-lower$' -e '^sub$' | paste -sd' ' -)"
}

if [ "$have_xfs" = 1 ]; then
	eq "xfs: inodes by file handles" handles "$(inode_mode "$XFS")"
	workload xfs "$MNT/xfs" "$XFS"
	flushes xfs "$MNT/xfs" none
	kernel_io xfs "$MNT/xfs" "$XFS" kernel
fi

eq "overlayfs without nfs_export: inodes by names" "names" "$(inode_mode "$OVL")"
workload ovl "$MNT/ovl" "$OVL"
flushes ovl "$MNT/ovl" some
kernel_io ovl "$MNT/ovl" "$OVL" daemon
eq "ovl: a lower file reads through" lower-content "$(cat "$MNT/ovl/from-lower")"
echo changed >"$MNT/ovl/from-lower"
eq "ovl: writing a lower file copies it up" changed "$(cat "$WORK/ovl/upper/from-lower")"
eq "ovl: the lower layer is untouched" lower-content "$(cat "$WORK/ovl/lower/from-lower")"
ok "ovl: rename a lower directory" mv "$MNT/ovl/sub" "$MNT/ovl/sub2"
eq "ovl: its file reads after the rename" lower-sub "$(cat "$MNT/ovl/sub2/inner")"
ok "ovl: remove a lower file" rm "$MNT/ovl/from-lower"
eq "ovl: the removal is hidden from the mount" no "$([ -e "$MNT/ovl/from-lower" ] && echo yes || echo no)"

eq "tmpfs: inodes by file handles" handles "$(inode_mode "$TMPFS")"
workload tmpfs "$MNT/tmpfs" "$TMPFS"
flushes tmpfs "$MNT/tmpfs" none
kernel_io tmpfs "$MNT/tmpfs" "$TMPFS" kernel

stop_daemon
eq "daemon exits 0 on SIGTERM" 0 "$DAEMON_RC"
summary
