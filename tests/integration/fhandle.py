#!/usr/bin/env python3
"""tests/integration/fhandle.py - name_to_handle_at / open_by_handle_at for t_export.sh.

Python's os module has neither call, so they go through ctypes (libc).

    fhandle.py save PATH FILE        write PATH's file handle to FILE (hex)
    fhandle.py cat MOUNT FILE        open the handle in FILE on MOUNT, print the content
    fhandle.py ls MOUNT FILE         open the handle (a directory), print its sorted names
    fhandle.py path MOUNT FILE       open the handle, print the path it resolves to

On failure prints the errno's name (e.g. ESTALE) and exits 1.
"""
import ctypes
import errno
import os
import sys

MAX_HANDLE_SZ = 128
AT_FDCWD = -100

libc = ctypes.CDLL(None, use_errno=True)


class FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint),
                ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * MAX_HANDLE_SZ)]


libc.name_to_handle_at.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(FileHandle),
                                   ctypes.POINTER(ctypes.c_int), ctypes.c_int]
libc.open_by_handle_at.argtypes = [ctypes.c_int, ctypes.POINTER(FileHandle), ctypes.c_int]


def fail(what):
    e = ctypes.get_errno()
    print(f"{errno.errorcode.get(e, str(e))}: {what}")
    sys.exit(1)


def save(path, out):
    h = FileHandle(handle_bytes=MAX_HANDLE_SZ)
    mount_id = ctypes.c_int()
    if libc.name_to_handle_at(AT_FDCWD, path.encode(), ctypes.byref(h), ctypes.byref(mount_id), 0):
        fail(f"name_to_handle_at {path}")
    raw = bytes(h.f_handle[:h.handle_bytes])
    with open(out, "w") as f:
        f.write(f"{h.handle_type} {raw.hex()}\n")


def open_handle(mount, hfile, flags):
    with open(hfile) as f:
        htype, hexbytes = f.read().split()
    raw = bytes.fromhex(hexbytes)
    h = FileHandle(handle_bytes=len(raw), handle_type=int(htype))
    ctypes.memmove(h.f_handle, raw, len(raw))
    mfd = os.open(mount, os.O_RDONLY | os.O_DIRECTORY)
    fd = libc.open_by_handle_at(mfd, ctypes.byref(h), flags)
    if fd < 0:
        fail(f"open_by_handle_at on {mount}")
    os.close(mfd)
    return fd


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "save":
        save(*args)
    elif cmd == "cat":
        fd = open_handle(args[0], args[1], os.O_RDONLY)
        sys.stdout.write(os.read(fd, 1 << 20).decode())
    elif cmd == "ls":
        fd = open_handle(args[0], args[1], os.O_RDONLY | os.O_DIRECTORY)
        print(" ".join(sorted(os.listdir(fd))))
    elif cmd == "path":
        fd = open_handle(args[0], args[1], os.O_PATH)
        print(os.readlink(f"/proc/self/fd/{fd}"))
    else:
        sys.exit(f"unknown command {cmd}")


main()
