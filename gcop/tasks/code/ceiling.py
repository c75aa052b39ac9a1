"""The reference-plan ceiling for code tasks: the core guided by plans read off each problem's
reference solution (:func:`.planner.plan_from_code`).

Evaluation only. The policy looks up each problem's reference, so it sees what no guide may see
at test time; its pass rate is the most a guide writing this kind of plan could reach with this
core, the "ceiling" row of the evidence tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dspy

from gcop.cost import attach_cost, cost_scope, summarize
from gcop.modules.strategy_adapter import plan_kept_on_parse_failure
from gcop.tasks.code.planner import TEACHER_STYLES, PlanStyle, plan_from_code

__all__ = ["CodePlanPolicy", "code_plan_policy", "reference_code"]


def reference_code(example: Any) -> str:
    """An example's reference as a whole module: HumanEval's ``canonical_solution`` is a body,
    joined to its ``prompt``; KodCode's and MBPP's ``solution`` is the module itself.

    >>> import dspy
    >>> example = dspy.Example(prompt="def f(x):\\n", canonical_solution="    return x\\n")
    >>> print(reference_code(example))
    def f(x):
        return x
    <BLANKLINE>
    """
    body = example.get("canonical_solution")
    if isinstance(body, str):
        return example.prompt + body
    solution = example.get("solution")
    if not isinstance(solution, str):
        raise ValueError(
            "a code example needs its reference in 'canonical_solution' (a body completing "
            "'prompt') or 'solution' (the whole module) for reference plans"
        )
    return solution


class CodePlanPolicy(dspy.Module):
    """Runs ``core`` on each problem with the plan derived from its reference solution."""

    def __init__(
        self,
        core: Any,
        examples: Sequence[dspy.Example],
        *,
        style: PlanStyle = "steps",
        input_field: str = "prompt",
    ) -> None:
        super().__init__()
        self.core = core
        self.input_field = input_field
        self._plans = {
            ex[input_field]: plan_from_code(reference_code(ex), ex.get("entry_point"), style)
            for ex in examples
        }

    def forward(self, **inputs: Any) -> dspy.Prediction:
        key = inputs.get(self.input_field)
        if key not in self._plans:
            raise ValueError("CodePlanPolicy only answers the problems it was built with")
        plan = {"strategy": self._plans[key], "valid": True, "reason": "reference"}
        with cost_scope() as calls, plan_kept_on_parse_failure(plan):
            prediction = self.core(strategy=plan["strategy"], **inputs)
        return attach_cost(dspy.Prediction(**{**prediction, **plan}), summarize(calls))


def code_plan_policy(core: Any, examples: Sequence[dspy.Example], teacher: str) -> Any:
    """The ceiling row for a run taught by ``teacher``: reference plans in that planner's style
    (``steps`` for a teacher that is not one of the code planners)."""
    return CodePlanPolicy(core, examples, style=TEACHER_STYLES.get(teacher, "steps"))
