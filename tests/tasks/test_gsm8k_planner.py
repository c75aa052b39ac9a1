"""The offline privileged planners: plans read off GSM8K reference calculations."""

from __future__ import annotations

import re

import dspy

from gcop.strategy import parse_strategy
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k_planner import plan_from_reference, register

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
REFERENCE = (
    "He spent 10*9 = <<10*9=90>>90 minutes washing and 15*6 = <<15*6=90>>90 changing oil.\n"
    "In all 90+90 = <<90+90=180>>180 minutes, or 180/60 = <<180/60=3>>3 hours.\n#### 3"
)


def test_numeric_and_symbolic_plans():
    assert plan_from_reference(REFERENCE) == (
        "1. Compute 10*9.\n2. Compute 15*6.\n3. Compute 90+90.\n4. Compute 180/60."
    )
    assert plan_from_reference(REFERENCE, symbolic=True) == (
        "1. A = 10*9\n2. B = 15*6\n3. C = A+B\n4. D = C/60"
    )


def _foreign_numbers(plan: str, question: str) -> int:
    """Numbers in a plan's calculations that the question does not contain."""
    given = {float(n.replace(",", "")) for n in NUMBER.findall(question)}
    expressions = [line.split(". ", 1)[1] for line in plan.splitlines()]
    found = [float(n.replace(",", "")) for e in expressions for n in NUMBER.findall(e)]
    return sum(1 for n in found if n not in given)


def test_symbolic_plans_need_far_fewer_numbers_the_question_lacks():
    """A guide must compute every number its plan holds that the question does not give."""
    examples = gsm8k.load("dev", n=100, seed=0)
    numeric = sum(_foreign_numbers(plan_from_reference(ex.answer), ex.question) for ex in examples)
    symbolic = sum(
        _foreign_numbers(plan_from_reference(ex.answer, symbolic=True), ex.question)
        for ex in examples
    )
    assert symbolic * 2 < numeric, (symbolic, numeric)  # measured: 127 vs 292


def test_planners_served_as_local_models_reply_with_one_valid_block():
    for symbolic in (False, True):
        lm = dspy.LM(register(symbolic=symbolic), cache=False)
        reply = lm(messages=[{"role": "user", "content": f"Reference solution:\n{REFERENCE}"}])[0]
        parsed = parse_strategy(reply)
        assert parsed.valid
        assert ("C = A+B" in parsed.strategy) is symbolic
