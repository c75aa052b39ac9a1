"""plan_value: the number a numeric GSM8K plan computes, without a model; the renders that make
symbolic plans numeric for the core; the plan verdicts GRPO rewards."""

import dspy
import pytest

from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.calculator import (
    operations_per_step,
    plan_value,
    plan_verdict,
    render_one_operation,
    render_symbolic,
    stepwise_plan_verdict,
)
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
    assert render_one_operation(plan) is None


def test_a_step_of_several_operations_renders_as_one_step_each_in_the_order_worked_out():
    plan = "1. A = 12*2+8*1+3*2\n2. B = A - (-2)*3\n3. C = B/4"
    assert render_one_operation(plan) == (
        "1. Compute 12*2.\n2. Compute 8*1.\n3. Compute 24+8.\n4. Compute 3*2.\n"
        "5. Compute 32+6.\n6. Compute (-2)*3.\n7. Compute 38-(-6).\n8. Compute 44/4."
    )


def test_a_result_that_is_not_a_short_decimal_stays_in_the_step_that_uses_it():
    # 1/6 written out would be 0.166667, and 0.166667*12 is not 2
    assert render_one_operation("1. A = 1/6*12+1") == "1. Compute (1/6)*12.\n2. Compute 2+1."
    assert render_one_operation("1. A = 10/3") == "1. Compute 10/3."


def test_splitting_steps_never_changes_what_a_plan_computes():
    examples = gsm8k.load("dev", n=200, seed=0)
    plans = [plan_from_reference(ex.answer, style="symbolic") for ex in examples]
    plans += ["1. A = 2*3+4*5-6/4\n2. B = A*A/7", "1. A = 17 % 5 ** 2 // 3"]
    rendered = [(render_symbolic(plan), render_one_operation(plan)) for plan in plans]
    assert sum(whole is not None for whole, _ in rendered) >= 190
    for whole, split in rendered:
        assert (split is None) == (whole is None)
        if whole is not None:
            assert plan_value(split) == plan_value(whole)
            assert split.count("Compute") >= whole.count("Compute")


def test_reference_symbolic_plans_render_as_the_reference_numeric_plans():
    examples = gsm8k.load("dev", n=200, seed=0)
    same = sum(
        render_symbolic(plan_from_reference(ex.answer, style="symbolic"))
        == plan_from_reference(ex.answer)
        for ex in examples
    )
    assert same >= 190


@pytest.mark.parametrize(
    ("plan", "counts"),
    [
        ("1. A = 12*2+8*1\n2. B = A/2", [3, 1]),
        ("1. A = 48\n2. B = -A", [0, 0]),  # a sign is not an operation
        ("1. Compute (3+4)*2.\n2. Compute 14-1.", [2, 1]),
        ("1. List the quantities.", None),
        ("1. A = 3*(4", None),
    ],
)
def test_operations_are_counted_per_step_as_written(plan, counts):
    assert operations_per_step(plan) == counts


@pytest.mark.parametrize(
    ("plan", "plain", "stepwise"),
    [
        ("1. A = 48/2\n2. B = 48+A", 1.0, 1.0),  # right, one operation a step
        ("1. A = 48+48/2", 1.0, 0.0),  # right, but packed into one step
        ("1. A = 48/2\n2. B = 48-A", 0.0, 0.0),  # wrong
        ("1. Add the clips.", 0.0, 0.0),  # no calculation
    ],
)
def test_the_stepwise_verdict_rewards_only_right_plans_of_one_operation_a_step(
    plan, plain, stepwise
):
    example = dspy.Example(gold="72")
    assert plan_verdict(plan, example) == plain
    assert stepwise_plan_verdict(plan, example) == stepwise


def test_the_stepwise_verdict_has_none_where_there_is_no_gold_number():
    assert stepwise_plan_verdict("1. A = 48/2", dspy.Example(gold="")) is None
