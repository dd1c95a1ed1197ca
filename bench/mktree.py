#!/usr/bin/env python3
"""mktree.py DIR [--fanout F] [--depth D] [--files N] [--size B]

Build a deep tree of small files: F^D leaf directories (D levels of F
subdirectories each), N files of B bytes in every leaf.  With the defaults
(10, 3, 50, 256) this is the shape of fsbench's `tree/` (1,110 dirs, 50,000
files); bench/run.sh uses smaller counts for --quick and for the memfs test.

Used both natively (the --quick dataset) and through a mount (memfs vs
passthrough-over-tmpfs), where the time it takes is reported as `populate`.
Prints one line: files=N dirs=N secs=S rate=FILES_PER_SEC.  Exit 1 on any error.
"""
import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--fanout", type=int, default=10)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()

    payload = bytes((ord("a") + i % 26) for i in range(a.size))
    nfiles = ndirs = 0
    t0 = time.monotonic()
    try:
        os.makedirs(a.dir, exist_ok=True)
        level = [a.dir]
        names = ("d", "e", "f", "g", "h", "i", "j", "k")
        for depth in range(a.depth):
            nxt = []
            for parent in level:
                for i in range(a.fanout):
                    p = os.path.join(parent, "%s%d" % (names[depth % len(names)], i))
                    os.mkdir(p, 0o755)
                    ndirs += 1
                    nxt.append(p)
            level = nxt
        for leaf in level:
            for f in range(a.files):
                p = os.path.join(leaf, "file%02d.txt" % f)
                fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, 0o644)
                try:
                    os.write(fd, payload)
                finally:
                    os.close(fd)
                nfiles += 1
    except OSError as e:
        print("mktree: %s" % e, file=sys.stderr)
        return 1
    dt = time.monotonic() - t0
    print("files=%d dirs=%d secs=%.3f rate=%.0f" % (nfiles, ndirs, dt, nfiles / dt if dt > 0 else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
