#!/usr/bin/env python3
"""tests/fuzz/mkseeds.py - write seed inputs for the fuzz targets.

Dispatch seeds are sequences of well-formed requests in the record format
fuzz_dispatch.c reads ([u16 length][request]), built here byte by byte as
the kernel would send them against the fuzz vfs (memfs at /a/b = index 1,
read-only memfs at /c = index 2). Config seeds are the test configs.
Usage: mkseeds.py OUTDIR
"""
import os
import struct
import sys

ROOT = 1
B = (1 << 48) | 1  # memfs root at /a/b
C = (2 << 48) | 1  # read-only memfs root at /c
uniq = [10]

# opcodes (linux/fuse.h)
LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, OPEN, READ, WRITE, STATFS, RELEASE = 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18
FSYNC, SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR, FLUSH = 20, 21, 22, 23, 24, 25
OPENDIR, READDIR, RELEASEDIR, ACCESS, CREATE, INTERRUPT, BATCH_FORGET, FALLOCATE, READDIRPLUS, RENAME2, LSEEK, COPY_FILE_RANGE = 27, 28, 29, 34, 35, 36, 42, 43, 44, 45, 46, 47


def req(opcode, nodeid, arg=b""):
    uniq[0] += 1
    # the first argument byte's bit 0 tells the fuzzer to keep len as is
    hdr = struct.pack("<IIQQIIIHH", 40 + len(arg), opcode, uniq[0], nodeid, 0, 0, 1, 0, 0)
    body = hdr + arg
    return struct.pack("<H", len(body)) + body


def name(s):
    return s.encode() + b"\0"


def seq_lookup():
    return (req(LOOKUP, ROOT, name("a")) + req(LOOKUP, ROOT, name("c")) +
            req(GETATTR, C, struct.pack("<IIQ", 0, 0, 0)) + req(STATFS, B) +
            req(ACCESS, ROOT, struct.pack("<II", 4, 0)) + req(FORGET, C, struct.pack("<Q", 1)))


def seq_readdir():
    rd = struct.pack("<QQIIQII", 0, 0, 4096, 0, 0, 0, 0)
    return (req(OPENDIR, ROOT, struct.pack("<II", 0, 0)) + req(READDIRPLUS, ROOT, rd) +
            req(READDIR, ROOT, rd) + req(RELEASEDIR, ROOT, struct.pack("<QIIQ", 0, 0, 0, 0)) +
            req(BATCH_FORGET, 0, struct.pack("<II", 1, 0) + struct.pack("<QQ", C, 1)))


def seq_files():
    s = req(LOOKUP, ROOT, name("a"))
    s += req(CREATE, B, struct.pack("<IIII", 2 | 0o100, 0o100644, 0o22, 0) + name("f"))
    ino = (1 << 48) | 2
    s += req(WRITE, ino, struct.pack("<QQIIQII", 0, 0, 5, 0, 0, 2, 0) + b"hello")
    s += req(READ, ino, struct.pack("<QQIIQII", 0, 0, 4096, 0, 0, 0, 0))
    s += req(SETATTR, ino, struct.pack("<IIQQQQQQIIIIIIII", 8, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    s += req(FALLOCATE, ino, struct.pack("<QQQII", 0, 0, 8192, 1, 0))
    s += req(LSEEK, ino, struct.pack("<QQII", 0, 0, 3, 0))
    s += req(SETXATTR, ino, struct.pack("<II", 3, 0) + name("user.k") + b"val")
    s += req(GETXATTR, ino, struct.pack("<II", 0, 0) + name("user.k"))
    s += req(LISTXATTR, ino, struct.pack("<II", 256, 0))
    s += req(FLUSH, ino, struct.pack("<QIIQ", 0, 0, 0, 0))
    s += req(FSYNC, ino, struct.pack("<QII", 0, 1, 0))
    s += req(RELEASE, ino, struct.pack("<QIIQ", 0, 2, 0, 0))
    return s


def seq_namespace():
    s = req(LOOKUP, ROOT, name("a"))
    s += req(MKDIR, B, struct.pack("<II", 0o755, 0o22) + name("d"))
    s += req(MKNOD, B, struct.pack("<IIII", 0o10644, 0, 0o22, 0) + name("p"))
    s += req(SYMLINK, B, name("l") + name("target/x"))
    s += req(READLINK, (1 << 48) | 4)
    s += req(LINK, B, struct.pack("<Q", (1 << 48) | 3) + name("p2"))
    s += req(RENAME2, B, struct.pack("<QII", B, 1, 0) + name("p") + name("q"))
    s += req(RENAME, B, struct.pack("<Q", C) + name("q") + name("q"))
    s += req(UNLINK, B, name("p2"))
    s += req(RMDIR, B, name("d"))
    s += req(MKDIR, C, struct.pack("<II", 0o755, 0o22) + name("ro"))
    s += req(INTERRUPT, 0, struct.pack("<Q", 5))
    return s


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for fn in (seq_lookup, seq_readdir, seq_files, seq_namespace):
        with open(os.path.join(out, fn.__name__), "wb") as f:
            f.write(fn())


if __name__ == "__main__":
    main()
