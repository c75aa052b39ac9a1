"""gcop.tasks.code.kodcode: the shipped sample, hub-format rows, verdicts through our sandbox."""

import importlib.util
import re

import dspy
import pytest

from gcop.sandbox import run_many
from gcop.tasks.code import kodcode

HUB_ROW = {  # the KodCode/KodCode-V1 column layout
    "question_id": "Docs_Combine_45219_I",
    "subset": "Docs",
    "style": "Instruct",
    "question": "Write a function that returns the running maximum of a list of integers.",
    "solution": (
        "def running_max(values):\n"
        '    """Return the running maximum."""\n'
        "    out, best = [], None\n"
        "    for v in values:\n"
        "        best = v if best is None else max(best, v)\n"
        "        out.append(best)\n"
        "    return out\n"
    ),
    "test_code": (
        "from solution import running_max\n\n"
        "def test_running_max():\n"
        "    assert running_max([1, 3, 2]) == [1, 3, 3]\n"
        "    assert running_max([]) == []\n"
    ),
    "test_info": [
        {
            "function_name": "running_max",
            "parameter_list": "(values)",
            "function_declaration": "def running_max(values):",
            "docstring": "Return the running maximum.",
        }
    ],
}


@pytest.fixture(scope="module")
def sample():
    return [ex for split in kodcode.SPLITS for ex in kodcode.load(split)]


def missing_module(error: str) -> bool:
    found = re.search(r"No module named '([\w.]+)'", error)
    return bool(found) and importlib.util.find_spec(found.group(1).split(".")[0]) is None


def test_splits_are_fixed_and_disjoint(sample):
    sizes = {split: len(kodcode.load(split)) for split in kodcode.SPLITS}
    assert sum(sizes.values()) == 109 and min(sizes.values()) > 0
    ids = [ex.question_id for ex in sample]
    assert len(set(ids)) == 109
    assert all(kodcode.split_of(ex.question_id) in kodcode.SPLITS for ex in sample)
    picked = kodcode.load("train", n=5, seed=2)
    assert [e.question_id for e in picked] == [e.question_id for e in kodcode.load("train", 5, 2)]
    ex = sample[0]
    assert set(ex.inputs().keys()) == {"prompt"}
    assert {"prompt", "question", "solution", "test", "entry_point"} <= set(ex.keys())
    with pytest.raises(ValueError, match="split"):
        kodcode.load("validation")


def test_prompt_has_a_skeleton_but_not_the_solution(sample):
    by_id = {ex.question_id: ex for ex in sample}
    leaky = by_id["algorithm-00000004-4"]  # its completion_prompt carries the full solution
    assert "def optimized_integer_square_root(num: int) -> int:" in leaky.prompt
    assert "lower_bound = 1" not in leaky.prompt
    assert by_id["leetcode-00000047-47"].entry_point == "MyStack"  # completion_prompt unparsable
    assert "class MyStack" in by_id["leetcode-00000047-47"].prompt
    assert by_id["prefill-00000045-45"].entry_point == "duplicate_linked_list"


def test_reference_solutions_pass_and_wrong_ones_fail(sample):
    results = run_many([kodcode.job(ex, ex.solution) for ex in sample], workers=2)
    bad = {
        ex.question_id: r.error[-400:]
        for ex, r in zip(sample, results, strict=True)
        if not r.passed and not missing_module(r.error)
    }
    assert not bad
    assert sum(r.passed for r in results) >= 100
    some = sample[::10]
    wrong = [f"def {ex.entry_point}(*args, **kwargs):\n    return None\n" for ex in some]
    verdicts = run_many([kodcode.job(ex, c) for ex, c in zip(some, wrong, strict=True)])
    assert not any(r.passed for r in verdicts)


def test_hub_format_row_parses_and_runs():
    ex = kodcode.to_example(HUB_ROW)
    assert ex.entry_point == "running_max" and ex.test == HUB_ROW["test_code"]
    assert ex.prompt.startswith(HUB_ROW["question"])
    assert "def running_max(values):" in ex.prompt and "best = v" not in ex.prompt
    reply = f"Sure.\n```python\n{HUB_ROW['solution']}```"
    assert kodcode.metric(ex, dspy.Prediction(code=reply))
    assert not kodcode.metric(ex, "```python\ndef running_max(values):\n    return values\n```")


def test_rows_missing_fields_raise(monkeypatch):
    with pytest.raises(ValueError, match=r"Docs_Combine_45219_I.*'solution'"):
        kodcode.to_example({k: v for k, v in HUB_ROW.items() if k != "solution"})
    with pytest.raises(ValueError, match=r"Docs_Combine_45219_I.*'test'"):
        kodcode.to_example({k: v for k, v in HUB_ROW.items() if k != "test_code"})
    rows = [{"question": "q"}]
    monkeypatch.setattr(kodcode, "read_jsonl", lambda path: rows)
    with pytest.raises(ValueError, match=r"row 0.*'question_id'"):
        kodcode.load("train")
