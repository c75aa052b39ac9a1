"""plan_value: the number a numeric GSM8K plan computes, without a model."""

import pytest

from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.calculator import plan_value, render_symbolic
from gcop.tasks.gsm8k.planner import plan_from_reference


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
        "1. Compute 10**60*10**60*10**60*10**60*10**60*10**60.",  # beyond any float
        "1. Compute 1e308*10.",
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


def test_a_symbolic_plan_renders_as_the_numeric_plan_with_earlier_results_filled_in():
    plan = "1. A = 10/4\n\n2. B = A*2 + 1\n3. C = (B - A) / 3\n"
    assert render_symbolic(plan) == (
        "1. Compute 10/4.\n2. Compute 2.5*2 + 1.\n3. Compute (6 - 2.5) / 3."
    )
    assert plan_value(render_symbolic(plan)) == 1.166667


@pytest.mark.parametrize(
    "plan",
    [
        "1. A = 4+4\n2. B = C*2",  # C is never defined
        "1. A = 4+4\n2. Add A to the total",  # a line that is not a step
        "1. A = four plus four",
        "1. A = 4/0",
        "1. A = 10**60*10**60*10**60*10**60*10**60*10**60",
        "",
    ],
)
def test_a_symbolic_plan_that_cannot_be_worked_out_does_not_render(plan):
    assert render_symbolic(plan) is None


def test_reference_symbolic_plans_render_as_the_reference_numeric_plans():
    examples = gsm8k.load("dev", n=200, seed=0)
    same = sum(
        render_symbolic(plan_from_reference(ex.answer, style="symbolic"))
        == plan_from_reference(ex.answer)
        for ex in examples
    )
    assert same >= 190
