"""What the sandbox runs (:class:`Job`), under which limits (:class:`SandboxConfig`), what comes
back (:class:`SandboxResult`) and which protections were active (:class:`Isolation`)."""

from __future__ import annotations

import dataclasses
from typing import Literal

Status = Literal["passed", "failed", "timeout", "error"]
Style = Literal["auto", "program", "check", "pytest"]
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
    """Which protections are active: ``network`` is ``netns`` or ``socket-guard``;
    ``filesystem`` is ``landlock`` (the kernel confines every file access to the run's folder,
    plus reading the interpreter and its libraries) or ``guard`` (only Python's own calls are
    checked); ``capabilities_dropped``: a child started as root holds no capability."""

    network: Literal["netns", "socket-guard"]
    pid_namespace: bool
    fork_block: Literal["seccomp", "guard"]
    filesystem: Literal["landlock", "guard"] = "guard"
    capabilities_dropped: bool = False
