"""plan_value: the number a numeric GSM8K plan computes, without a model."""

import pytest

from gcop.tasks import gsm8k
from gcop.tasks.gsm8k_plan_value import plan_value
from gcop.tasks.gsm8k_planner import plan_from_reference


@pytest.mark.parametrize(
    ("plan", "value"),
    [
        ("1. Compute 48/2.\n2. Compute 48+24.", 72.0),
        ("1. Compute (3+4)*2 - 10 // 3.", 11.0),
        ("1) compute -2**3 + 17 % 5.", -6.0),
        ("1. Compute 1/3.", 0.333333),  # rounded, so routes to the same number agree
        ("1. Compute 2.5*4\n", 10.0),
    ],
)
def test_the_last_compute_step_is_evaluated(plan, value):
    assert plan_value(plan) == value


@pytest.mark.parametrize(
    "plan",
    [
        "1. List the quantities.\n2. Add them.",  # no Compute step
        "1. Compute 4+4.\n2. Compute the total.",  # the last step is words
        "1. Compute __import__('os').getcwd().",  # never executed
        "1. Compute 10**10**10.",  # an exponent that would hang
        "1. Compute 5/0.",
        "1. Compute $1,200*2.",
        "",
    ],
)
def test_anything_but_arithmetic_has_no_value(plan):
    assert plan_value(plan) is None


def test_reference_plans_compute_the_gold_answer():
    """On 200 shipped dev problems, a plan read off the reference reaches its gold answer (the
    rest are references whose last calculation is not the answer, e.g. a final comparison)."""
    examples = gsm8k.load("dev", n=200, seed=0)
    right = sum(
        plan_value(plan_from_reference(ex.answer)) == float(gsm8k.gold_answer(ex.answer))
        for ex in examples
    )
    assert right >= 180
