"""The reference-plan ceiling: the core guided by plans read off GSM8K's reference solutions.

Evaluation only. This policy looks up each question's reference solution, so it sees what no
guide may see at test time; its accuracy is the most a guide writing this kind of plan could
reach with this core, the "ceiling" row of the evidence tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dspy

from gcop.cost import attach_cost, cost_scope, summarize
from gcop.modules.strategy_adapter import plan_kept_on_parse_failure
from gcop.tasks.gsm8k.planner import PlanStyle, plan_from_reference


class ReferencePlanPolicy(dspy.Module):
    """Runs ``core`` on each question with the plan derived from its reference solution, in
    one of the planner's styles (see :func:`plan_from_reference`)."""

    def __init__(
        self, core: Any, examples: Sequence[dspy.Example], *, style: PlanStyle = "numeric"
    ) -> None:
        super().__init__()
        self.core = core
        self._plans = {ex.question: plan_from_reference(ex.answer, style=style) for ex in examples}

    def forward(self, question: str) -> dspy.Prediction:
        if question not in self._plans:
            raise ValueError("ReferencePlanPolicy only answers the questions it was built with")
        plan = {"strategy": self._plans[question], "valid": True, "reason": "reference"}
        with cost_scope() as calls, plan_kept_on_parse_failure(plan):
            prediction = self.core(strategy=plan["strategy"], question=question)
        return attach_cost(dspy.Prediction(**{**prediction, **plan}), summarize(calls))


def reference_plan_policy(core: Any, examples: Sequence[dspy.Example], teacher: str) -> Any:
    """The ceiling row for a run taught by ``teacher``: reference plans in that planner's style
    (numeric for a teacher that is not one of the planners)."""
    from gcop.tasks.gsm8k.planner import TEACHER_STYLES

    return ReferencePlanPolicy(core, examples, style=TEACHER_STYLES.get(teacher, "numeric"))
