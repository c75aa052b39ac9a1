"""The code tasks' kit: with the render on, a task's policy hands its core the guide's plan as the
function's skeleton, and the reference-plan ceiling does the same with the reference plans."""

from __future__ import annotations

import pytest

from gcop.modules.plain_adapter import PLAN_HEADER
from gcop.modules.strategy_kit import UNRENDERED
from gcop.tasks import load_task
from gcop.tasks.code import mbpp
from gcop.tasks.code.kit import KIT
from gcop.tasks.code.planner import plan_from_code
from gcop.tasks.code.skeleton import SKELETON_HEADER, render_skeleton
from gcop.tasks.task import PolicySettings
from tests.fakes import last_user_text

RENDERED = PolicySettings(core_adapter="plain", render=True)
PLAN = "1. Write `double(x)`; it returns a number.\n2. Return twice `x`."


@pytest.mark.parametrize("name", ["humaneval", "kodcode", "mbpp"])
def test_each_code_task_renders_the_guides_plan_as_a_skeleton(scripted_lm, name):
    task = load_task(name)
    assert task.kit is KIT
    guide = scripted_lm([f"<strategy>\n{PLAN}\n</strategy>"])
    core = scripted_lm(["```python\ndef double(x):\n    return 2 * x\n```"])
    policy = task.policy(guide.model_string, core.model_string, RENDERED)
    prediction = policy(prompt="Write a function that doubles a number.")
    seen = last_user_text(core.calls[-1]["messages"])
    assert render_skeleton(PLAN) in seen and "1. Write" not in seen
    assert "def double(x):\n    # returns a number\n    # Return twice x." in seen
    assert prediction.code.startswith("```python")


def test_without_the_render_the_core_reads_the_plan_as_written(scripted_lm):
    guide = scripted_lm([f"<strategy>\n{PLAN}\n</strategy>"])
    core = scripted_lm(["```python\ndef double(x):\n    return 2 * x\n```"])
    policy = load_task("mbpp").policy(
        guide.model_string, core.model_string, PolicySettings(core_adapter="plain")
    )
    policy(prompt="Write a function that doubles a number.")
    seen = last_user_text(core.calls[-1]["messages"])
    assert PLAN in seen and SKELETON_HEADER not in seen


def test_a_plan_naming_no_function_leaves_the_core_alone(scripted_lm):
    guide = scripted_lm(["<strategy>\n1. Loop over the list.\n2. Return the total.\n</strategy>"])
    core = scripted_lm(["```python\ndef total(xs):\n    return sum(xs)\n```"])
    policy = load_task("mbpp").policy(guide.model_string, core.model_string, RENDERED)
    prediction = policy(prompt="Write a function that sums a list.")
    assert PLAN_HEADER not in last_user_text(core.calls[-1]["messages"])
    assert policy.core.unrendered == 1
    assert prediction.valid and prediction.reason.startswith(UNRENDERED)  # said, not hidden


def test_the_report_counts_unrendered_plans_apart_and_leaves_them_out_of_eta(scripted_lm):
    """A valid plan the render cannot use never reaches the core: it is neither a "plan sent"
    nor part of η, which measures how often the core carries out the plans it reads."""
    import dspy

    from gcop.evaluate import evaluate

    plans = ["1. Loop over the list.", PLAN]  # the first names no function: not rendered
    guide = scripted_lm([f"<strategy>\n{plan}\n</strategy>" for plan in plans])
    core = scripted_lm(["```python\ndef double(x):\n    return 2 * x\n```"])
    policy = load_task("mbpp").policy(guide.model_string, core.model_string, RENDERED)
    tasks = ["Write a function that sums a list.", "Write a function that doubles a number."]
    examples = [dspy.Example(prompt=task).with_inputs("prompt") for task in tasks]

    def core_alone_solves(example, prediction, trace=None):  # the unrendered task only
        return float("sums" in example.prompt)

    result = evaluate(policy, examples, core_alone_solves, name="guided", num_threads=1)
    assert result.guide_use["plan sent"] == 1
    assert result.guide_use["plan not rendered, core alone"] == 1
    assert result.accuracy == 0.5 and result.valid_rate == 1.0
    assert result.executability == 0.0  # the one plan the core read failed


def test_the_ceiling_hands_the_core_the_reference_plan_as_a_skeleton(scripted_lm):
    example = mbpp.load("dev", n=1, seed=3)[0]
    core = scripted_lm([f"```python\n{example.solution}```"])
    task = load_task("mbpp")
    policy = task.policy(None, core.model_string, RENDERED)
    ceiling = task.ceiling(policy.core, [example], "code-planner")
    prediction = ceiling(prompt=example.prompt)
    plan = plan_from_code(example.solution, example.entry_point)
    assert render_skeleton(plan) in last_user_text(core.calls[-1]["messages"])
    assert mbpp.metric(example, prediction)
