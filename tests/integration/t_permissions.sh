#!/usr/bin/env bash
# t_permissions: no user borrows the daemon's rights (issue 15, item 1).
# allow_other without default_permissions is refused at start (nothing is
# mounted); with allow_other and default_permissions the kernel checks every
# caller, so uid 65534 can neither read, change nor delete what is root's, on
# a passthrough and a memfs mount alike, while root still can.
IT_NAME=t_permissions
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SRC=$WORK/src
mkdir -p "$SRC"
chmod 755 "$WORK" "$SRC" # uid 65534 walks to the mount

# ---- (a) the combination is refused, by check and by run
write_config "$WORK/open.yaml" <<EOF
mountpoint: $MNT
fuse:
  allow_other: true
  default_permissions: false
mounts:
  - {path: /pt, type: passthrough, source: $SRC}
EOF
MSG="open.yaml:4:24: fuse.default_permissions: false is refused with allow_other: true"
fails "check refuses allow_other without default_permissions" "$MSG" \
	"$VFSMUX" check -c "$WORK/open.yaml"
fails "the error says why" "could act with the daemon's privileges" \
	"$VFSMUX" check -c "$WORK/open.yaml"
if start_daemon "$WORK/open.yaml"; then
	it_fail "run refuses allow_other without default_permissions" "the daemon became ready"
	stop_daemon
else
	stop_daemon "$DPID" 0 # it exits by itself (ASan checks leaks first): wait, never signal
	eq "run exits 1" 1 "$DAEMON_RC"
	contains "run says which key and why" "$(cat "$WORK/daemon.log")" "$MSG"
fi
if is_mounted "$MNT"; then it_fail "run mounted nothing" "$MNT is mounted"; else it_pass "run mounted nothing"; fi

# ---- (b) allow_other with the kernel's checks
write_config "$WORK/safe.yaml" <<EOF
mountpoint: $MNT
fuse: {allow_other: true, default_permissions: true}
mounts:
  - {path: /pt, type: passthrough, source: $SRC}
  - {path: /mem, type: memfs, size: 16MiB}
EOF
mount_or_die "$WORK/safe.yaml"

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

for m in pt mem; do
	M=$MNT/$m
	echo secret >"$M/secret" && chmod 600 "$M/secret"
	mkdir -m 755 "$M/rootdir" && echo v >"$M/rootdir/victim"
	echo data >"$M/rootfile" && chmod 644 "$M/rootfile"
	eq "$m: the files are root's" "0:0 600 0:0 755 0:0 644" \
		"$(stat -c '%u:%g %a' "$M/secret" "$M/rootdir" "$M/rootfile" | paste -sd' ')"

	fails "$m: uid 65534 cannot read a root 0600 file" "Permission denied" nobody cat "$M/secret"
	fails "$m: uid 65534 cannot unlink in a root 0755 directory" "Permission denied" \
		nobody rm -f "$M/rootdir/victim"
	fails "$m: uid 65534 cannot rename in it" "Permission denied" \
		nobody mv "$M/rootdir/victim" "$M/rootdir/moved"
	fails "$m: uid 65534 cannot create in it" "Permission denied" nobody touch "$M/rootdir/new"
	fails "$m: uid 65534 cannot chmod a root file" "Operation not permitted" \
		nobody chmod 666 "$M/rootfile"
	fails "$m: uid 65534 cannot chown a root file" "Operation not permitted" \
		nobody chown 65534 "$M/rootfile"
	fails "$m: uid 65534 cannot truncate a root file" "Permission denied" \
		nobody truncate -s 0 "$M/rootfile"
	fails "$m: uid 65534 cannot set an xattr on a root file" "" \
		nobody setfattr -n user.x -v 1 "$M/rootfile"
	eq "$m: all of it unchanged" "secret v data 644 0 5" \
		"$(cat "$M/secret" "$M/rootdir/victim" "$M/rootfile" | paste -sd' ') $(stat -c '%a %u %s' "$M/rootfile")"
	eq "$m: nothing new in rootdir" victim "$(names "$M/rootdir")"

	eq "$m: root reads the 0600 file" secret "$(cat "$M/secret")"
	ok "$m: root chmods" chmod 666 "$M/rootfile"
	ok "$m: root chowns" chown 65534:65534 "$M/rootfile"
	ok "$m: root truncates" truncate -s 0 "$M/rootfile"
	eq "$m: as root asked" "666 65534:65534 0" "$(stat -c '%a %u:%g %s' "$M/rootfile")"
	ok "$m: root unlinks in its directory" rm "$M/rootdir/victim"
done
eq "pt: the host file is root's 0600" "0 600" "$(stat -c '%u %a' "$SRC/secret")"

stop_daemon
eq "the daemon stopped cleanly" 0 "$DAEMON_RC"
summary
