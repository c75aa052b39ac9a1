"""gcop.tasks.code.mbpp: the shipped copy, its standard splits, verdicts through our sandbox."""

import dspy
import pytest

from gcop.sandbox import run_many
from gcop.tasks import load_task
from gcop.tasks.code import mbpp

# reference solutions whose tests depend on set order or sys.getsizeof (see gcop/data/mbpp)
ORDER_DEPENDENT = {341, 596, 642}


def test_standard_splits_and_prompts():
    sizes = {split: len(mbpp.load(split)) for split in mbpp.SPLITS}
    assert sizes == {"train": 374, "dev": 90, "test": 500}
    dev = mbpp.load("dev")
    assert [ex.task_id for ex in dev] == list(range(511, 601))
    for ex in dev:
        assert set(ex.inputs().keys()) == {"prompt"}
        assert ex.prompt.count("assert ") == 1 and ex.tests[0] in ex.prompt
        assert len(ex.tests) == 3 and f"def {ex.entry_point}" in ex.solution
        assert "\r" not in ex.solution
    assert [ex.task_id for ex in mbpp.load("dev", n=5, seed=1)] == [
        ex.task_id for ex in mbpp.load("dev", 5, 1)
    ]
    with pytest.raises(ValueError, match="choose one of"):
        mbpp.load("validation")
    assert load_task("mbpp") is mbpp.TASK


def test_reference_solutions_pass_and_wrong_ones_fail():
    problems = mbpp.load("dev") + mbpp.load("train", n=30, seed=0)
    kept = [ex for ex in problems if ex.task_id not in ORDER_DEPENDENT]
    results = run_many([mbpp.job(ex, ex.solution) for ex in kept], workers=2)
    assert {
        ex.task_id: r.error[-200:] for ex, r in zip(kept, results, strict=True) if not r.passed
    } == {}
    wrong = f"def {kept[0].entry_point}(*args):\n    return None\n"
    assert run_many([mbpp.job(kept[0], wrong)])[0].status == "failed"
    missing = run_many([mbpp.job(kept[0], "def something_else():\n    pass\n")])[0]
    assert missing.status == "error" and kept[0].entry_point in missing.error


def test_metric_reads_the_code_out_of_a_reply():
    ex = mbpp.load("dev", n=1, seed=0)[0]
    reply = dspy.Prediction(code=f"Here it is:\n```python\n{ex.solution}```\nDone.")
    assert mbpp.metric(ex, reply) is True
    assert mbpp.metric(ex, dspy.Prediction(code="I cannot solve this.")) is False


def test_tests_with_setup_code_run_it():
    row = {
        "task_id": 9001,
        "text": "Return the value of a box.",
        "code": "class Box:\r\n    def __init__(self, v):\r\n        self.v = v\r\n"
        "def value(box):\r\n    return box.v",
        "test_list": ["assert value(b) == 3"],
        "test_setup_code": "b = Box(3)",
    }
    ex = mbpp.to_example(row)
    assert ex.entry_point == "value"
    assert run_many([mbpp.job(ex, ex.solution)])[0].passed
    with pytest.raises(ValueError, match="'code'"):
        mbpp.to_example({**row, "code": ""})
