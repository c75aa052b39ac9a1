"""KodCode (Xu et al. 2025): synthetic Python tasks verified by pytest-style tests.

By default the 109-item verified sample shipped in ``gcop/data/kodcode`` (Apache-2.0) is used;
``source="hub"`` loads ``KodCode/KodCode-V1`` (same question/solution/test shape, tests in
``test_code``). Splits are fixed by a hash of ``question_id``: 20 % test, 10 % dev, 70 % train.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import re

import dspy

from gcop.sandbox import Job
from gcop.tasks._rows import DATA_DIR, check_source, check_split, read_jsonl, require, take
from gcop.tasks.code.code_task import code_task, sandbox_metric

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
HUB_ID = "KodCode/KodCode-V1"

__all__ = ["entry_point", "job", "load", "metric", "split_of", "to_example"]


def load(
    split: str = "train", n: int | None = None, seed: int = 0, *, source: str = "auto"
) -> list[dspy.Example]:
    """Examples with ``prompt`` (input: the question plus a signature/docstring skeleton),
    ``question``, ``solution``, ``test``, ``entry_point`` and ``question_id``.

    ``n`` takes a ``seed``-shuffled subset; ``source``: ``"auto"``/``"shipped"`` read the shipped
    sample, ``"hub"`` downloads ``KodCode/KodCode-V1``.
    """
    check_split(split, SPLITS, "KodCode")
    check_source(source)
    rows = _from_hub() if source == "hub" else read_jsonl(DATA_DIR / "kodcode" / "sample.jsonl.gz")
    picked = []
    for i, row in enumerate(rows):
        require(row, ("question_id",), f"KodCode row {i}")
        if split_of(row["question_id"]) == split:
            picked.append((i, row))
    return [to_example(row, f"KodCode row {i}") for i, row in take(picked, n, seed)]


def _from_hub() -> list[dict]:
    from datasets import load_dataset

    logger.info("loading %s from the Hugging Face hub", HUB_ID)
    return load_dataset(HUB_ID, split="train")


def split_of(question_id: str) -> str:
    """The fixed split of a problem, from a hash of its id (stable across files and versions)."""
    bucket = int(hashlib.sha256(question_id.encode()).hexdigest(), 16) % 10
    return "test" if bucket < 2 else "dev" if bucket < 3 else "train"


def to_example(row: dict, where: str = "KodCode row") -> dspy.Example:
    """One row (shipped-sample or hub format) as a :class:`dspy.Example`."""
    where = f"{where} ({row.get('question_id', 'no question_id')})"
    require(row, ("question_id", "question", "solution"), where)
    test = row.get("test") or row.get("test_code")
    if not test:
        raise ValueError(f"{where} has no 'test' (or hub 'test_code') field with pytest code")
    skeleton = _skeleton(row.get("completion_prompt") or "") or _skeleton(row["solution"])
    prompt = row["question"].strip()
    if skeleton:
        prompt += f"\n\nComplete this code:\n```python\n{skeleton}\n```"
    return dspy.Example(
        prompt=prompt,
        question=row["question"],
        solution=row["solution"],
        test=test,
        entry_point=entry_point(test, row["solution"], row.get("test_info")),
        question_id=row["question_id"],
    ).with_inputs("prompt")


def entry_point(test: str, solution: str, test_info=None) -> str | None:
    """The function or class the tests exercise: ``test_info`` (hub rows), the first name in
    ``from solution import ...``, else the definition of ``solution`` the tests name most.

    >>> entry_point("from solution import add, sub\\n", "def add(a, b): ...")
    'add'
    """
    info = test_info[0] if isinstance(test_info, list) and test_info else test_info
    if isinstance(info, dict) and info.get("function_name"):
        return info["function_name"]
    imported = re.search(r"^from\s+solution\s+import\s+\(?\s*([A-Za-z_]\w*)", test, re.M)
    if imported:
        return imported.group(1)
    try:
        tree = ast.parse(solution)
    except SyntaxError:
        return None
    types = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    names = [node.name for node in tree.body if isinstance(node, types)]
    uses = {name: len(re.findall(rf"\b{re.escape(name)}\b", test)) for name in names}
    return max(names, key=lambda name: uses[name]) if names else None


def _skeleton(source: str) -> str | None:
    """Imports plus class/function signatures and docstrings of ``source``, bodies dropped (some
    rows' ``completion_prompt`` carries the whole solution)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    lines, out = source.splitlines(), []

    def emit(node: ast.stmt, top: bool) -> None:
        if top and isinstance(node, (ast.Import, ast.ImportFrom)):
            out.extend(lines[node.lineno - 1 : node.end_lineno])
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        first = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
        body = node.body
        out.extend([""] if top else [])
        header = lines[first : max(body[0].lineno - 1, first + 1)]
        while len(header) > 1 and header[-1].strip()[:1] in ("#", ""):  # comments before the body
            header.pop()
        out.extend(header)
        doc = ast.get_docstring(node, clean=False) is not None
        if doc:
            out.extend(lines[body[0].lineno - 1 : body[0].end_lineno])
        if isinstance(node, ast.ClassDef):
            for child in body[1:] if doc else body:
                emit(child, top=False)
        elif not doc:
            out.append(" " * body[0].col_offset + "...")

    for node in tree.body:
        emit(node, top=True)
    return "\n".join(out).strip("\n") or None


def job(example, code: str) -> Job:
    """The sandbox job running the example's pytest-style tests against ``code`` (solution.py)."""
    return Job(code, example.test, example.entry_point, style="pytest")


metric = sandbox_metric(job)  # pass@1 of one reply, its tests run in the sandbox

TASK = code_task("kodcode", load, metric)
