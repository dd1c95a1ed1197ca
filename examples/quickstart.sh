#!/usr/bin/env bash
# examples/quickstart.sh - install, build and run vfsmux on the bundled example.
# Run as root on Debian 12 from anywhere in the repository:
#   ./examples/quickstart.sh
# It stays in the foreground serving /tmp/vfsmux-demo/mnt; Ctrl-C unmounts and exits.
# Extra arguments go to `vfsmux run` (e.g. --force after a crash, -v).
# VFSMUX=/path/to/vfsmux uses that binary and skips installing and building
# (the integration test t_examples.sh does); VFSMUX_DEMO_DIR moves the demo.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
demo=${VFSMUX_DEMO_DIR:-/tmp/vfsmux-demo}

if [ -z "${VFSMUX:-}" ]; then
	"$top/.ci/deps"
	[ -f "$top/build/build.ninja" ] || meson setup "$top/build"
	ninja -C "$top/build"
	VFSMUX=$top/build/server/vfsmux
fi

mkdir -p "$demo/mnt" "$demo/notes"
# the writable /notes mount works on a copy, never on the repository
cp -rn "$top/examples/data/notes/." "$demo/notes/"
sed -e "s|@EXAMPLES@|$top/examples|g" -e "s|@DEMO@|$demo|g" \
	"$top/examples/demo.yaml" >"$demo/demo.yaml"

"$VFSMUX" check -c "$demo/demo.yaml"
cat <<TXT

vfsmux is starting in the foreground on $demo/mnt (config: $demo/demo.yaml).
In another terminal, look at:
  ls -la $demo/mnt $demo/mnt/tmp            # pseudo directories made from the mount paths
  cat $demo/mnt/library/poems/ozymandias.txt  # read-only passthrough of examples/data/library
  touch $demo/mnt/library/x                   # -> Read-only file system
  echo hi >> $demo/mnt/notes/todo.txt; cat $demo/notes/todo.txt   # writable passthrough
  dd if=/dev/zero of=$demo/mnt/tmp/scratch/f bs=1M count=8; df -h $demo/mnt/tmp/scratch  # memfs
  for d in $demo/mnt/*/ $demo/mnt/tmp/scratch; do printf '%#x %s\n' "\$(stat -c %i \$d)" \$d; done
                                              # st_ino = (mount index << 48) | inode
Press Ctrl-C here to unmount and stop.

TXT
exec "$VFSMUX" run -c "$demo/demo.yaml" "$@"
