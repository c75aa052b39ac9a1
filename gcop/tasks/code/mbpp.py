"""MBPP (Austin et al. 2021): 974 short Python problems in words, each with three ``assert`` tests,
scored by running the asserts against the generated code in :mod:`gcop.sandbox`.

The shipped copy (``gcop/data/mbpp``, CC BY 4.0) is split as is standard, by ``task_id``:
``test`` 11–510 (500), ``dev`` 511–600 (upstream "validation", 90), ``train`` 601–974 (374).
A problem in words does not say what the function is called or what it takes, so the prompt adds
the first of its three tests as an example of the interface, as is common (the MBPP paper shows
all three); the metric runs all three.

>>> ex = load("dev", n=1, seed=0)[0]
>>> ex.prompt.count("assert "), len(ex.tests), ex.entry_point in ex.prompt
(1, 3, True)
"""

from __future__ import annotations

import ast
import builtins
import textwrap

import dspy

from gcop.sandbox import Job
from gcop.tasks._rows import DATA_DIR, check_split, read_jsonl, require, take
from gcop.tasks.code.code_task import code_task, sandbox_metric

SPLITS = {"train": (601, 974), "dev": (511, 600), "test": (11, 510)}  # task_id ranges, inclusive

__all__ = ["entry_point", "job", "load", "metric", "to_example"]


def load(split: str = "train", n: int | None = None, seed: int = 0) -> list[dspy.Example]:
    """Examples with ``prompt`` (input: the task in words and one example test), ``solution``
    (the reference code), ``tests`` (the three asserts), ``test_setup``, ``entry_point``, ``text``
    and ``task_id``; ``n`` takes a ``seed``-shuffled subset."""
    check_split(split, tuple(SPLITS), "MBPP")
    first, last = SPLITS[split]
    rows = read_jsonl(DATA_DIR / "mbpp" / "mbpp.jsonl.gz")
    picked = [(i, row) for i, row in enumerate(rows) if first <= row.get("task_id", 0) <= last]
    return [to_example(row, f"MBPP row {i}") for i, row in take(picked, n, seed)]


def to_example(row: dict, where: str = "MBPP row") -> dspy.Example:
    """One MBPP record as a :class:`dspy.Example`; a missing field raises ``ValueError``."""
    where = f"{where} (task {row.get('task_id', '?')})"
    require(row, ("task_id", "text", "code", "test_list"), where)
    solution = row["code"].replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n"
    tests = [test.strip() for test in row["test_list"]]
    name = entry_point(tests, solution)
    if name is None:
        raise ValueError(f"{where}: its tests call no function the solution defines")
    prompt = f"{row['text'].strip()}\nYour code should pass this test:\n{tests[0]}"
    return dspy.Example(
        prompt=prompt,
        solution=solution,
        tests=tests,
        test_setup=(row.get("test_setup_code") or "").replace("\r\n", "\n"),
        entry_point=name,
        text=row["text"],
        task_id=row["task_id"],
    ).with_inputs("prompt")


def entry_point(tests: list[str], solution: str) -> str | None:
    """The function the tests call: the first called name the solution defines, else the first
    that is not a builtin.

    >>> entry_point(["assert set(common((1, 2), (2, 3))) == {2}"], "def common(a, b): ...")
    'common'
    """
    try:
        defined = {
            node.name
            for node in ast.parse(solution).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        }
    except SyntaxError:
        defined = set()
    called = []
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        called += [
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        ]
    for name in called:
        if name in defined:
            return name
    return next((name for name in called if not hasattr(builtins, name)), None)


def job(example, code: str) -> Job:
    """The sandbox job running the example's setup and asserts after ``code``."""
    body = textwrap.indent("\n".join(example.tests), "    ")
    tests = f"{example.test_setup}\n\ndef check(candidate):\n{body}\n"
    return Job(code, tests, example.entry_point, style="check")


metric = sandbox_metric(job)  # pass@1 of one reply, its tests run in the sandbox

TASK = code_task("mbpp", load, metric)
