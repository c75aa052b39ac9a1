"""The offline privileged code planner: plans in words read off the reference solution, served as
a teacher, and the reference-plan ceiling built on them."""

from __future__ import annotations

import re
from typing import get_args

import dspy
import pytest

import gcop
from gcop.optimizers.acceptance.leakage import leaks_answer
from gcop.optimizers.acceptance.teacher_prompts import teacher_messages
from gcop.signatures import CodeSolve
from gcop.strategy import DEFAULT_TOKEN_BUDGET, parse_strategy
from gcop.tasks import load_task
from gcop.tasks.code import humaneval, kodcode, mbpp
from gcop.tasks.code.ceiling import CodePlanPolicy, reference_code
from gcop.tasks.code.planner import TEACHER_STYLES, CodePlanner, PlanStyle, plan_from_code
from tests.code_leaks import copied_reference_lines, leaked_test_literals
from tests.fakes import ScriptedLM, last_user_text

STEP = re.compile(r"^\d\. ", re.M)


def _examples() -> list[tuple[dspy.Example, str]]:
    """Every problem of the three code tasks' shipped data (MBPP: dev and a train sample), with
    its tests as one text."""
    found = [(ex, ex.test) for ex in humaneval.load()]
    found += [(ex, ex.test) for split in kodcode.SPLITS for ex in kodcode.load(split)]
    mbpp_rows = mbpp.load("dev") + mbpp.load("train", n=150, seed=0)
    return found + [(ex, "\n".join(ex.tests)) for ex in mbpp_rows]


@pytest.fixture(scope="module")
def plans():
    """(example, tests, style, plan) for every example and style."""
    return [
        (ex, tests, style, plan_from_code(reference_code(ex), ex.get("entry_point"), style))
        for ex, tests in _examples()
        for style in get_args(PlanStyle)
    ]


def test_plans_are_valid_short_numbered_strategies(plans):
    for _, _, style, plan in plans:
        parsed = parse_strategy(f"<strategy>\n{plan}\n</strategy>", require_steps=True)
        assert parsed.valid and parsed.n_tokens <= DEFAULT_TOKEN_BUDGET // 2, (style, plan)
        assert 2 <= len(STEP.findall(plan)) <= 8, plan


def test_plans_hold_no_reference_code_and_nothing_of_the_tests(plans):
    for ex, tests, _, plan in plans:
        copied = copied_reference_lines(plan, reference_code(ex))
        assert not copied, (plan, copied)
        assert not leaks_answer(plan, ex)
        assert "assert" not in plan and "==" not in plan
        leaked = leaked_test_literals(plan, tests)
        assert not leaked, (plan, leaked)


def test_hand_checked_plans():
    below_zero = next(ex for ex in humaneval.load() if ex.task_id == "HumanEval/3")
    assert plan_from_code(reference_code(below_zero), "below_zero") == (
        "1. Write `below_zero(operations)`; it returns True or False. "
        "Import `List` from `typing` first.\n"
        "2. Start with `balance` at `0`.\n"
        "3. Go through each item `op` of `operations`; add to `balance`; "
        "when `balance` is less than `0`, return `True` at once.\n"
        "4. If nothing was returned earlier, return `False`."
    )
    guarded = (
        "def first_even(xs):\n    if not xs:\n        return -1\n"
        "    for x in xs:\n        if x % 2 == 0:\n            return x\n    return -1\n"
    )
    assert plan_from_code(guarded, style="outline") == (
        "1. Interface: `first_even(xs)` returns a number.\n"
        "2. Approach: go through each item `x` of `xs`; when `x` is divisible by `2`, "
        "return `x` at once.\n"
        "3. Edge cases: if `xs` is empty, return `-1`."
    )


def test_hand_checked_contract_and_calls_plans():
    source = (
        "import math\ndef hyp(a, b):\n    if a < 0:\n        raise ValueError\n"
        "    h = math.sqrt(a * a + b * b)\n    return h\n"
    )
    assert plan_from_code(source, style="contract") == (
        "1. Write `hyp(a, b)`; it returns `h`. Import `math` first.\n"
        "2. Edge case: If `a` is less than `0`, raise `ValueError`."
    )
    assert plan_from_code(source, style="calls") == (
        "1. Write `hyp(a, b)`; it returns `h`. Import `math` first.\n"
        "2. Use `sqrt` from `math`.\n"
        "3. Return `h`, the result of `sqrt` of the sum of a value computed from `a` and a value "
        "computed from `b`."
    )


def test_served_from_the_privileged_teacher_prompt_of_each_task():
    for ex in (humaneval.load(n=1)[0], kodcode.load("train", n=1)[0], mbpp.load("dev", n=1)[0]):
        reference = {name: value for name, value in ex.items() if name != "prompt"}
        messages = teacher_messages({"prompt": ex.prompt}, reference=reference)
        reply = CodePlanner(style="outline").complete(messages, n=2)
        plan = plan_from_code(reference_code(ex), ex.entry_point, "outline")
        assert reply.texts == [f"<strategy>\n{plan}\n</strategy>"] * 2
    with pytest.raises(ValueError, match="privileged_teacher=True"):
        CodePlanner().complete(teacher_messages({"prompt": ex.prompt}))


def test_code_tasks_offer_the_planners_as_privileged_teachers_and_a_ceiling():
    for name in ("humaneval", "kodcode", "mbpp"):
        task = load_task(name)
        assert set(task.teachers) == set(TEACHER_STYLES) == task.privileged_teachers
        assert task.ceiling is not None
        task.check_teacher("code-planner")
    assert gcop.lm.resolve.resolve_lm("code-outline-planner", "teacher") == (
        "local/code-outline-planner"
    )


def test_ceiling_hands_the_core_the_reference_plan():
    example = mbpp.load("dev", n=1, seed=3)[0]
    lm = ScriptedLM([f"```python\n{example.solution}```"])
    core = gcop.Core(CodeSolve, lm=lm.model_string, adapter="plain")
    policy = load_task("mbpp").ceiling(core, [example], "code-outline-planner")
    assert isinstance(policy, CodePlanPolicy)
    prediction = policy(prompt=example.prompt)
    plan = plan_from_code(example.solution, example.entry_point, "outline")
    assert prediction.strategy == plan and prediction.reason == "reference"
    assert plan.splitlines()[0] in last_user_text(lm.calls[-1]["messages"])
    assert mbpp.metric(example, prediction)
    with pytest.raises(ValueError, match="only answers the problems"):
        policy(prompt="another problem")
