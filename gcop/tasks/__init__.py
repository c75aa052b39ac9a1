"""Benchmark tasks: each module has ``load(split, n, seed)``, a ``metric`` and the guide/core
signatures it pairs with (``GUIDE_SIGNATURE``, ``CORE_SIGNATURE``).

>>> load_task("gsm8k").CORE_SIGNATURE.__name__
'MathSolve'
"""

from __future__ import annotations

import importlib
from types import ModuleType

TASKS = ("gsm8k", "humaneval", "kodcode")

__all__ = ["TASKS", "load_task"]


def load_task(name: str) -> ModuleType:
    """The task module for ``name`` (one of :data:`TASKS`, case-insensitive)."""
    key = name.lower() if isinstance(name, str) else name
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    return importlib.import_module(f"gcop.tasks.{key}")
