"""Does a strategy give away the answer? A deterministic check shared by acceptance and rewards.

A strategy must describe the method, not the result. For math tasks the final number must not
appear; for code tasks the reference implementation must not be copied.

>>> import dspy
>>> ex = dspy.Example(question="Tom has 3 apples and buys 4 more.", gold="7")
>>> leaks_answer("1. Add the 3 apples he has and the 4 he buys.", ex)
False
>>> leaks_answer("1. Add 3 and 4, which makes 7 apples.", ex)
True
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

REFERENCE_FIELDS = ("gold", "answer", "solution", "canonical_solution", "test", "tests")
CODE_FIELDS = ("canonical_solution", "solution")
COPIED_LINES_FRACTION = 0.6  # share of the reference's non-trivial lines that counts as a copy
_NUMBER = re.compile(r"(?<![\w.,])-?\d+(?:,\d{3})*(?:\.\d+)?(?!\d|st\b|nd\b|rd\b|th\b)")
_STEP_WORD = re.compile(r"\bstep\s*$", re.IGNORECASE)
_TRIVIAL_LINES = {"else:", "try:", "finally:", "pass", "break", "continue", "return", "}", ")"}
_MIN_LINE_CHARS = 10


def leaks_answer(strategy: str, example: Any) -> bool:
    """True when ``strategy`` reveals ``example``'s final answer.

    Math examples (a ``gold`` field, or an ``answer`` ending in ``#### N``): the gold number
    appears as a standalone number that is not in the question and is not a step enumerator
    (``2.`` at a line start, ``Step 2``, ``(2)``). Code examples (``canonical_solution`` or
    ``solution``): the strategy holds at least 60% of the reference's non-trivial lines, or a
    ``def <entry_point>(`` with a body.
    """
    if not isinstance(strategy, str) or not strategy.strip():
        return False
    gold = _gold_number(example)
    if gold is not None and _number_leaks(strategy, gold, _question_text(example)):
        return True
    return _code_leaks(strategy, example)


def _field(example: Any, name: str) -> Any:
    try:
        return example.get(name) if hasattr(example, "get") else getattr(example, name, None)
    except (KeyError, AttributeError):
        return None


def _gold_number(example: Any) -> Decimal | None:
    gold = _field(example, "gold")
    if gold is None:
        answer = _field(example, "answer")
        if not isinstance(answer, str) or "####" not in answer:
            return None
        gold = answer.rsplit("####", 1)[1]
    numbers = [_to_decimal(match.group()) for match in _NUMBER.finditer(str(gold))]
    numbers = [number for number in numbers if number is not None]
    return numbers[-1] if numbers else None


def _to_decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "")).normalize()
    except InvalidOperation:
        return None


def _question_text(example: Any) -> str:
    keys = getattr(example, "_input_keys", None)
    if keys:
        names = list(keys)
    else:
        names = [name for name in example.keys() if name not in REFERENCE_FIELDS]
    return "\n".join(str(_field(example, name)) for name in names)


def _number_leaks(strategy: str, gold: Decimal, question: str) -> bool:
    if any(_to_decimal(m.group()) == gold for m in _NUMBER.finditer(question)):
        return False  # the number is given in the task: mentioning it reveals nothing
    for match in _NUMBER.finditer(strategy):
        if _to_decimal(match.group()) == gold and not _is_enumerator(strategy, *match.span()):
            return True
    return False


def _is_enumerator(text: str, start: int, end: int) -> bool:
    """``1.``/``1)`` at a line start or after a sentence, ``Step 1``, ``(1)``."""
    line_before = text[text.rfind("\n", 0, start) + 1 : start]
    if _STEP_WORD.search(line_before):
        return True
    closer = text[end : end + 1]
    if closer not in (".", ")", ":") or (end + 1 < len(text) and not text[end + 1].isspace()):
        return False
    before = line_before.rstrip()
    return not before or before[-1] in ".;("


def _normalize(line: str) -> str:
    return " ".join(line.split())


def _code_leaks(strategy: str, example: Any) -> bool:
    reference = next(
        (value for name in CODE_FIELDS if isinstance(value := _field(example, name), str)), None
    )
    if not reference:
        return False
    text = _normalize(strategy)
    lines = [_normalize(line) for line in reference.splitlines()]
    lines = [line for line in lines if _is_code_line(line)]
    if lines and sum(line in text for line in lines) >= COPIED_LINES_FRACTION * len(lines):
        return True
    name = _entry_point(example, reference)
    return name is not None and _defines_with_body(strategy, name)


def _is_code_line(line: str) -> bool:
    if len(line) < _MIN_LINE_CHARS or line in _TRIVIAL_LINES:
        return False
    return not line.startswith(("#", '"""', "'''"))


def _entry_point(example: Any, reference: str) -> str | None:
    name = _field(example, "entry_point")
    if isinstance(name, str) and name.isidentifier():
        return name
    for source in (_field(example, "prompt"), reference):
        if isinstance(source, str):
            found = re.findall(r"^\s*def\s+(\w+)\s*\(", source, flags=re.MULTILINE)
            if found:
                return found[-1]
    return None


def _defines_with_body(strategy: str, name: str) -> bool:
    lines = strategy.splitlines()
    header = re.compile(rf"^(\s*)def\s+{re.escape(name)}\s*\(")
    for index, line in enumerate(lines):
        match = header.match(line)
        if not match:
            continue
        colon = line.rfind(":")
        rest = line[colon + 1 :].strip() if colon > line.find("(") else ""
        if rest.startswith(("return", "yield", "raise")) or re.match(r"\w+\s*=", rest):
            return True  # a one-line body: def f(x): return x + 1
        indent = len(match.group(1))
        for after in lines[index + 1 :]:
            if after.strip():
                if len(after) - len(after.lstrip()) > indent and after.strip() != "...":
                    return True
                break
    return False
