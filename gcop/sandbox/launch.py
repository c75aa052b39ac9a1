"""Start one sandboxed child and collect its verdict: a fresh working directory, a minimal
environment, ``unshare`` namespaces where the kernel allows them, capped output and a wall clock.

The child is ``child.py`` run as a script (``python -I -B -S child.py JOB_FILE``); it reports
``{status, error, seccomp, landlock, ...}`` on a private pipe, prefixed by a nonce only it and
we know.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import signal
import sys
import threading

from gcop.sandbox.jobs import Job, SandboxConfig, SandboxResult

logger = logging.getLogger(__name__)

_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
_JOB_FILE = ".gcop_job.json"
_ONCE_LOCK = threading.Lock()


@functools.cache
def namespace_prefix() -> tuple[str, ...]:
    """The ``unshare`` command line that works here (probed once), or ``()``."""
    with _ONCE_LOCK:  # functools.cache alone lets every first concurrent caller probe
        return _probe_namespace()


@functools.cache
def _probe_namespace() -> tuple[str, ...]:
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


def execute(job: Job, cfg: SandboxConfig) -> tuple[SandboxResult, dict]:
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
    prefix = namespace_prefix() if cfg.isolate else ()
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
                [*prefix, sys.executable, "-I", "-B", "-S", _CHILD, _JOB_FILE],
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
    if record and not record.get("landlock"):
        _warn_once("sandbox: Landlock unavailable; only the in-process guard confines file access")
    stdout, stderr = (b.decode("utf-8", "replace") for b in (out, err))
    if record.get("status") in ("passed", "failed", "error"):
        status, error = record["status"], record.get("error", "")
    elif timed_out:
        status, error = "timeout", f"exceeded the {cfg.timeout_s:g} s wall-clock limit"
    else:
        status, error = "error", _describe_exit(proc.returncode, stderr)
    result = SandboxResult(status, error, stdout, stderr, time.monotonic() - start)
    return result, record


def _warn_once(message: str) -> None:
    with _ONCE_LOCK:
        _warn(message)


@functools.cache
def _warn(message: str) -> None:
    logger.warning(message)


def _parse_record(raw: bytes, nonce: str) -> dict:
    """The child's ``{status, error, seccomp, landlock, ...}`` line; only it knows the nonce."""
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
