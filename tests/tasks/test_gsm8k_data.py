"""gcop.tasks.gsm8k: answer extraction, the shipped splits and the exact-match metric."""

import dspy
import pytest

from gcop.signatures import MathGuide, MathSolve
from gcop.tasks.gsm8k import data as gsm8k

# (model reply, the number it answers); None when it states no number. Besides the replies an
# exact-match metric must read, the table pins where "take the last number" (lm-evaluation-harness's
# flexible-extract) is wrong: $12.50, 18.0, \boxed{\frac{3}{4}}, a Unicode minus, an unrelated
# number after an explicit final answer.
EXTRACTION = [
    ("#### 42", 42),
    ("Step one.\n#### 1,234", 1234),
    ("She has 5 apples.\n#### -3", -3),
    ("The answer is 42.", 42),
    ("The answer is $1,234.50.", 1234.5),
    ("So the answer is: 18 dollars", 18),
    ("Answer: 72", 72),
    ("**Answer:** 5", 5),
    ("**Final Answer**: 12", 12),
    ("The final answer is \\boxed{42}.", 42),
    ("Thus \\boxed{\\$1,200} is the cost.", 1200),
    ("\\boxed{\\frac{84}{2}}", 42),
    ("The answer is \\dfrac{10}{4}", 2.5),
    ("\\boxed{42 \\text{ dollars}}", 42),
    ("\\boxed{x = 7}", 7),
    ("\\boxed{1{,}000}", 1000),
    ("First 2 + 3 = 5, then \\boxed{10} and later 99 is irrelevant", 10),
    ("The answer is 84/2", 42),
    ("She sells 9 * 2 = $18 every day.", 18),
    ("It costs 42 dollars", 42),
    ("The discount is 25%.", 25),
    ("The answer is −7", -7),
    ("He owes -$15.", -15),
    ("The answer is 0.5", 0.5),
    ("The answer is .75", 0.75),
    ("The answer is 3.", 3),
    ("The answer is 2,500,000 people.", 2500000),
    ("The answer is 6 * 7 = 42", 42),
    ("The answer is 42. We double-check: 40 + 2.", 42),
    ("5 apples cost $10, so one costs $2", 2),
    ("In 2023 she was 12 years old.", 12),
    ("They walked 3-4 miles, total 7", 7),
    ("The answer was 100", 100),
    ("the answer is\n\n64", 64),
    ("Result: 1,000 apples and 12,345 pears", 12345),
    ("#### 18 dollars", 18),
    ("#### $3,000", 3000),
    ("x2 and 5", 5),
    ("no numbers here", None),
    ("", None),
    # final-answer phrases that state no answer (the cases and variants)
    ("The answer is not 40, because we forgot the tax. With tax it is 42.", 42),
    ("The answer isn't 40; adding the tip gives 42", 42),
    ("To find the answer: 3*4 = 12 apples per box, 5 boxes, total 60", 60),
    ("Let's find the answer: 5+5 = 10, and doubling that gives 42", 42),
    ("Let me check the final answer: 7 * 3 = 21, plus 1 is 22", 22),
    ("We need to determine the answer: first 2 + 2 = 4. So 4 * 10 = 40 in all.", 40),
    ("To get the answer, multiply: 6 * 7 = 42.", 42),
    ("The answer is 12 when x = 3", 12),
    ("The answer is 12, since x = 3 and 4x = 12.", 12),
    ("The answer is 18, because 16 - 3 - 4 = 9 eggs are sold at $2.", 18),
    ("The answer is not 7.\nThe answer is 9.", 9),
    ("The answer is 9. (Earlier I thought the answer is not 9, but 3 * 3 = 9.)", 9),
    # the result of a calculation that follows the phrase
    ("The answer is: Janet has 16 - 3 - 4 = 9 eggs left, so 9 * 2 = $18.", 18),
    ("The answer is 5 + 3 = 8", 8),
    ("Answer: (3 + 4) * 2 = 14 marbles", 14),
    ("The answer is 4 x 3 = 12", 12),
    ("The answer is 9 \\times 2 = 18", 18),
    ("Answer: x = 7", 7),
    ("The answer is therefore 42", 42),
    ("The final answer is that she has 18 dollars left.", 18),
    ("The answer is approximately 3.5 hours.", 3.5),
    # formats the harness's last-number rule gets wrong
    ("The answer is $12.50. She pays with a $20 bill.", 12.5),
    ("The answer is 18.0", 18),
    ("So the total is \\boxed{\\frac{3}{4}} of the pie, not 1.", 0.75),
    ("The temperature fell to −5 degrees.", -5),
    ("The answer is 42. I hope this helps with your 2 questions!", 42),
    ("Answer: 150\n\nLet me know if you have 3 more problems.", 150),
    ("**Answer: 36**\n\nExplanation: 6 * 6 = 36, step 2 of 2.", 36),
    # markup around the number
    ("The answer is **25**.", 25),
    ("The answer is: $\\$45$.", 45),
    ("**The answer is 1,080.**", 1080),
    ("The answer is __7__", 7),
    ("Final answer:\n\n**$3,600**", 3600),
    ("ANSWER: 64", 64),
    ("The correct answer would be 11 books.", 11),
    ("The answer will be 2.25 dollars", 2.25),
    ("Answer = 96", 96),
    # several phrases: the last one that states a number
    ("First guess: the answer is 10. Re-checking, the answer is 12.", 12),
    ("Answer: 5\nAnswer: 6", 6),
    ("The answer is 8 cups.\nThe answer must be in cups, so the answer is 8.", 8),
    # no answer phrase: the last number
    ("She had 5 apples and bought 7 more, so she has 12.", 12),
    ("Total cost: 3 * $4 = $12", 12),
    ("It takes 1.5 hours.", 1.5),
    ("He saved 1,250 dollars over 5 weeks, 250 each week.", 250),
    ("Each friend gets 2/4 of a pizza.", 0.5),
    ("The difference is -12", -12),
    ("Result: 0", 0),
    ("They need 100 more.", 100),
    # "####" and \boxed come first
    ("The answer is 5.\n#### 6", 6),
    ("The answer is 3, i.e. \\boxed{4}", 4),
    ("#### The total is 30", 30),
    ("#### 7\nThe answer is 9", 7),
]


