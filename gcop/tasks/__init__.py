"""Tasks: each is a :class:`~gcop.tasks.task.Task` (data, signatures, metric, strategy kit,
offline teachers). gcop's own are named in :data:`TASKS`; any other is a ``module:ATTRIBUTE``
path to a ``Task`` (``mypkg.tasks:TASK``).

>>> load_task("gsm8k").core_signature.__name__
'MathSolve'
"""

from __future__ import annotations

import importlib

TASKS = {  # name -> where its Task is defined
    "gsm8k": "gcop.tasks.gsm8k:TASK",
    "humaneval": "gcop.tasks.code.humaneval:TASK",
    "kodcode": "gcop.tasks.code.kodcode:TASK",
    "mbpp": "gcop.tasks.code.mbpp:TASK",
}

__all__ = ["TASKS", "load_task"]


def load_task(name: str):
    """The :class:`~gcop.tasks.task.Task` called ``name`` (one of :data:`TASKS`,
    case-insensitive) or found at ``module:ATTRIBUTE``."""
    from gcop.tasks.task import Task

    if not isinstance(name, str) or not name:
        raise ValueError(f"a task is a name or 'module:ATTRIBUTE', got {name!r}")
    path = TASKS.get(name.lower(), name)
    if ":" not in path:
        raise ValueError(
            f"unknown task {name!r}: choose one of {', '.join(TASKS)}, or give your own as "
            "'module:ATTRIBUTE' (e.g. mypkg.tasks:TASK)"
        )
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"task {name!r}: cannot import {module_name!r} ({error})") from None
    task = getattr(module, attribute, None)
    if not isinstance(task, Task):
        raise ValueError(
            f"task {name!r}: {module_name}.{attribute} is {type(task).__name__}, not a gcop.Task"
        )
    return task
