#!/usr/bin/env bash
# t_memfs.sh - the in-memory backend against the kernel's tmpfs (issue 4).
# Mounts: /srv/base passthrough, /srv/scratch memfs (its sibling under a pseudo
# dir), /small memfs with size and inode limits.
. "$(dirname "$0")/lib.sh"

TMPFS=$WORK/tmpfs
mkdir -p "$WORK/base" "$TMPFS"
echo base >"$WORK/base/file"
mount -t tmpfs -o size=64m,mode=0755 vfsmux-test "$TMPFS" || die "cannot mount a tmpfs to compare with"
echo "$TMPFS" >>"$WORK/mounts"

SMALL_SIZE=$((8 << 20))
SMALL_INODES=64
chmod 755 "$WORK" # uid 1000 must reach the mountpoint below it
CFG=$WORK/memfs.yaml
# attr/entry 0: every stat reaches the backend, so what is compared is memfs's
# own bookkeeping, not the kernel's attribute cache.
write_config "$CFG" <<EOF
mountpoint: $MNT
fuse: {allow_other: true}
mounts:
  - path: /srv/base
    type: passthrough
    source: $WORK/base
  - path: /srv/scratch
    type: memfs
    size: 64MiB
    timeouts: {entry: 0, attr: 0, negative: 0}
  - path: /small
    type: memfs
    size: 8MiB
    inodes: $SMALL_INODES
EOF
mount_or_die "$CFG"
M=$MNT/srv/scratch

eq "memfs and its passthrough sibling under one pseudo dir" "base scratch" "$(names "$MNT/srv")"
eq "memfs root is a 0755 directory" "directory 755" "$(stat -c '%F %a' "$M")"
eq "passthrough sibling still serves" base "$(cat "$MNT/srv/base/file" 2>&1)"

