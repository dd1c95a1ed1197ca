#!/usr/bin/env python3
"""tests/faults/hold_open.py - hold many files open through a mount, from several processes.

usage: hold_open.py DIR NFILES NPROC DAEMON_PID
  Files DIR/f0 .. DIR/f{NFILES-1} must exist. NPROC children each open their
  share (O_RDONLY) and keep them open, stopping at the first error. While all
  of them hold their files, the parent samples the daemon's fd count and checks
  that the daemon still serves (a stat of DIR and of a file, and a new open).
  Then the children close everything (counting errors close() reports) and
  exit. One JSON line on stdout.
"""
import errno
import json
import os
import sys


def child(d, lo, hi, wr, rd):
    fds, err = [], 0
    for i in range(lo, hi):
        try:
            fds.append(os.open(os.path.join(d, f"f{i}"), os.O_RDONLY))
        except OSError as e:
            err = e.errno
            break
    os.write(wr, json.dumps({"opened": len(fds), "errno": err}).encode() + b"\n")
    os.read(rd, 1)  # hold until the parent says close
    close_errs = {}
    for fd in fds:
        try:
            os.close(fd)  # the fd is gone even when close reports an error
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            close_errs[name] = close_errs.get(name, 0) + 1
    os.write(wr, json.dumps(close_errs).encode() + b"\n")
    os._exit(0)


def read_line(fd):
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        line += chunk
    return line


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    d, nfiles, nproc, dpid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    share = (nfiles + nproc - 1) // nproc
    kids = []
    for k in range(nproc):
        up_r, up_w = os.pipe()
        down_r, down_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(up_r)
            os.close(down_w)
            child(d, k * share, min(nfiles, (k + 1) * share), up_w, down_r)
        os.close(up_w)
        os.close(down_r)
        kids.append((pid, up_r, down_w))
    results = [json.loads(read_line(up_r)) for _, up_r, _ in kids]
    out = {"children": results, "opened": sum(r["opened"] for r in results),
           "errnos": sorted({errno.errorcode.get(r["errno"], str(r["errno"]))
                             for r in results if r["errno"]}),
           "daemon_fds_held": nfds(dpid)}
    # While everything is held: does the daemon still answer?
    checks = {}
    for name, fn in (("stat_dir", lambda: os.stat(d)),
                     ("stat_file", lambda: os.stat(os.path.join(d, "f0"))),
                     ("open_more", lambda: os.close(os.open(os.path.join(d, f"f{nfiles - 1}"),
                                                            os.O_RDONLY)))):
        try:
            fn()
            checks[name] = "ok"
        except OSError as e:
            checks[name] = errno.errorcode.get(e.errno, str(e.errno))
    out["while_held"] = checks
    for _, _, down_w in kids:
        os.write(down_w, b"x")
    close_errs = {}
    for pid, up_r, _ in kids:
        for k, v in json.loads(read_line(up_r) or b"{}").items():
            close_errs[k] = close_errs.get(k, 0) + v
        os.waitpid(pid, 0)
    out["close_errors"] = close_errs
    print(json.dumps(out))


if __name__ == "__main__":
    main()
