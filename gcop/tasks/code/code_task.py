"""What every code task shares: a pass@1 metric that runs the reply's code in the sandbox, and
the ``Task`` with the code kit (plans rendered as the function's skeleton), the offline code
planners as teachers and the reference-plan ceiling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gcop.sandbox import Job, SandboxConfig, run_job
from gcop.signatures import CodeGuide, CodeSolve
from gcop.tasks.code.ceiling import code_plan_policy, reference_code
from gcop.tasks.code.kit import KIT
from gcop.tasks.code.metric import extract_code, prediction_code
from gcop.tasks.code.planner import CODE_TEACHERS, PRIVILEGED_CODE_TEACHERS
from gcop.tasks.task import Task

GUIDE_SIGNATURE = CodeGuide
CORE_SIGNATURE = CodeSolve


def sandbox_metric(job: Callable[[Any, str], Job]) -> Callable[..., bool]:
    """``metric(example, prediction, trace=None, config=None)``: pass@1 of one reply, its code
    extracted and run by ``job(example, code)`` in the sandbox."""

    def metric(example, prediction, trace=None, config: SandboxConfig | None = None) -> bool:
        code = extract_code(prediction_code(prediction), example.entry_point)
        return run_job(job(example, code), config=config).passed

    return metric


def reference_demo(example: Any) -> Any:
    """``example`` as a worked example for the core: its reference solution as the reply.

    >>> import dspy
    >>> example = dspy.Example(prompt="def f(x):\\n", canonical_solution="    return x\\n")
    >>> print(reference_demo(example).code)
    ```python
    def f(x):
        return x
    ```
    """
    return example.copy(code=f"```python\n{reference_code(example).strip()}\n```")


def code_task(name: str, load: Callable[..., list], metric: Callable[..., Any]) -> Task:
    """A code task on gcop's code signatures, taught by the offline code planners; its kit's
    render (``PolicySettings(render=True)``) hands the core each plan as a skeleton."""
    return Task(
        name=name,
        load=load,
        guide_signature=GUIDE_SIGNATURE,
        core_signature=CORE_SIGNATURE,
        metric=metric,
        kit=KIT,
        teachers=CODE_TEACHERS,
        privileged_teachers=PRIVILEGED_CODE_TEACHERS,
        ceiling=code_plan_policy,
        demo=reference_demo,
    )
