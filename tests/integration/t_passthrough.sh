#!/usr/bin/env bash
# t_passthrough.sh - host directories behind the multiplexer (issue 9).
# Mounts (index = position + 1, so st_ino >> 48 names the mount):
#   1 /p1        passthrough $SRC
#   2 /p2        passthrough $SRC (the same host dir again)
#   3 /other/q   passthrough $SRC2 (under a pseudo dir)
#   4 /ro        passthrough $SRC2, readonly
#   5 /big       passthrough $BIG (30,000 files), fd_cache 1000
#   6 /mapped    passthrough $SRC2, id_map inside 0 <-> outside 1000, 65536 ids
# The daemon runs with RLIMIT_NOFILE 4096 for the whole test.
. "$(dirname "$0")/lib.sh"

SRC=$WORK/src
SRC2=$WORK/src2
BIG=$WORK/big
FD_CACHE=1000
NBIG=30000
MAX_THREADS=4
# The fd cache may pass its bound by the fds that ops in flight pin (at most two
# each: a parent and a child) until they finish (backends/passthrough/pt_fdcache.c);
# the pinned root and find's open directory handles (one per level) also point
# into the tree. What must hold: fd use does not grow with the 30,000 inodes.
FD_SLACK=$((1 + 2 * MAX_THREADS + 4))
chmod 755 "$WORK" # uid 1000 must reach the mountpoint below it