def test_extract_number():
    # One test item for all cases: the suite's autouse fixtures cost ~1 s per item.
    wrong = {}
    for text, expected in EXTRACTION:
        got = gsm8k.extract_number(text)
        if got != (None if expected is None else pytest.approx(expected)):
            wrong[text] = (got, expected)
    assert not wrong, f"(got, expected) per text: {wrong}"
    assert len(EXTRACTION) >= 80


def test_metric_accepts_predictions_strings_and_tolerance():
    example = dspy.Example(question="q", gold="42").with_inputs("question")
    assert gsm8k.exact_match(example, dspy.Prediction(answer="... The answer is 42."))
    assert gsm8k.exact_match(example, "#### 42.0000000001")
    assert not gsm8k.exact_match(example, "The answer is 43")
    assert not gsm8k.exact_match(example, "I don't know")
    assert not gsm8k.exact_match(example, dspy.Prediction(reasoning="no answer field"))
    assert gsm8k.metric is gsm8k.exact_match
    with_reference = dspy.Example(question="q", answer="3 + 4 = 7\n#### 7")
    assert gsm8k.exact_match(with_reference, "The answer is 7")


def test_gold_reference_solutions_score_100_percent():
    test = gsm8k.load("test")
    assert len(test) == 1319
    assert all(gsm8k.metric(ex, dspy.Prediction(answer=ex.answer)) for ex in test)
    # and when the solution states the answer in prose instead of "#### N"
    restated = [ex.answer.rsplit("####", 1)[0] + f"The answer is {ex.gold}." for ex in test]
    assert all(gsm8k.metric(ex, text) for ex, text in zip(test, restated, strict=True))


def test_splits_are_deterministic_and_disjoint():
    train, dev = gsm8k.load("train"), gsm8k.load("dev")
    assert (len(train), len(dev)) == (7473 - gsm8k.DEV_SIZE, gsm8k.DEV_SIZE)
    assert not {ex.question for ex in train} & {ex.question for ex in dev}
    first = gsm8k.load("train", n=20, seed=3)
    assert [ex.question for ex in first] == [ex.question for ex in gsm8k.load("train", 20, 3)]
    assert [ex.question for ex in first] != [ex.question for ex in gsm8k.load("train", 20, 4)]
    nested = gsm8k.load("train", n=10, seed=3)
    assert [ex.question for ex in nested] == [ex.question for ex in first[:10]]
    ex = first[0]
    assert set(ex.inputs().keys()) == {"question"}
    assert ex.gold.lstrip("-").replace(".", "").isdigit() and "####" in ex.answer
    assert (gsm8k.GUIDE_SIGNATURE, gsm8k.CORE_SIGNATURE) == (MathGuide, MathSolve)


def test_bad_arguments_and_rows(monkeypatch):
    with pytest.raises(ValueError, match="split"):
        gsm8k.load("validation")
    with pytest.raises(ValueError, match="source"):
        gsm8k.load("test", source="web")
    with pytest.raises(ValueError, match="n=5000"):
        gsm8k.load("test", n=5000)
    rows = [{"question": "q1", "answer": "#### 1"}, {"question": "q2"}]
    monkeypatch.setattr(gsm8k, "read_jsonl", lambda path: rows)
    with pytest.raises(ValueError, match=r"row 1 .*'answer'"):
        gsm8k.load("test")
    monkeypatch.setattr(gsm8k, "read_jsonl", lambda path: [{"question": "q", "answer": "7"}])
    with pytest.raises(ValueError, match="row 0.*####"):
        gsm8k.load("test")