# ---------------------------------------------------------------- compile-like workload
# Run the same script in a memfs dir and a tmpfs dir; the results must be the same.
RAND=$WORK/random.bin # the same random bytes for both runs
head -c 200000 /dev/urandom >"$RAND"
workload() {
	set -e
	mkdir "$1"
	cd "$1"
	umask 022
	mkdir -p src obj out/deep/er
	for i in $(seq 1 40); do
		printf 'int f%d(void) { return %d; }\n' "$i" "$i" >"src/f$i.c"
		seq 1 $((i * 50)) >>"src/f$i.c"
	done
	for i in $(seq 1 40); do
		# write to a temporary, rename over the target (what compilers and editors do)
		sha256sum "src/f$i.c" >"obj/f$i.o.tmp"
		cat "src/f$i.c" >>"obj/f$i.o.tmp"
		mv -f "obj/f$i.o.tmp" "obj/f$i.o"
		[ $((i % 3)) = 0 ] && mv -f "obj/f$i.o" "obj/f$((i - 1)).o" # rename over an existing file
	done
	cat obj/*.o >out/lib.a
	cp -r src out/deep/er/src-copy
	ln out/lib.a out/lib.a.hard
	ln -s ../out/lib.a obj/lib-link
	dd if="$RAND" of=out/rand bs=4k count=33 status=none
	cp out/rand out/rand.copy
	truncate -s 70000 out/rand.copy
	dd if=out/rand of=out/rand.copy bs=1 seek=100000 count=10 conv=notrunc status=none
	rm -f src/f1*.c
	rm -rf out/deep/er/src-copy/f2*
	chmod 600 out/lib.a
	chmod 711 out/deep
	mkdir obj/empty && rmdir obj/empty
	touch -d '2001-02-03 04:05:06' out/rand
	cat out/lib.a >/dev/null
}
listing() { # type, mode, links, size (not for dirs: backends differ), name
	(cd "$1" && find . -mindepth 1 -printf '%y %m %n %s %P\n' | sed 's/^\(d [0-7]* [0-9]*\) [0-9]* /\1 - /' | LC_ALL=C sort)
}
(workload "$TMPFS/w") >"$WORK/tmpfs.out" 2>&1 || die "workload failed on tmpfs: $(cat "$WORK/tmpfs.out")"
(workload "$M/w") >"$WORK/memfs.out" 2>&1
eq "workload runs on memfs without errors" "" "$(cat "$WORK/memfs.out")"
d=$(diff <(listing "$TMPFS/w") <(listing "$M/w"))
eq "workload: file list, types, modes, nlink and sizes match tmpfs" "" "$d"
d=$(diff <(cd "$TMPFS/w" && find . -type f | LC_ALL=C sort | xargs sha256sum) \
	<(cd "$M/w" && find . -type f | LC_ALL=C sort | xargs sha256sum) 2>&1)
eq "workload: checksums match tmpfs" "" "$d"
eq "workload: symlink reads back" "../out/lib.a" "$(readlink "$M/w/obj/lib-link")"
eq "workload: explicit mtime kept" "$(stat -c %Y "$TMPFS/w/out/rand")" "$(stat -c %Y "$M/w/out/rand")"
eq "workload: hard links share st_ino" "$(stat -c %i "$M/w/out/lib.a")" "$(stat -c %i "$M/w/out/lib.a.hard")"
ok "workload: rm -rf of the whole tree" rm -rf "$M/w"
eq "memfs empty after rm -rf" "" "$(ls -A "$M")"

# ---------------------------------------------------------------- nlink and timestamps
# Each step prints what changed (not absolute times), run on tmpfs and memfs.
semantics() {
	python3 - "$1" <<'PY'
import os, sys, time
d = sys.argv[1]
os.makedirs(d)
out = []
seen = 0  # the latest timestamp read so far, in ns
def st(p):
    global seen
    s = os.lstat(p)
    seen = max(seen, s.st_atime_ns, s.st_mtime_ns, s.st_ctime_ns)
    return s
def step():
    # Wait until a time taken now on this filesystem is past every time read
    # so far (tmpfs times tick at the jiffy): the next change must show. The
    # probe lives in the parent of the observed tree; 120 s bound the wait only.
    probe = os.path.join(os.path.dirname(d), ".clock-probe")
    end = time.monotonic() + 120
    while True:
        open(probe, "a").close()
        os.utime(probe)
        if os.stat(probe).st_mtime_ns > seen:
            break
        if time.monotonic() > end:
            raise SystemExit("the filesystem's clock did not move for 120 s")
        time.sleep(0.001)
    os.unlink(probe)
def changed(before, after, fields):
    return ",".join("%s%s" % (f, "+" if getattr(after, "st_" + f + "_ns") != getattr(before, "st_" + f + "_ns") else "=")
                    for f in fields)
top = os.path.join(d, "top")
os.mkdir(top)
out.append("mkdir: nlink %d" % st(top).st_nlink)
for i in range(3):
    os.mkdir(os.path.join(top, "s%d" % i))
out.append("3 subdirs: nlink %d" % st(top).st_nlink)
os.rmdir(os.path.join(top, "s0"))
out.append("rmdir one: nlink %d" % st(top).st_nlink)
os.rename(os.path.join(top, "s1"), os.path.join(d, "s1"))
out.append("move a subdir out: nlink %d, parent %d" % (st(top).st_nlink, st(d).st_nlink))
f = os.path.join(top, "f")
b = st(top); step()
open(f, "w").close()
out.append("create: parent " + changed(b, st(top), ["mtime", "ctime"]) + " nlink %d size %d" % (st(f).st_nlink, st(f).st_size))
b = st(f); pb = st(top); step()
os.chmod(f, 0o600)
out.append("chmod: " + changed(b, st(f), ["mtime", "ctime"]) + " parent " + changed(pb, st(top), ["mtime"]) + " mode %o" % (st(f).st_mode & 0o7777))
b = st(f); step()
with open(f, "a") as fh: fh.write("x" * 1000)
out.append("write: " + changed(b, st(f), ["mtime", "ctime"]) + " size %d" % st(f).st_size)
b = st(f); step()
os.truncate(f, 10)
out.append("truncate: " + changed(b, st(f), ["mtime", "ctime"]) + " size %d blocks-nonzero %s" % (st(f).st_size, st(f).st_blocks > 0))
b = st(f); step()
with open(f) as fh: fh.read()
out.append("read: " + changed(b, st(f), ["mtime", "ctime"]))
b = st(f); pb = st(top); step()
os.link(f, os.path.join(top, "g"))
out.append("link: " + changed(b, st(f), ["mtime", "ctime"]) + " nlink %d parent " % st(f).st_nlink + changed(pb, st(top), ["mtime"]))
b = st(f); pb = st(top); step()
os.rename(os.path.join(top, "g"), os.path.join(top, "h"))
out.append("rename: " + changed(b, st(f), ["mtime"]) + " parent " + changed(pb, st(top), ["mtime", "ctime"]))
b = st(f); pb = st(top); step()
os.unlink(os.path.join(top, "h"))
out.append("unlink: " + changed(b, st(f), ["mtime", "ctime"]) + " nlink %d parent " % st(f).st_nlink + changed(pb, st(top), ["mtime", "ctime"]))
os.utime(f, ns=(1_000_000_001, 2_000_000_002))
s = st(f)
out.append("utime: atime %d mtime %d" % (s.st_atime_ns, s.st_mtime_ns))
b = st(f); step()
os.utime(f)
out.append("utime now: " + changed(b, st(f), ["atime", "mtime", "ctime"]))
b = st(top); step()
os.symlink("f", os.path.join(top, "sl"))
s = st(os.path.join(top, "sl"))
out.append("symlink: parent " + changed(b, st(top), ["mtime"]) + " size %d nlink %d" % (s.st_size, s.st_nlink))
os.mkfifo(os.path.join(top, "fifo"))
out.append("mkfifo: mode %o" % st(os.path.join(top, "fifo")).st_mode)
fd = os.open(os.path.join(top, "unlinked"), os.O_CREAT | os.O_RDWR, 0o644)
os.unlink(os.path.join(top, "unlinked"))
os.write(fd, b"still here")
os.lseek(fd, 0, 0)
out.append("open after unlink: %s nlink %d" % (os.read(fd, 100), os.fstat(fd).st_nlink))
os.close(fd)
fd = os.open(os.path.join(top, "sparse"), os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(fd, b"end", 1 << 20)
out.append("sparse: size %d data-at %d" % (os.fstat(fd).st_size, os.lseek(fd, 0, os.SEEK_DATA)))
out.append("sparse reads zeros: %s" % (os.pread(fd, 16, 4096) == b"\0" * 16))
os.close(fd)
out.append("listing: %s" % sorted(os.listdir(top)))
print("\n".join(out))
PY
}
semantics "$TMPFS/sem" >"$WORK/sem.tmpfs" 2>&1 || die "semantics script failed on tmpfs: $(cat "$WORK/sem.tmpfs")"
semantics "$M/sem" >"$WORK/sem.memfs" 2>&1
d=$(diff "$WORK/sem.tmpfs" "$WORK/sem.memfs")
eq "nlink and timestamp behaviour matches tmpfs" "" "$d"
[ -n "$d" ] && { echo "--- tmpfs"; cat "$WORK/sem.tmpfs"; echo "--- memfs"; cat "$WORK/sem.memfs"; }

# ---------------------------------------------------------------- size and inode limits
eq "df shows the size limit" "$SMALL_SIZE" "$(df -B1 --output=size "$MNT/small" | tail -n 1 | tr -d ' ')"
eq "df -i shows the inode limit" "$SMALL_INODES" "$(df --output=itotal "$MNT/small" | tail -n 1 | tr -d ' ')"
fails "dd past the size limit fails with ENOSPC" "No space left on device" \
	dd if=/dev/zero of="$MNT/small/big" bs=1M count=16 status=none
size=$(stat -c %s "$MNT/small/big" 2>/dev/null || echo 0)
((size <= SMALL_SIZE)) && it_pass "the file stays within the limit ($size)" ||
	it_fail "the file stays within the limit" "size $size > $SMALL_SIZE"
used=$(df -B1 --output=used "$MNT/small" | tail -n 1 | tr -d ' ')
((used >= size && used <= SMALL_SIZE)) && it_pass "df used accounts the data ($used)" ||
	it_fail "df used accounts the data" "used $used, file $size, limit $SMALL_SIZE"
# bash, not sh: dash reports every write error as "I/O error"
fails "a further write still fails" "No space left on device" bash -c "echo more >>'$MNT/small/big'"
ok "rm frees the space" rm "$MNT/small/big"
used=$(df -B1 --output=used "$MNT/small" | tail -n 1 | tr -d ' ')
((used < 1 << 20)) && it_pass "df used drops after rm ($used)" || it_fail "df used drops after rm" "used $used"
ok "writing 4 MiB fits again" dd if=/dev/zero of="$MNT/small/again" bs=1M count=4 status=none
eq "the 4 MiB file is whole" $((4 << 20)) "$(stat -c %s "$MNT/small/again")"
rm -f "$MNT/small/again"
out=$(cd "$MNT/small" && for i in $(seq 1 $((SMALL_INODES * 2))); do : >"f$i" || break; done 2>&1)
contains "creating past the inode limit fails with ENOSPC" "$out" "No space left on device"
n=$(find "$MNT/small" -mindepth 1 | wc -l)
((n < SMALL_INODES)) && it_pass "files stop before the inode limit ($n)" || it_fail "files stop before the inode limit" "$n files"
ok "rm of all files works" sh -c "rm -f '$MNT'/small/f*"
ok "files can be created again" touch "$MNT/small/after"

# ---------------------------------------------------------------- setuid/setgid dropped
# On /small: default timeouts, so a stale cached mode would show.
mkdir "$MNT/small/kp" && chmod 777 "$MNT/small/kp"
check_kill_suidgid memfs "$MNT/small/kp"
check_write_drops_fcaps memfs "$MNT/small/kp"
check_drop_privs memfs "$MNT/small/kp"
check_posix_acl memfs "$MNT/small/kp"

# ---------------------------------------------------------------- write-only opens
# memfs hands write-only opens to the kernel as direct I/O (no page cache).
# Readers that hold cached pages or a mapping of the file must still see
# every write, and the size the kernel reports must follow appends.
out=$(python3 - "$MNT/small/coh" <<'PY' 2>&1
import mmap, os, sys
f = sys.argv[1]
with open(f, "wb") as w:
    w.write(b"a" * 8192)
r = os.open(f, os.O_RDONLY)
os.pread(r, 8192, 0)  # now in the page cache
m = mmap.mmap(r, 8192, prot=mmap.PROT_READ)
m[4106]  # and mapped
w = os.open(f, os.O_WRONLY)
os.pwrite(w, b"b" * 100, 4106)
os.close(w)
r2 = os.open(f, os.O_RDONLY)
a = os.open(f, os.O_WRONLY | os.O_APPEND)
os.write(a, b"xyz")
os.close(a)
print(os.pread(r, 101, 4105).decode(), m[4105:4206].decode(),
      os.pread(r2, 101, 4105).decode(), os.fstat(r2).st_size, os.pread(r, 4, 8191).decode())
PY
)
eq "writes through a write-only fd show in cached reads, a mapping, a new open; appends in the size" \
	"a$(printf 'b%.0s' $(seq 100)) a$(printf 'b%.0s' $(seq 100)) a$(printf 'b%.0s' $(seq 100)) 8195 axyz" "$out"
rm -f "$MNT/small/coh"

# ---------------------------------------------------------------- direct writes and the page cache
# Two readers keep reading the file buffered while it is rewritten with direct
# writes; once a write has completed, a buffered read must show it. AIO direct
# writes left stale pages when FUSE_ASYNC_DIO was negotiated (issue 15).
for mode in aio sync; do
	ok "after each $mode O_DIRECT write, a buffered read sees it" \
		"$VFSMUX_DIO_REREAD" $mode 1000 "$M/dio-$mode"
	rm -f "$M/dio-$mode"
done

# ---------------------------------------------------------------- listing while renaming
# os.scandir over 15,000 entries, one rename in the same directory after every
# entry read (every 50th over another name). The listing must end, show every
# entry never renamed exactly once, a renamed one at most twice, a replaced one
# at most once. Renamed entries used to get a new, larger offset each time, so
# the listing met them again and again, for ever (issue 15).
out=$(python3 - "$M/ren" 15000 <<'PY' 2>&1
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
name = ["e%05d" % i for i in range(n)]
for nm in name:
    os.close(os.open(os.path.join(d, nm), os.O_CREAT | os.O_WRONLY, 0o644))
index = {os.stat(os.path.join(d, nm)).st_ino: i for i, nm in enumerate(name)}
renamed, replaced, seen = set(), set(), {}
total, k = 0, 0
with os.scandir(d) as it:
    for e in it:
        total += 1
        seen[e.inode()] = seen.get(e.inode(), 0) + 1
        if total > 2 * n:
            break
        i = (k * 7919) % n  # spread over the directory, behind and ahead
        k += 1
        if name[i] is not None:
            new = ("r" if name[i][0] == "e" else "e") + name[i][1:]
            os.rename(os.path.join(d, name[i]), os.path.join(d, new))
            name[i] = new
            renamed.add(i)
        a, b = (k * 104729) % n, (k * 15485863) % n
        if k % 50 == 0 and a != b and name[a] is not None and name[b] is not None:
            os.rename(os.path.join(d, name[a]), os.path.join(d, name[b]))
            renamed.add(a)
            replaced.add(b)
            name[a], name[b] = name[b], None
bad = []
for ino, i in index.items():
    c = seen.get(ino, 0)
    if not (c <= 1 if i in replaced else c <= 2 if i in renamed else c == 1):
        bad.append("e%05d seen %d times" % (i, c))
print("ended" if total <= 2 * n else "did not end (%d entries)" % total,
      "renamed>1000" if len(renamed) > 1000 else "renamed %d" % len(renamed), *bad[:5])
PY
)
eq "a listing of 15,000 entries renamed meanwhile ends, nothing untouched twice" "ended renamed>1000" "$out"
rm -rf "$M/ren"

# ---------------------------------------------------------------- memory goes with the mount
stop_daemon "$DPID" TERM
eq "SIGTERM: exit 0" 0 "$DAEMON_RC"
mount_or_die "$CFG"
eq "memfs starts empty on the next run" "" "$(ls -A "$M" 2>&1)"
stop_daemon "$DPID" TERM
eq "second SIGTERM: exit 0" 0 "$DAEMON_RC"

summary