# ---------------------------------------------------------------- host trees
mkdir -p "$SRC/dir/sub" "$SRC/empty" "$SRC/userdir" "$SRC2/d"
chmod 777 "$SRC/userdir"
head -c 100000 /dev/urandom >"$SRC/dir/rand.bin"
head -c 1 /dev/urandom >"$SRC/dir/one"
: >"$SRC/dir/zero"
seq 1 20000 >"$SRC/dir/sub/numbers.txt"
echo mv-me >"$SRC/dir/move-me"
echo movedir >"$SRC/dir/sub/inner"
ln "$SRC/dir/one" "$SRC/dir/one.hardlink"
ln -s sub/numbers.txt "$SRC/dir/rel-link"
ln -s / "$SRC/rootlink"
ln -s ../../../../../../etc "$SRC/dotdot-link"
echo ro-content >"$SRC2/ro.txt"
echo two >"$SRC2/d/two"
python3 - "$BIG" "$NBIG" <<'PY'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for d in range(n // 1000):
    p = os.path.join(top, "d%02d" % d)
    os.makedirs(p)
    for f in range(1000):
        os.close(os.open(os.path.join(p, "f%04d" % f), os.O_CREAT | os.O_WRONLY, 0o644))
PY

CFG=$WORK/pt.yaml
write_config "$CFG" <<EOF
mountpoint: $MNT
fuse:
  allow_other: true
  max_threads: $MAX_THREADS
mounts:
  - {path: /p1, type: passthrough, source: $SRC}
  - {path: /p2, type: passthrough, source: $SRC}
  - {path: /other/q, type: passthrough, source: $SRC2}
  - {path: /ro, type: passthrough, source: $SRC2, readonly: true}
  - {path: /big, type: passthrough, source: $BIG, fd_cache: $FD_CACHE}
  - path: /mapped
    type: passthrough
    source: $SRC2
    id_map: {inside: 0, outside: 1000, count: 65536}
EOF

DAEMON_WRAP="prlimit --nofile=4096:4096" mount_or_die "$CFG"
eq "daemon runs with RLIMIT_NOFILE 4096" 4096 "$(prlimit --pid "$DPID" --nofile -o SOFT --noheadings | tr -d ' ')"

# ---------------------------------------------------------------- content
same_tree "tree under /p1 is identical to the source" "$SRC" "$MNT/p1"
same_tree "tree under /p2 is identical to the source" "$SRC" "$MNT/p2"
same_tree "tree under /other/q is identical to its source" "$SRC2" "$MNT/other/q"
eq "symlink target read back" "sub/numbers.txt" "$(readlink "$MNT/p1/dir/rel-link")"
eq "a relative symlink is followed inside the mount" 20000 "$(wc -l <"$MNT/p1/dir/rel-link")"

# ---------------------------------------------------------------- inode numbers
i1=$(stat -c %i "$MNT/p1/dir/rand.bin")
i2=$(stat -c %i "$MNT/p2/dir/rand.bin")
[ -n "$i1" ] && [ "$i1" != "$i2" ] && it_pass "same host file, different st_ino per mount ($i1 vs $i2)" ||
	it_fail "same host file, different st_ino per mount" "$i1 vs $i2"
eq "hard links in the source share st_ino" "$(stat -c %i "$MNT/p1/dir/one")" "$(stat -c %i "$MNT/p1/dir/one.hardlink")"
eq "hard links in the source show nlink 2" 2 "$(stat -c %h "$MNT/p1/dir/one")"

# Every st_ino under the mount names exactly one object: a (mount, host file)
# pair or a pseudo dir. Host identity is (st_dev, st_ino) of the source path.
find "$MNT" -path "$MNT/big" -prune -o -printf '%i %p\n' >"$WORK/inodes" 2>"$WORK/inodes.err"
eq "find over the mount reports no errors" "" "$(cat "$WORK/inodes.err")"
out=$(python3 - "$MNT" "$SRC" "$SRC2" "$WORK/inodes" <<'PY'
import os, sys
mnt, src, src2, listing = sys.argv[1:5]
roots = {"/p1": (1, src), "/p2": (2, src), "/other/q": (3, src2), "/ro": (4, src2), "/big": (5, None),
         "/mapped": (6, src2)}
by_ino, by_obj, errors = {}, {}, []
for line in open(listing):
    ino, path = line.rstrip("\n").split(" ", 1)
    ino = int(ino)
    rel = path[len(mnt):] or "/"
    obj = ("pseudo", rel)
    want_index = 0
    for r, (idx, host) in roots.items():
        if rel == r or rel.startswith(r + "/"):
            want_index = idx
            if host:
                st = os.lstat(host + rel[len(r):])
                obj = (idx, st.st_dev, st.st_ino)
            else:
                obj = (idx, rel)
    if ino >> 48 != want_index:
        errors.append("%s: st_ino %#x is not in mount index %d's slice" % (rel, ino, want_index))
    if ino & ((1 << 48) - 1) == 0:
        errors.append("%s: st_ino %#x has backend ino 0" % (rel, ino))
    by_ino.setdefault(ino, set()).add(obj)
    by_obj.setdefault(obj, set()).add(ino)
for ino, objs in by_ino.items():
    if len(objs) > 1:
        errors.append("st_ino %#x shared by %s" % (ino, sorted(map(str, objs))))
for obj, inos in by_obj.items():
    if len(inos) > 1:
        errors.append("%s has several st_ino %s" % (obj, sorted(inos)))
print("\n".join(errors[:10]) if errors else "unique %d" % len(by_ino))
PY
)
contains "st_ino unique per object across all mounts, in each mount's index slice" "$out" "unique "

# readdir's d_ino equals lstat's st_ino for every entry (pseudo dirs included).
out=$(python3 - "$MNT" <<'PY'
import os, sys
bad, n = [], 0
for top, dirs, files in os.walk(sys.argv[1]):
    if top == sys.argv[1] + "/big":
        dirs[:] = []
    with os.scandir(top) as it:
        for e in it:
            n += 1
            st = os.lstat(e.path)
            if e.inode() != st.st_ino:
                bad.append("%s: d_ino %#x st_ino %#x" % (e.path, e.inode(), st.st_ino))
print("\n".join(bad[:10]) if bad else "match %d" % n)
PY
)
contains "readdir d_ino == lstat st_ino for every entry" "$out" "match "

# ---------------------------------------------------------------- .. and symlinks
eq "'..' of a mount root is its pseudo parent (/p1/..)" 1 "$(stat -c %i "$MNT/p1/..")"
eq "'..' of /other/q is the pseudo dir /other" "$(stat -c %i "$MNT/other")" "$(stat -c %i "$MNT/other/q/..")"
eq "ls /other/q/.. lists the pseudo dir" q "$(names "$MNT/other/q/..")"
eq "'..' of a subdir stays in the mount" "$(stat -c %i "$MNT/p1")" "$(stat -c %i "$MNT/p1/dir/..")"
eq "a symlink to / is shown as a symlink" "symbolic link" "$(stat -c %F "$MNT/p1/rootlink")"
eq "its target is read back unchanged" / "$(readlink "$MNT/p1/rootlink")"
eq "following it is the kernel's: the host's /" "$(stat -c %d:%i /)" "$(stat -L -c %d:%i "$MNT/p1/rootlink")"
eq "a ../../ symlink is shown unchanged" ../../../../../../etc "$(readlink "$MNT/p1/dotdot-link")"
# $WORK (the sources' host parent) holds src/: '..' resolved on the host would find it.
fails "'..' above a mount root never reaches the source's host parent" "No such file or directory" \
	stat "$MNT/p1/dir/sub/../../../src"
eq "ls /p1/.. lists the pseudo root, not the host parent" "big mapped other p1 p2 ro" "$(names "$MNT/p1/..")"

# ---------------------------------------------------------------- rename across mounts
ok "mv across mounts works (copy fallback)" mv "$MNT/p1/dir/move-me" "$MNT/other/q/moved"
[ -e "$SRC/dir/move-me" ] && it_fail "mv across mounts removes the source" || it_pass "mv across mounts removes the source"
eq "mv across mounts lands in the other source" mv-me "$(cat "$SRC2/moved" 2>&1)"
ok "mv of a directory across mounts works" mv "$MNT/p1/dir/sub" "$MNT/other/q/sub"
eq "the moved directory's files arrived" movedir "$(cat "$SRC2/sub/inner" 2>&1)"
# syscall_errno rename|link A B: "ok", or the errno name the syscall failed with
syscall_errno() {
	python3 -c '
import errno, os, sys
try:
    getattr(os, sys.argv[1])(sys.argv[2], sys.argv[3])
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$@" 2>&1
}
eq "rename(2) across mounts is EXDEV" EXDEV "$(syscall_errno rename "$MNT/other/q/moved" "$MNT/p2/moved-back")"
eq "link(2) across mounts is EXDEV" EXDEV "$(syscall_errno link "$MNT/other/q/moved" "$MNT/p1/moved-link")"
eq "rename(2) between two mounts of the same host dir is EXDEV" EXDEV \
	"$(syscall_errno rename "$MNT/p1/dir/zero" "$MNT/p2/dir/zero2")"
ok "rename within a mount works" mv "$MNT/other/q/moved" "$MNT/other/q/moved2"
eq "rename within a mount is seen on the host" mv-me "$(cat "$SRC2/moved2" 2>&1)"

# ---------------------------------------------------------------- read-only mount
eq "read-only mount reads" ro-content "$(cat "$MNT/ro/ro.txt" 2>&1)"
fails "read-only: touch of a new file is EROFS" "Read-only file system" touch "$MNT/ro/new"
fails "read-only: mkdir is EROFS" "Read-only file system" mkdir "$MNT/ro/newdir"
fails "read-only: write to an existing file is EROFS" "Read-only file system" \
	sh -c "echo x >>'$MNT/ro/ro.txt'"
fails "read-only: rm is EROFS" "Read-only file system" rm -f "$MNT/ro/ro.txt"
fails "read-only: chmod is EROFS" "Read-only file system" chmod 600 "$MNT/ro/ro.txt"
fails "read-only: touch of an existing file (utimes) is EROFS" "Read-only file system" touch "$MNT/ro/ro.txt"
fails "read-only: setfattr is EROFS" "Read-only file system" setfattr -n user.x -v 1 "$MNT/ro/ro.txt"
eq "read-only: host file unchanged" ro-content "$(cat "$SRC2/ro.txt")"
ok "the same source is writable through the other mount" touch "$MNT/other/q/writable"

# ---------------------------------------------------------------- hard links
ok "ln in a mount works" ln "$MNT/p1/dir/rand.bin" "$MNT/p1/dir/rand.link"
eq "a new hard link shares st_ino" "$(stat -c %i "$MNT/p1/dir/rand.bin")" "$(stat -c %i "$MNT/p1/dir/rand.link")"
eq "a new hard link: nlink 2 through the mount" 2 "$(stat -c %h "$MNT/p1/dir/rand.bin")"
eq "a new hard link: the host has one inode" "$(stat -c %i "$SRC/dir/rand.bin")" "$(stat -c %i "$SRC/dir/rand.link")"
ok "rm of one link works" rm "$MNT/p1/dir/rand.link"
eq "after rm of a link nlink is 1" 1 "$(stat -c %h "$MNT/p1/dir/rand.bin")"

# ---------------------------------------------------------------- locks
echo lock >"$SRC/lockfile"
out=$(python3 - "$MNT/p1/lockfile" <<'PY' 2>&1
import fcntl, os, sys, time
path = sys.argv[1]
res = []
# fcntl (POSIX) locks: per process, so parent vs forked child conflict.
fd = os.open(path, os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
pid = os.fork()
if pid == 0:
    cfd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(cfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os._exit(1)
    except OSError:
        os._exit(0)
_, st = os.waitpid(pid, 0)
res.append("fcntl-conflict" if os.waitstatus_to_exitcode(st) == 0 else "fcntl-NO-conflict")
fcntl.lockf(fd, fcntl.LOCK_UN)
pid = os.fork()
if pid == 0:
    cfd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(cfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os._exit(0)
    except OSError:
        os._exit(1)
_, st = os.waitpid(pid, 0)
res.append("fcntl-free" if os.waitstatus_to_exitcode(st) == 0 else "fcntl-still-held")
os.close(fd)
print(" ".join(res))
PY
)
eq "fcntl locks conflict between processes, and release" "fcntl-conflict fcntl-free" "$out"
# The holder says when it has the lock, and keeps it until told (its stdin,
# a pipe from this script: closed, it lets go too).
# bash unsets HOLDER and HOLDER_PID as soon as the coprocess ends: keep copies.
coproc HOLDER { flock "$MNT/p1/lockfile" sh -c 'echo locked; read -r _'; }
hpid=$HOLDER_PID hout=${HOLDER[0]} hin=${HOLDER[1]}
read -r -t "$IT_WAIT" held <&"$hout"
eq "flock: the holder has the lock" locked "${held:-}"
fails "flock: a second process cannot take a held lock" "" flock -n "$MNT/p1/lockfile" true
echo go 2>/dev/null >&"$hin"
wait "$hpid"
ok "flock: free again after the holder exits" flock -n "$MNT/p1/lockfile" true

# ---------------------------------------------------------------- xattrs
ok "setfattr user.x through the mount" setfattr -n user.x -v hello "$MNT/p1/dir/zero"
eq "getfattr reads it back" hello "$(getfattr --absolute-names --only-values -n user.x "$MNT/p1/dir/zero" 2>&1)"
eq "the host source has it" hello "$(getfattr --absolute-names --only-values -n user.x "$SRC/dir/zero" 2>&1)"
eq "the other mount of the same file sees it" hello "$(getfattr --absolute-names --only-values -n user.x "$MNT/p2/dir/zero" 2>&1)"
setfattr -n user.y -v 2 "$SRC/dir/zero"
eq "listxattr lists both" "user.x user.y" "$(getfattr -d -m '^user\.' --absolute-names "$MNT/p1/dir/zero" 2>&1 | sed -n 's/=.*//p' | sort | xargs)"
ok "removexattr" setfattr -x user.x "$MNT/p1/dir/zero"
fails "a removed xattr is gone (ENODATA)" "No such attribute" getfattr --absolute-names -n user.x "$MNT/p1/dir/zero"

# ---------------------------------------------------------------- SEEK_HOLE / SEEK_DATA
truncate -s 10M "$SRC/sparse"
dd if=/dev/urandom of="$SRC/sparse" bs=64K count=1 seek=64 conv=notrunc status=none # data at 4 MiB
out=$(python3 - "$SRC/sparse" "$MNT/p1/sparse" <<'PY' 2>&1
import os, sys
def probe(p):
    fd = os.open(p, os.O_RDONLY)
    try:
        return (os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 4 << 20, os.SEEK_HOLE),
                os.lseek(fd, 0, os.SEEK_HOLE), os.fstat(fd).st_size)
    finally:
        os.close(fd)
host, mnt = probe(sys.argv[1]), probe(sys.argv[2])
print("host-has-hole" if host[0] > 0 else "host-no-hole", "same" if host == mnt else "differ %s %s" % (host, mnt))
PY
)
eq "SEEK_DATA/SEEK_HOLE through the mount match the host" "host-has-hole same" "$out"
eq "a sparse file reads back identically" "$(sha256sum <"$SRC/sparse")" "$(sha256sum <"$MNT/p1/sparse")"

# ---------------------------------------------------------------- ownership as a caller
ok "uid 1000 creates a file (allow_other)" setpriv --reuid=1000 --regid=1000 --clear-groups touch "$MNT/p1/userdir/x"
eq "the host file is owned by the caller" 1000:1000 "$(stat -c %u:%g "$SRC/userdir/x" 2>&1)"
ok "uid 1000 makes a directory" setpriv --reuid=1000 --regid=1000 --clear-groups mkdir "$MNT/p1/userdir/d"
eq "the host directory is owned by the caller" 1000:1000 "$(stat -c %u:%g "$SRC/userdir/d" 2>&1)"
ok "uid 1000 makes a symlink" setpriv --reuid=1000 --regid=1000 --clear-groups ln -s x "$MNT/p1/userdir/l"
eq "the host symlink is owned by the caller" 1000:1000 "$(stat -c %u:%g "$SRC/userdir/l" 2>&1)"
fails "uid 1000 cannot write a root-owned 0644 file" "Permission denied" \
	setpriv --reuid=1000 --regid=1000 --clear-groups sh -c "echo x >>'$MNT/p1/dir/zero'"
ok "root creates a file" touch "$MNT/p1/userdir/rootfile"
eq "a file created by root is root's" 0:0 "$(stat -c %u:%g "$SRC/userdir/rootfile" 2>&1)"
check_kill_suidgid passthrough "$MNT/p1/userdir"
check_write_drops_fcaps passthrough "$MNT/p1/userdir"
check_drop_privs passthrough "$MNT/p1/userdir"
check_posix_acl passthrough "$MNT/p1/userdir"

# ---------------------------------------------------------------- id_map
chown 5:7 "$SRC2/d/two"
eq "id_map: a host root file shows as the outside id" 1000:1000 "$(stat -c %u:%g "$MNT/mapped/ro.txt")"
eq "id_map: host 5:7 shows as 1005:1007" 1005:1007 "$(stat -c %u:%g "$MNT/mapped/d/two")"
ok "id_map: uid 1000 (inside 0) creates a file" setpriv --reuid=1000 --regid=1000 --clear-groups touch "$MNT/mapped/by-1000"
eq "id_map: the host file is owned by the inside id" 0:0 "$(stat -c %u:%g "$SRC2/by-1000" 2>&1)"
eq "id_map: it shows as the caller through the mount" 1000:1000 "$(stat -c %u:%g "$MNT/mapped/by-1000" 2>&1)"
fails "id_map: an unmapped caller (root) cannot create" "Value too large for defined data type" touch "$MNT/mapped/by-root"
eq "id_map: the unmapped mount's other view is unchanged" 0:0 "$(stat -c %u:%g "$MNT/other/q/by-1000" 2>&1)"
# ACL entries name ids too: mapped like owners, both ways.
ok "id_map: the owner sets an ACL naming outside ids" setpriv --reuid=1000 --regid=1000 --clear-groups \
	setfacl -m u:1005:r,g:1007:r "$MNT/mapped/by-1000"
contains "id_map: the host ACL names the inside ids" "$(getfacl -n "$SRC2/by-1000" 2>&1)" $'user:5:r--\ngroup::r--\ngroup:7:r--'
contains "id_map: getfacl through the mount shows the outside ids" "$(getfacl -n "$MNT/mapped/by-1000" 2>&1)" $'user:1005:r--\ngroup::r--\ngroup:1007:r--'
fails "id_map: an ACL naming an unmapped id is refused" "Invalid argument" setfacl -m u:5:r "$MNT/mapped/by-1000"

# ---------------------------------------------------------------- fds of the daemon
# An open file holds a daemon fd only until release; O_PATH fds (the inode cache) may stay.
open_fds_on() { # PID HOSTPATH: fds of PID on HOSTPATH that are not O_PATH
	local fd n=0 flags
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$2" ] || continue
		flags=$(awk '/^flags:/ { print $2 }' "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null)
		(((8#${flags:-0} & 8#10000000) == 0)) && n=$((n + 1))
	done
	echo "$n"
}
exec 8<"$MNT/p1/dir/rand.bin"
head -c 10 <&8 >/dev/null
exec 8<&-
# RELEASE is sent asynchronously after close: wait until the daemon has closed
# its fd (one that leaks never does).
no_open_fds_on() { [ "$(open_fds_on "$1" "$2")" = 0 ]; }
eventually "after close the daemon holds no open fd on the file" \
	no_open_fds_on "$DPID" "$SRC/dir/rand.bin"

# ---------------------------------------------------------------- 30,000 files, 4,096 fds
# Count the daemon's fds on the big tree (the fd cache of /big; workers' cloned
# /dev/fuse fds are not counted) and all its fds, while find stats every file.
big_fds() { find "/proc/$1/fd" -mindepth 1 -lname "$BIG*" 2>/dev/null | wc -l; }
find "$MNT/big" -type f -printf '%i %s\n' >"$WORK/big.list" 2>"$WORK/big.err" &
walk=$!
max=0
maxall=0
while alive "$walk"; do
	n=$(big_fds "$DPID")
	((n > max)) && max=$n
	n=$(fd_count "$DPID")
	((n > maxall)) && maxall=$n
	sleep 0.1 # a sampling period, not a wait for anything
done
wait "$walk"
n=$(big_fds "$DPID") # and once after: the fd cache still holds the walk's inodes
((n > max)) && max=$n
eq "stat walk of $NBIG files completes without errors" "" "$(head -n 3 "$WORK/big.err")"
eq "stat walk saw every file" "$NBIG" "$(wc -l <"$WORK/big.list")"
eq "stat walk: every file has its own st_ino" "$NBIG" "$(cut -d' ' -f1 "$WORK/big.list" | sort -u | wc -l)"
((max > 0 && max <= FD_CACHE + FD_SLACK)) &&
	it_pass "daemon fds on the tree stayed within fd_cache + in-flight (max $max, bound $FD_CACHE + $FD_SLACK)" ||
	it_fail "daemon fds on the tree stayed within fd_cache + in-flight" "max $max, bound $FD_CACHE + $FD_SLACK"
((maxall < 4096)) && it_pass "daemon fds stayed under RLIMIT_NOFILE (max $maxall)" ||
	it_fail "daemon fds stayed under RLIMIT_NOFILE" "max $maxall"
ok "a second walk (inodes now evicted from the fd cache) still works" \
	sh -c "find '$MNT/big' -type f -name 'f0999' -exec cat {} + >/dev/null"
alive "$DPID" && it_pass "daemon alive after the walk" || it_fail "daemon alive after the walk"

# ---------------------------------------------------------------- shutdown
stop_daemon "$DPID" TERM
eq "SIGTERM: exit 0" 0 "$DAEMON_RC"
[ -d "/proc/$DPID" ] && it_fail "the daemon process is gone (no fds on the sources remain)" ||
	it_pass "the daemon process is gone (no fds on the sources remain)"
is_mounted "$MNT" && it_fail "no mount left" || it_pass "no mount left"
eq "no process holds an fd in the sources" "" "$(find /proc/[0-9]*/fd -lname "$WORK/*" 2>/dev/null | head -n 3)"

# ---------------------------------------------------------------- zero-message opendir
# The kernel offers FUSE_NO_OPENDIR_SUPPORT (5.1+): the first OPENDIR gets ENOSYS and
# directories are then opened without a round trip (fh 0), never released. A daemon
# with -v logs every request; attr timeout 0 makes a host-side change visible (the
# kernel drops its cached listing when the refreshed mtime differs).
SRC3=$WORK/src3
MNT3=$WORK/mnt3
mkdir -p "$SRC3/a/b/c" "$SRC3/e" "$SRC3/rmme/x/y" "$MNT3"
for i in $(seq 1 300); do : >"$SRC3/a/f$i"; done
echo deep >"$SRC3/a/b/c/deep"
: >"$SRC3/rmme/x/y/z"
# This daemon also runs with kernel passthrough switched off (fuse.passthrough):
# its file reads must then reach the daemon as READ requests.
write_config "$WORK/noopendir.yaml" <<EOF
mountpoint: $MNT3
fuse: {passthrough: false}
timeouts: {entry: 0, attr: 0}
mounts:
  - {path: /t, type: passthrough, source: $SRC3}
EOF
n0=$(($(wc -l <"$WORK/daemon.log") + 1))
mount_or_die "$WORK/noopendir.yaml" --mountpoint "$MNT3" -v
eq "ls -R through the mount equals the host's" "$(cd "$SRC3" && ls -R)" "$(cd "$MNT3/t" && ls -R)"
eq "a second ls -R (cached listings) equals the host's" "$(cd "$SRC3" && ls -R)" \
	"$(cd "$MNT3/t" && ls -R)"
vlog=$(tail -n "+$n0" "$WORK/daemon.log")
eq "one OPENDIR reached the daemon" 1 "$(grep -c ' OPENDIR(27) ' <<<"$vlog")"
eq "it was answered ENOSYS" 1 "$(grep -c ' OPENDIR -> error Function not implemented' <<<"$vlog")"
eq "no OPENDIR answered ok" 0 "$(grep -c ' OPENDIR -> ok' <<<"$vlog")"
eq "no RELEASEDIR reached the daemon" 0 "$(grep -c ' RELEASEDIR(29) ' <<<"$vlog")"
contains "directories were listed (fh 0)" "$vlog" " READDIRPLUS -> ok"
ls "$MNT3/t/e" >/dev/null # cache the (empty) listing
# A later mtime than the cached one, even on a coarse clock: wait until the
# host filesystem's clock has passed the directory's mtime.
wait_clock_past "$SRC3/e" || it_fail "the clock of $SRC3 passes an mtime"
: >"$SRC3/e/newfile"
eq "a file created on the host shows in a cached directory" newfile "$(ls "$MNT3/t/e")"
wait_clock_past "$SRC3/e" || it_fail "the clock of $SRC3 passes an mtime"
rm "$SRC3/e/newfile"
eq "and its removal on the host too" "" "$(ls "$MNT3/t/e")"
ok "rm -rf of a tree through the mount" rm -rf "$MNT3/t/rmme"
[ -e "$SRC3/rmme" ] && it_fail "rm -rf removed the tree on the host" ||
	it_pass "rm -rf removed the tree on the host"
ok "fsync of a directory opened without a handle" python3 -c \
	"import os; fd = os.open('$MNT3/t/a', os.O_RDONLY | os.O_DIRECTORY); os.fsync(fd); os.close(fd)"
ok "seekdir back to a telldir cookie resumes the listing" python3 - "$MNT3/t/a" <<'PY'
import ctypes, ctypes.util, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]
libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = libc.telldir.argtypes = libc.closedir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
def names(d, n=None):
    out = []
    while n is None or len(out) < n:
        e = libc.readdir(d)
        if not e:
            break
        out.append(e.contents.d_name)
    return out
d = libc.opendir(sys.argv[1].encode())
assert d
first = names(d, 150)
pos = libc.telldir(d)
rest = names(d)
libc.seekdir(d, pos)
again = names(d)
libc.closedir(d)
assert rest == again, "seekdir/telldir: listing differs"
assert len(first) + len(rest) == 303 and len(set(first + rest)) == 303, len(first + rest)
PY
eq "a file reads through the mount" deep "$(cat "$MNT3/t/a/b/c/deep")"
vlog=$(tail -n "+$n0" "$WORK/daemon.log")
eq "still one OPENDIR and no RELEASEDIR in all of it" "1 0" \
	"$(grep -c ' OPENDIR(27) ' <<<"$vlog") $(grep -c ' RELEASEDIR(29) ' <<<"$vlog")"
contains "with passthrough: false, that read came to the daemon as a READ" "$vlog" " READ -> ok"
stop_daemon "$DPID" TERM
eq "no-opendir daemon: SIGTERM exit 0" 0 "$DAEMON_RC"

summary
