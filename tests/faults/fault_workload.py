#!/usr/bin/env python3
"""tests/faults/fault_workload.py - create/write/read/stat loops through a mount.

usage: fault_workload.py DIR ITERATIONS ALLOWED SEED [SOURCE]
  ALLOWED  comma-separated errno names a call may fail with ("" = none may fail)
  SOURCE   the host directory behind DIR (passthrough): a create that failed
           must have left no file there (a fault is decided before the real op)

Each iteration makes a uniquely named file, writes it, closes it, stats it,
reads it back and checks the data when both the write and the read succeeded,
lists the directory now and then, and unlinks every other file. Every failed
call must fail with an ALLOWED errno; anything else (another errno, wrong data,
a short write) is a failure. Files that are kept must read back intact at the
end when nothing may fail. Prints a one-line JSON summary on stdout.
"""
import errno
import json
import os
import random
import sys


def main():
    top, iters, allowed, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    source = sys.argv[5] if len(sys.argv) > 5 else None
    allowed = {getattr(errno, n) for n in allowed.split(",") if n}
    rng = random.Random(seed)
    counts = {"ok": 0, "failed": 0}
    by_errno = {}
    bad = []
    kept = {}

    def call(what, fn, *args):
        try:
            r = fn(*args)
            counts["ok"] += 1
            return True, r
        except OSError as e:
            counts["failed"] += 1
            name = errno.errorcode.get(e.errno, str(e.errno))
            by_errno[name] = by_errno.get(name, 0) + 1
            if e.errno not in allowed:
                bad.append(f"{what}: {name}")
            return False, e.errno

    d = os.path.join(top, f"w{seed}")
    ok, _ = call("mkdir", os.mkdir, d)
    if not ok and not os.path.isdir(d):
        # the mkdir itself was faulted: retry until it sticks (faults are per call)
        for _ in range(100):
            if call("mkdir", os.mkdir, d)[0]:
                break
    for i in range(iters):
        p = os.path.join(d, f"f{i}")
        data = rng.randbytes(rng.randint(1, 64 * 1024))
        ok, fd = call("create", os.open, p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
        if not ok:
            if source and os.path.lexists(os.path.join(source, f"w{seed}", f"f{i}")):
                bad.append(f"create of {p} failed but the file exists in the source")
            continue
        wok, n = call("write", os.write, fd, data)
        if wok and n != len(data) and not allowed:
            bad.append(f"short write {n} of {len(data)}")  # legit only if a later piece failed
        call("close", os.close, fd)
        call("stat", os.stat, p)
        ok, fd = call("open", os.open, p, os.O_RDONLY)
        if ok:
            # read() may return less than asked (a failed readahead ends a buffered
            # read early): read on until EOF or an error, as any reader must.
            got, rok = b"", True
            while rok:
                rok, chunk = call("read", os.read, fd, len(data) + 1 - len(got))
                if not rok or not chunk:
                    break
                got += chunk
            if wok and n == len(data) and rok and got != data:
                bad.append(f"{p}: read back {len(got)} bytes differing from the {len(data)} written")
            call("close", os.close, fd)
        if i % 50 == 0:
            call("listdir", os.listdir, d)
        if i % 2 == 0:
            call("unlink", os.unlink, p)
        elif wok and n == len(data):
            kept[p] = data
    if not allowed:
        for p, data in kept.items():
            with open(p, "rb") as f:
                if f.read() != data:
                    bad.append(f"{p}: content changed")
    print(json.dumps({"dir": d, "ops": counts["ok"] + counts["failed"], "ok": counts["ok"],
                      "failed": counts["failed"], "by_errno": by_errno, "kept": len(kept),
                      "bad": bad[:20], "nbad": len(bad)}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
