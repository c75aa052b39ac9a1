"""``leaks_answer``: does a strategy give away the final answer or the reference code?"""

import dspy
import pytest

from gcop.optimizers.acceptance.leakage import leaks_answer

MATH = dspy.Example(
    question="A shop sells 12 pens at $3 each and 4 notebooks at $5 each. What is the total?",
    gold="56",
).with_inputs("question")

GSM8K = dspy.Example(
    question="Ann has 1,200 stamps and gives away 250. How many are left?",
    answer="She has 1200 - 250 = 950 stamps left.\n#### 950",
).with_inputs("question")

CODE = dspy.Example(
    prompt='def running_max(xs: list[int]) -> list[int]:\n    """Prefix maxima."""\n',
    entry_point="running_max",
    canonical_solution=(
        "    result = []\n"
        "    best = None\n"
        "    for x in xs:\n"
        "        best = x if best is None else max(best, x)\n"
        "        result.append(best)\n"
        "    return result\n"
    ),
).with_inputs("prompt")


@pytest.mark.parametrize(
    "strategy, leaks",
    [
        ("1. Multiply 12 by 3.\n2. Multiply 4 by 5.\n3. Add the two products.", False),
        ("1. Pens cost 36, notebooks 20.\n2. The total is 56.", True),
        ("Add 36 and 20 to get 56 dollars", True),
        ("The answer: $56.", True),
        ("Answer: 56", True),
        ("The total comes to 56.0", True),
        ("1. Compute the pen cost (12 × 3).\n2. Add the notebook cost (4 × 5).", False),
        ("Step 56: never happens, but a step number is not an answer", False),
        ("1. Find the pen cost. 2. Find the notebook cost. 3. Add.", False),
        ("Use 560 cents as a sanity check", False),  # a different number
        ("It is the 56th item", False),  # an ordinal, not the value
    ],
)
def test_math_strategies(strategy, leaks):
    assert leaks_answer(strategy, MATH) is leaks


def test_enumerator_equal_to_the_answer_is_not_a_leak():
    example = dspy.Example(question="What is 1 plus 1?", gold="2").with_inputs("question")
    assert not leaks_answer("1. Take the first number.\n2. Add the second.", example)
    assert not leaks_answer("(1) take the first number; (2) add the second", example)
    assert leaks_answer("1. One plus one is 2.", example)


def test_numbers_given_in_the_question_never_leak():
    example = dspy.Example(question="Sam has 7 cats and 0 dogs. Pets?", gold="7")
    assert not leaks_answer("Count the 7 cats and add the 0 dogs.", example.with_inputs("question"))


def test_gsm8k_answer_field_and_thousands_separators():
    assert leaks_answer("Subtract 250 from 1,200: 950 remain.", GSM8K)
    assert leaks_answer("So 950 stamps.", GSM8K)
    assert not leaks_answer("1. Subtract the stamps given away from 1,200.", GSM8K)


def test_code_copying_the_reference_leaks():
    copied = (
        "<plan>\nresult = []\nbest = None\nfor x in xs:\n"
        "best = x if best is None else max(best, x)\nresult.append(best)"
    )
    assert leaks_answer(copied, CODE)


def test_code_defining_the_entry_point_with_a_body_leaks():
    assert leaks_answer("def running_max(xs):\n    return list(accumulate(xs, max))", CODE)
    assert leaks_answer("def running_max(xs): return list(accumulate(xs, max))", CODE)
    assert not leaks_answer("Implement def running_max(xs) by scanning once.", CODE)


def test_code_plan_in_words_does_not_leak():
    plan = (
        "1. Keep the largest value seen so far.\n2. Walk the list once, appending the running "
        "maximum.\n3. Return the list; an empty input gives an empty list."
    )
    assert not leaks_answer(plan, CODE)


def test_examples_without_a_reference_never_leak():
    plain = dspy.Example(question="Why is the sky blue?").with_inputs("question")
    assert not leaks_answer("Explain Rayleigh scattering; 42.", plain)
    assert not leaks_answer("", MATH)
