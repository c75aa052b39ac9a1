"""An offline, privileged teacher for GSM8K: plans read off the reference solution's calculations.

GSM8K reference solutions annotate each calculation as ``<<48/2=24>>``. A privileged teacher sees
the reference solution; this one turns its calculations into numbered steps. The final result is
never written, so a plan does not leak the answer. It is served as a local model and needs no
weights, which makes the offline demo affordable on a CPU; any LLM teacher can replace it.

Three plan styles, each served under its own teacher name (:data:`TEACHER_STYLES`):

- ``numeric`` (``reference-planner``): ``2. Compute 48+24.`` This core executes them, but a guide
  must work out every intermediate number to write one.
- ``symbolic`` (``symbolic-planner``): ``2. B = 48+A``. Only the question's numbers, so a guide
  needs no arithmetic; measured on dev, this core cannot carry them out.
- ``worded`` (``worded-planner``): the reference's own sentences with every result blanked and
  earlier results referred to by step, ``2. She sold 48 + [step 1] = ? clips in all.`` Only the
  question's numbers, and words that say what each quantity is.

A refinement (a prompt that shows an earlier strategy) also gives the intermediate results.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Literal

from gcop.lm.provider import ChatCompletion
from gcop.strategy import OPEN_TAG

PlanStyle = Literal["numeric", "symbolic", "worded"]
TEACHER_STYLES: dict[str, PlanStyle] = {
    "reference-planner": "numeric",
    "symbolic-planner": "symbolic",
    "worded-planner": "worded",
}
_CALC = re.compile(r"<<([^<>=]+)=([^<>]+)>>")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
# a sentence's number: 48, 1,200, 0.5 or .25
_TEXT_NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?!\d)")
# "= $<<48/2=24>>24" or "<<48/2=24>>24": a calculation with its written result
_ANNOTATED = re.compile(
    r"(=\s*\$?\s*)?<<([^<>=]+)=([^<>]+)>>\s*\$?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?"
)


def plan_from_reference(
    reference: str, *, with_results: bool = False, style: PlanStyle = "numeric"
) -> str:
    """Numbered steps from the ``<<expr=result>>`` calculations of a GSM8K reference solution.

    >>> print(plan_from_reference("Half is <<48/2=24>>24. Total <<48+24=72>>72.\\n#### 72"))
    1. Compute 48/2.
    2. Compute 48+24.
    >>> print(plan_from_reference("<<48/2=24>> <<48+24=72>>", with_results=True))
    1. Compute 48/2 (= 24).
    2. Compute 48+24.
    >>> print(plan_from_reference("<<48/2=24>> <<48+24=72>> <<72*2=144>>", style="symbolic"))
    1. A = 48/2
    2. B = 48+A
    3. C = B*2
    >>> reference = "May: 48/2 = <<48/2=24>>24 clips.\\nIn all 48+24 = <<48+24=72>>72 clips."
    >>> print(plan_from_reference(reference, style="worded"))
    1. May: 48/2 = ? clips.
    2. In all 48+[step 1] = ? clips.
    """
    calculations = _CALC.findall(reference)
    if not calculations:
        return "1. List the quantities given.\n2. Combine them step by step as asked."
    if style == "symbolic":
        return _symbolic_plan(calculations)
    if style == "worded":
        return _worded_plan(reference, with_results=with_results)
    steps = []
    for number, (expression, result) in enumerate(calculations, start=1):
        shown = with_results and number < len(calculations)
        suffix = f" (= {result.strip()})" if shown else ""
        steps.append(f"{number}. Compute {expression.strip()}{suffix}.")
    return "\n".join(steps)


def _symbolic_plan(calculations: list[tuple[str, str]]) -> str:
    """Letters for results; a number in a later step becomes the letter of an earlier result
    with that value that no step has used yet."""
    earlier = _EarlierResults()
    steps = []
    for number, (expression, result) in enumerate(calculations, start=1):
        letter = _letter(number - 1)
        steps.append(f"{number}. {letter} = {earlier.refer(_NUMBER, expression.strip())}")
        earlier.add(result, letter)
    return "\n".join(steps)


def _worded_plan(reference: str, *, with_results: bool) -> str:
    """One step per reference line that holds a calculation: the line with its results blanked
    (``?``) wherever they appear, and numbers that are earlier results written as ``[step k]``
    (``[step k.2]``: the second result of a line with several)."""
    lines = [line.strip() for line in reference.splitlines() if _CALC.search(line)]
    earlier = _EarlierResults()
    steps = []
    for number, line in enumerate(lines, start=1):
        calculations = _CALC.findall(line)
        results = [result for _, result in calculations]
        shown = with_results and number < len(lines)
        text = _ANNOTATED.sub(partial(_blank, shown=shown), line)
        if not shown:  # "She gets 48 gallons because 4 x 12 = ?" states its result first
            operands = {
                _as_float(n) for expr, _ in calculations for n in _TEXT_NUMBER.findall(expr)
            }
            stated = {_as_float(result.strip()) for result in results} - operands
            text = _TEXT_NUMBER.sub(partial(_hide, values=stated), text)
        steps.append(f"{number}. {earlier.refer(_TEXT_NUMBER, text)}")
        if len(results) == 1:
            earlier.add(results[0], f"[step {number}]")
        for part, result in enumerate(results if len(results) > 1 else [], start=1):
            earlier.add(result, f"[step {number}.{part}]")
    return "\n".join(steps)


def _blank(match: re.Match, *, shown: bool) -> str:
    """An annotated calculation as ``= ?`` (or ``expr = ?`` where the sentence omits the
    expression); ``shown``: with its result instead of ``?``."""
    result = match.group(3).strip() if shown else "?"
    return f"= {result}" if match.group(1) else f"{match.group(2).strip()} = {result}"


def _hide(match: re.Match, *, values: set[float | None]) -> str:
    """A number as ``?`` when it is one of ``values``."""
    return "?" if _as_float(match.group(0)) in values else match.group(0)


class _EarlierResults:
    """Earlier steps' results by value, each referred to by one later step only: a value seen
    again after that is taken to be a number from the question (e.g. the 60 in minutes / 60)."""

    def __init__(self) -> None:
        self._unused: dict[float, list[str]] = {}

    def add(self, result: str, name: str) -> None:
        value = _as_float(result.strip())
        if value is not None:
            self._unused.setdefault(value, []).append(name)

    def refer(self, pattern: re.Pattern, text: str) -> str:
        """``text`` with each number that is an unused earlier result replaced by its name; a
        value repeated within ``text`` once its results are used up keeps the last name."""
        used_here: dict[float | None, str] = {}

        def name_of(match: re.Match) -> str:
            value = _as_float(match.group(0))
            names = self._unused.get(value, [])
            if names:
                used_here[value] = names.pop(0)
            return used_here.get(value, match.group(0))

        return pattern.sub(name_of, text)


def _letter(index: int) -> str:
    """A, B, ..., Z, then A1, B1, ... for plans longer than 26 steps."""
    return chr(ord("A") + index % 26) + (str(index // 26) if index >= 26 else "")


def _as_float(text: str) -> float | None:
    try:
        return float(text.replace(",", "").rstrip("."))
    except ValueError:
        return None


class ReferencePlanner:
    """A chat backend that answers a privileged teacher prompt with a reference-derived plan."""

    def __init__(self, *, style: PlanStyle = "numeric") -> None:
        self.style = style

    def complete(self, messages: list[dict], *, n: int = 1, **sampling: object) -> ChatCompletion:
        text = "\n".join(str(m["content"]) for m in messages)
        user_text = "\n".join(str(m["content"]) for m in messages if m["role"] != "system")
        refining = OPEN_TAG in user_text  # a refinement prompt shows the earlier strategy
        plan = plan_from_reference(text, with_results=refining, style=self.style)
        reply = f"{OPEN_TAG}\n{plan}\n</strategy>"
        words = len(text.split())
        return ChatCompletion([reply] * n, words, n * len(reply.split()))


def register(teacher: str = "reference-planner") -> str:
    """Serve the planner named ``teacher`` (a key of :data:`TEACHER_STYLES`) as
    ``local/gsm8k-<teacher>``; returns that model string."""
    from gcop.lm.provider import register_backend

    if teacher not in TEACHER_STYLES:
        raise ValueError(f"unknown planner {teacher!r}; choose one of {sorted(TEACHER_STYLES)}")
    return register_backend(f"gsm8k-{teacher}", ReferencePlanner(style=TEACHER_STYLES[teacher]))
