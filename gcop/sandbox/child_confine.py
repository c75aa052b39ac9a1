"""Confinement of the sandboxed child by the kernel, for the child and anything it starts.
Standard library only: ``child.py`` loads it by path before running the job.

:func:`landlock`: the child may read, write, create and delete files in its working directory,
read the interpreter and its libraries, and touch nothing else, by any route (Python's own calls,
``ctypes``, ``sqlite3``...), even as root. :func:`drop_capabilities`: a child started as root keeps
uid 0 (the interpreter may live in root's home) but loses every capability, so it cannot set the
clock, reboot, load modules, renice or re-limit other processes, or read past file permissions.

Landlock (Linux 5.13+) governs opening, reading, writing, creating, deleting, renaming and
linking files, ``ioctl`` on devices, ``mount``, and ``ptrace``/signals beyond the sandbox (ABI 6);
not ``stat``, ``chmod``, ``chown``, ``utime`` or xattrs, which the child's seccomp filter and guard
cover.
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct
import sys

# access rights (linux/landlock.h)
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
_SINCE_ABI = {1: (MAKE_SYM << 1) - 1, 2: REFER, 3: TRUNCATE, 5: IOCTL_DEV}  # the rights each added
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # those a file can get
_READ = EXECUTE | READ_FILE | READ_DIR
_CAPSET = {"x86_64": 126, "aarch64": 91}  # the capset syscall
_SCOPES = 1 << 0 | 1 << 1  # abstract UNIX sockets and signals stay inside the sandbox (ABI 6)
_READ_ONLY = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/etc/localtime", "/dev/urandom")


def confine(root: str, sys_path: list[str]) -> int:
    """Confine this process to ``root`` and reading what Python needs (:func:`landlock`)."""
    here = os.path.dirname(os.path.abspath(__file__))
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return landlock(root, sorted({*_READ_ONLY, *prefixes, *sys_path, *sys.path, here}))


def landlock(root: str, readable: list[str]) -> int:
    """Confine the filesystem with Landlock (Linux 5.13+), for this process and any it starts:
    everything beneath ``root``, reading beneath ``readable``, ``/dev/null``, nothing else (no
    reading, writing, creating, deleting or renaming anywhere else; root is confined too).
    Return the Landlock ABI in force, 0 where the kernel has none."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    create, add_rule, restrict = 444, 445, 446  # the same numbers on x86_64 and aarch64
    abi = libc.syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # _VERSION
    if abi < 1:
        return 0
    handled = sum(bits for since, bits in _SINCE_ABI.items() if abi >= since)
    attr = struct.pack("QQQ", handled, 0, _SCOPES if abi >= 6 else 0)[: 24 if abi >= 6 else 8]
    ruleset = libc.syscall(create, attr, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        return 0
    try:
        for path, rights in [*((p, _READ) for p in readable), (root, handled)]:
            _allow(libc, ruleset, path, rights & handled, add_rule)
        _allow(libc, ruleset, "/dev/null", WRITE_FILE | READ_FILE, add_rule)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS: required to restrict self
            return 0
        return abi if libc.syscall(restrict, ruleset, ctypes.c_uint32(0)) == 0 else 0
    finally:
        os.close(ruleset)


def _allow(libc, ruleset: int, path: str, rights: int, add_rule: int) -> None:
    """Grant ``rights`` beneath ``path`` (a file gets only the rights that apply to files)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # absent here (e.g. no /lib32): nothing to grant
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        beneath = struct.pack("=Qi", rights, fd)  # landlock_path_beneath_attr, packed
        libc.syscall(add_rule, ruleset, ctypes.c_int(1), beneath, ctypes.c_uint32(0))
    finally:
        os.close(fd)


def drop_capabilities() -> bool:
    """Drop every capability, from the bounding set too, so none comes back; return whether the
    process holds none now."""
    number = _CAPSET.get(os.uname().machine)
    if number is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    for cap in range(64):
        if libc.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # PR_CAPBSET_DROP
            break  # EINVAL: past the last capability this kernel knows
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    none = bytes(24)  # effective, permitted, inheritable, for both 32-bit halves
    return libc.syscall(number, header, none) == 0
