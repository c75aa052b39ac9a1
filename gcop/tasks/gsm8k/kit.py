"""GSM8K's strategy kit and task: what the evidence study found works for this core.

The kit samples plans and agrees on the number they compute (:func:`.calculator.plan_value`),
renders symbolic plans numeric for the core (:func:`.calculator.render_symbolic`), keeps the
core's own answer where a plan computes it (:func:`.calculator.answer_value`) and checks a plan
against the gold answer without the core (:func:`.calculator.plan_verdict`). The offline planners
(privileged: they read the reference solution) are registered as teachers by name.
"""

from __future__ import annotations

import functools

from gcop.lm.resolve import register_named_backend
from gcop.modules.strategy_kit import StrategyKit, register_kit
from gcop.tasks.gsm8k.calculator import answer_value, plan_value, plan_verdict, render_symbolic
from gcop.tasks.gsm8k.ceiling import reference_plan_policy
from gcop.tasks.gsm8k.data import CORE_SIGNATURE, GUIDE_SIGNATURE, exact_match, load
from gcop.tasks.gsm8k.planner import TEACHER_STYLES, register
from gcop.tasks.task import Task

KIT = register_kit(
    StrategyKit(
        "gsm8k",
        consensus=plan_value,
        render=render_symbolic,
        answer_key=answer_value,
        verifier=plan_verdict,
    )
)

TEACHERS = {name: functools.partial(register, name) for name in TEACHER_STYLES}
for _name, _serve in TEACHERS.items():
    register_named_backend(_name, _serve)

TASK = Task(
    name="gsm8k",
    load=load,
    guide_signature=GUIDE_SIGNATURE,
    core_signature=CORE_SIGNATURE,
    metric=exact_match,
    kit=KIT,
    teachers=TEACHERS,
    privileged_teachers=frozenset(TEACHERS),
    ceiling=reference_plan_policy,
)
