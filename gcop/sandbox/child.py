"""The sandboxed child: read the job, set limits, lock the process down, run the job, report.

:mod:`gcop.sandbox.launch` runs this file as a script (``python -I -B -S child.py JOB_FILE``) in
the job's working directory, so it imports only the standard library, and only what it needs.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_PYTEST_RUNNER = os.path.join(_HERE, "child_pytest.py")
_CONFINE = os.path.join(_HERE, "child_confine.py")
_OWN_FILES = (__file__, _PYTEST_RUNNER)  # frames hidden from the tracebacks we report


def main(job_file: str) -> None:
    """Read the job, lock down, run it, and report through the result pipe."""
    root = os.getcwd()
    with open(job_file) as f:
        spec = json.load(f)
    os.remove(job_file)
    nonce, result_fd = spec.pop("nonce"), spec.pop("result_fd")
    sys.argv[:] = ["solution"]
    sys.path[:0] = [root]
    sys.path += spec["sys_path"]
    _limits(spec)
    if any(word in (spec["tests"] or "") for word in ("pytest", "monkeypatch")):
        try:  # imported before the guard: pytest needs calls the guard disables
            import pytest  # noqa: F401
        except ImportError:
            pass
    confinement = _sibling(_CONFINE, "gcop_sandbox_confine")
    landlock = confinement.confine(root, spec["sys_path"])
    capabilities_dropped = confinement.drop_capabilities()
    seccomp = _no_fork()
    _guard(root, block_sockets=spec["block_sockets"])
    status, error = _run(spec, root)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # the program may have closed or replaced it
            pass
    record = {"status": status, "error": error[-8000:], "seccomp": seccomp, "landlock": landlock}
    record["capabilities_dropped"] = capabilities_dropped
    record = json.dumps(record)
    os.write(result_fd, f"{nonce} {record}\n".encode())
    os._exit(0)


def _limits(spec: dict) -> None:
    import math
    import resource

    def limit(kind: int, soft: int, hard: int | None = None) -> None:
        try:
            resource.setrlimit(kind, (soft, soft if hard is None else hard))
        except (ValueError, OSError):  # above an existing hard limit: keep that one
            pass

    cpu = math.ceil(spec["timeout_s"]) + 1
    limit(resource.RLIMIT_CPU, cpu, cpu + 1)
    limit(resource.RLIMIT_AS, spec["memory_mb"] << 20)
    limit(resource.RLIMIT_FSIZE, spec["file_size_mb"] << 20)
    limit(resource.RLIMIT_CORE, 0)
    if os.getuid() != 0:  # root ignores RLIMIT_NPROC; the seccomp filter and guard cover it
        mine = [p for p in os.listdir("/proc") if p.isdigit()]
        count = sum(1 for p in mine if _owner(p) == os.getuid())
        limit(resource.RLIMIT_NPROC, count + spec["max_processes"])
    signal.signal(signal.SIGALRM, lambda *_: os._exit(124))  # backstop if the parent is gone
    signal.setitimer(signal.ITIMER_REAL, spec["timeout_s"] + 2)


def _owner(pid: str) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def _no_fork() -> bool:
    """Install a seccomp filter refusing fork/vfork/kill/tkill and non-thread clone (clone3 says
    ENOSYS so libc falls back to clone); the path forms of chmod, chown, utime and xattr changes,
    which Landlock does not cover (their fd forms pass: an fd is opened through Landlock); and
    UNIX-domain sockets, which reach servers by path even from a private network. Return whether
    it is active."""
    import ctypes
    import struct

    arches = {  # AUDIT_ARCH, clone, utimensat, socket, then the syscalls refused outright
        "x86_64": (
            0xC000003E,
            (56, 280, 41),
            (57, 58, 62, 200, 90, 268, 452, 92, 94, 260, 188, 189, 197, 198, 132, 235, 261),
        ),
        "aarch64": (0xC00000B7, (220, 88, 198), (129, 130, 53, 452, 54, 5, 6, 14, 15)),
    }
    if os.uname().machine not in arches:
        return False
    audit, (clone, utimensat, socket), refused = arches[os.uname().machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050001, 0x00050026
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, audit), (ret, 0, 0, eperm), (ld, 0, 0, 0)]
    prog += [(jge, 0, 1, 0x40000000), (ret, 0, 0, eperm), (jeq, 0, 1, 435), (ret, 0, 0, enosys)]
    for nr in refused:
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
    prog += [(jeq, 0, 6, utimensat), (ld, 0, 0, 24), (jeq, 0, 2, 0), (ld, 0, 0, 28)]  # a path
    prog += [(jeq, 1, 0, 0), (ret, 0, 0, eperm), (ret, 0, 0, allow)]  # args[1] NULL: futimens
    prog += [(jeq, 0, 4, socket), (ld, 0, 0, 16), (jeq, 0, 1, 1), (ret, 0, 0, eperm)]  # AF_UNIX
    prog += [(ret, 0, 0, allow)]
    prog += [(jeq, 1, 0, clone), (ret, 0, 0, allow), (ld, 0, 0, 16)]  # args[0] = clone flags
    prog += [(jset, 0, 1, 0x10000), (ret, 0, 0, allow), (ret, 0, 0, eperm)]  # CLONE_THREAD
    code = b"".join(struct.pack("HBBI", *ins) for ins in prog)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fprog = SockFprog(len(prog), code)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return False
        return libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, FILTER
    except (OSError, AttributeError):
        return False


_DENIED = """kill killpg fork forkpty system popen execv execve execl execle execlp execlpe execvp
execvpe spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe posix_spawn posix_spawnp
setsid setpgid setuid seteuid setgid setegid setreuid setregid setresuid setresgid chroot""".split()
_CONFINED = {  # os function -> positions of path arguments that must stay inside the root
    **dict.fromkeys("remove unlink rmdir mkdir truncate".split(), (0,)),
    **dict.fromkeys("mkfifo mknod fchmod fchown ftruncate".split(), (0,)),
    **dict.fromkeys("rename renames replace link".split(), (0, 1)),
    "symlink": (1,),  # only the link's own location; writes through it are checked when opened
}
_BY_FD = ("chmod", "chown", "lchown", "utime")  # their path syscalls are refused by seccomp


def _guard(root: str, block_sockets: bool) -> None:
    """Disable process/signal calls, and file mutation outside ``root``, for the code to come."""
    import _posixsubprocess
    import builtins
    import io
    import posix
    import resource

    def deny(name: str):
        def disabled(*args, **kwargs):
            raise PermissionError(f"{name}() is disabled in the gcop sandbox")

        return disabled

    def check(path, dir_fd=None) -> None:
        if isinstance(path, int):
            path = os.readlink(f"/proc/self/fd/{path}")
        path = os.fsdecode(os.fspath(path))
        if path in ("/dev/null", "/dev/stdout", "/dev/stderr"):
            return
        if dir_fd is not None and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        real = os.path.realpath(path)
        if real != root and not real.startswith(root + os.sep):
            raise PermissionError(f"writing outside the sandbox directory is disabled: {path}")

    def confine(name: str, fn, which):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for i in which:
                if i < len(args):
                    check(args[i], kwargs.get("dir_fd"))
            return fn(*args, **kwargs)

        return wrapper

    real_open, real_os_open = io.open, os.open

    def by_fd(fn, follow: bool = True):
        """``fn(path, ...)`` inside ``root``, done on an open file (the path form is refused)."""

        @functools.wraps(fn)
        def wrapper(path, *args, dir_fd=None, follow_symlinks=follow, **kwargs):
            if isinstance(path, int):
                return fn(path, *args, **kwargs)
            check(path, dir_fd)
            flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
            fd = real_os_open(
                path, flags | (0 if follow_symlinks else os.O_NOFOLLOW), dir_fd=dir_fd
            )
            try:
                return fn(fd, *args, **kwargs)
            finally:
                os.close(fd)

        return wrapper

    for mod in (os, posix):
        for name in _DENIED:
            if hasattr(mod, name):
                setattr(mod, name, deny(f"os.{name}"))
        for name, which in _CONFINED.items():
            if hasattr(mod, name):
                setattr(mod, name, confine(name, getattr(mod, name), which))
        for name in _BY_FD:
            real = getattr(posix, "chown" if name == "lchown" else name)
            setattr(mod, name, by_fd(real, follow=name != "lchown"))
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guarded_open(file, mode="r", *args, **kwargs):
        if not isinstance(file, int) and any(c in str(mode) for c in "wax+"):
            check(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & writes:
            check(path, kwargs.get("dir_fd"))
        return real_os_open(path, flags, *args, **kwargs)

    builtins.open = io.open = guarded_open
    os.open = posix.open = guarded_os_open
    _posixsubprocess.fork_exec = deny("subprocess")  # subprocess, multiprocessing
    resource.setrlimit = deny("resource.setrlimit")
    resource.prlimit = deny("resource.prlimit")
    if block_sockets:
        import socket

        class GuardedSocket(socket.socket):
            def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
                if fileno is None:  # socketpair() passes a fileno and stays usable
                    raise PermissionError("network access is disabled in the gcop sandbox")
                super().__init__(family, type, proto, fileno)

        socket.socket = GuardedSocket


def _run(spec: dict, root: str) -> tuple[str, str]:
    """Execute the job; return ``(status, error text)``."""
    style, program = spec["style"], spec["program"]
    try:
        if style == "program":
            try:
                exec(compile(program, "program.py", "exec"), {"__name__": "__main__"})
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    raise
            return "passed", ""
        if style == "pytest":
            return _sibling(_PYTEST_RUNNER, "gcop_sandbox_pytest").run(
                spec["tests"], root, judge=_judge
            )
        ns = {"__name__": "solution"}
        exec(compile(program, "solution.py", "exec"), ns)
        exec(compile(spec["tests"], "tests.py", "exec"), ns)
        if spec["entry_point"] not in ns:
            return "error", f"the program does not define {spec['entry_point']!r}"
        ns["check"](ns[spec["entry_point"]])
        return "passed", ""
    except BaseException as exc:  # noqa: BLE001 - any exception is a verdict
        return _judge(exc)


def _sibling(path: str, name: str):
    """A script beside this one, loaded by path: this script's directory is not on ``sys.path``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _judge(exc: BaseException) -> tuple[str, str]:
    """``(status, traceback)`` for an exception: ``failed`` for assertions, else ``error``."""
    import traceback

    failed = isinstance(exc, AssertionError) or type(exc).__name__ == "Failed"  # pytest.fail
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [frame for frame in te.stack if frame.filename not in _OWN_FILES]
    )
    return "failed" if failed else "error", "".join(te.format())[-4000:]


if __name__ == "__main__":
    main(sys.argv[1])
