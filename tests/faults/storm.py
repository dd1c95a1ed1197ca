#!/usr/bin/env python3
"""tests/faults/storm.py - a lookup storm: stat NFILES names ROUNDS times each.

usage: storm.py DIR NFILES ROUNDS
  With entry and attr timeouts of 0 on the mount, every stat is a LOOKUP the
  daemon answers with one more kernel reference, so the kernel ends up owing
  NFILES * ROUNDS lookups, returned by FORGET/BATCH_FORGET when it evicts the
  inodes (drop_caches). Prints the number of stats and any failures.
"""
import errno
import json
import os
import sys
import time

d, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = [os.path.join(d, f"s{i // 1000}", f"f{i}") for i in range(n)]
fails = {}
t0 = time.monotonic()
for _ in range(rounds):
    for p in names:
        try:
            os.stat(p)
        except OSError as e:
            k = errno.errorcode.get(e.errno, str(e.errno))
            fails[k] = fails.get(k, 0) + 1
print(json.dumps({"stats": n * rounds, "seconds": round(time.monotonic() - t0, 1),
                  "failures": fails}))
sys.exit(1 if fails else 0)
