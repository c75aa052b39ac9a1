"""The skeleton render: a code plan as comments in the function's skeleton, holding names from
the plan and no statement of the reference or literal of the tests."""

from __future__ import annotations

import re

import pytest

from gcop.tasks.code import humaneval, kodcode, mbpp
from gcop.tasks.code.ceiling import reference_code
from gcop.tasks.code.planner import plan_from_code
from gcop.tasks.code.skeleton import SKELETON_HEADER, render_skeleton
from tests.code_leaks import copied_reference_lines, leaked_test_literals

# the only code a skeleton writes: signatures and imports of names the plan gives
SKELETON_CODE = re.compile(r"^(def \w+\([\w\s,=*]*\):|import [\w.]+|from [\w.]+ import [\w, ]+)$")


def test_helpers_imports_and_steps_land_in_the_skeleton():
    plan = (
        "1. Write `count_freq(items)`; it returns a dictionary. "
        "Import `Counter` from `collections`, `re` first.\n"
        "2. First write a helper `flatten(xs)`, which yields the items one by one.\n"
        "3. Start with `res` as an empty dictionary.\n"
        "4. Return `res`."
    )
    assert render_skeleton(plan) == (
        f"{SKELETON_HEADER}\n```python\n"
        "from collections import Counter\nimport re\n\n"
        "def flatten(xs):\n    # yields the items one by one\n\n"
        "def count_freq(items):\n    # returns a dictionary\n"
        "    # Start with res as an empty dictionary.\n    # Return res.\n```"
    )


def test_a_plan_that_names_no_function_is_not_rendered():
    assert render_skeleton("1. Loop over the list.\n2. Return the total.") is None
    assert render_skeleton("") is None


@pytest.fixture(scope="module")
def skeletons():
    """(example, tests, skeleton) for every shipped code problem and the rendered styles."""
    found = [(ex, ex.test) for ex in humaneval.load()]
    found += [(ex, ex.test) for split in kodcode.SPLITS for ex in kodcode.load(split)]
    found += [(ex, "\n".join(ex.tests)) for ex in mbpp.load("dev")]
    return [
        (ex, tests, render_skeleton(plan_from_code(reference_code(ex), ex.entry_point, style)))
        for ex, tests in found
        for style in ("steps", "calls", "contract")
    ]


def test_skeletons_hold_no_reference_code_and_nothing_of_the_tests(skeletons):
    rendered = [(ex, tests, skeleton) for ex, tests, skeleton in skeletons if skeleton]
    assert len(rendered) >= 0.95 * len(skeletons)
    for ex, tests, skeleton in rendered:
        body = skeleton.split("```python\n", 1)[1].removesuffix("\n```")
        code = [line for line in body.splitlines() if line.strip() and "#" not in line]
        assert all(SKELETON_CODE.match(line) for line in code), skeleton
        comments = " ".join(line.split("#", 1)[1] for line in body.splitlines() if "#" in line)
        copied = copied_reference_lines(comments, reference_code(ex))
        assert not copied, (skeleton, copied)
        assert "assert" not in skeleton and "==" not in skeleton
        leaked = leaked_test_literals(body, tests)
        assert not leaked, (skeleton, leaked)
