"""An offline, privileged teacher for GSM8K: plans read off the reference solution's calculations.

GSM8K reference solutions annotate each calculation as ``<<48/2=24>>``. A privileged teacher sees
the reference solution; this one turns its calculations into numbered steps. The first proposal
lists each calculation without its result; a refinement (a prompt that shows an earlier strategy)
also gives the intermediate results. The final result is never written, so the plan does not leak
the answer. It is served as the local model ``local/gsm8k-reference-planner`` and needs no
weights, which makes the offline demo affordable on a CPU; any LLM teacher can replace it.

The symbolic variant (``local/gsm8k-symbolic-planner``) names intermediate results with letters
(``2. B = 48+A``), so its plans hold only the question's own numbers: a small guide can learn to
write them without computing anything.
"""

from __future__ import annotations

import re

from gcop.lm.provider import ChatCompletion
from gcop.strategy import OPEN_TAG

NAME = "gsm8k-reference-planner"
SYMBOLIC_NAME = "gsm8k-symbolic-planner"
_CALC = re.compile(r"<<([^<>=]+)=([^<>]+)>>")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def plan_from_reference(
    reference: str, *, with_results: bool = False, symbolic: bool = False
) -> str:
    """Numbered steps from the ``<<expr=result>>`` calculations of a GSM8K reference solution.

    ``symbolic=True`` names each step's result with a letter and writes later steps with those
    letters instead of the numbers they stand for. Such a plan holds only numbers that appear in
    the question, so a guide can write it without doing any arithmetic; the core does the
    arithmetic.

    >>> print(plan_from_reference("Half is <<48/2=24>>24. Total <<48+24=72>>72.\\n#### 72"))
    1. Compute 48/2.
    2. Compute 48+24.
    >>> print(plan_from_reference("<<48/2=24>> <<48+24=72>>", with_results=True))
    1. Compute 48/2 (= 24).
    2. Compute 48+24.
    >>> print(plan_from_reference("<<48/2=24>> <<48+24=72>> <<72*2=144>>", symbolic=True))
    1. A = 48/2
    2. B = 48+A
    3. C = B*2
    >>> reference = "<<10*9=90>> <<15*6=90>> <<90+90=180>> <<180/90=2>>"
    >>> print(plan_from_reference(reference, symbolic=True))
    1. A = 10*9
    2. B = 15*6
    3. C = A+B
    4. D = C/90
    """
    calculations = _CALC.findall(reference)
    if not calculations:
        return "1. List the quantities given.\n2. Combine them step by step as asked."
    if symbolic:
        return _symbolic_plan(calculations)
    steps = []
    for number, (expression, result) in enumerate(calculations, start=1):
        shown = with_results and number < len(calculations)
        suffix = f" (= {result.strip()})" if shown else ""
        steps.append(f"{number}. Compute {expression.strip()}{suffix}.")
    return "\n".join(steps)


def _symbolic_plan(calculations: list[tuple[str, str]]) -> str:
    """Letters for results; a number in a later step becomes the letter of an earlier result
    with that value that no step has used yet (a value seen again after its use is taken to be a
    number from the question, e.g. the 60 in minutes / 60)."""
    unused: dict[float, list[str]] = {}  # value -> letters of earlier results not yet referred to
    steps = []
    for number, (expression, result) in enumerate(calculations, start=1):
        letter = _letter(number - 1)

        def name_of(match: re.Match) -> str:
            letters = unused.get(_as_float(match.group(0)), [])
            return letters.pop(0) if letters else match.group(0)

        steps.append(f"{number}. {letter} = {_NUMBER.sub(name_of, expression.strip())}")
        value = _as_float(result.strip())
        if value is not None:
            unused.setdefault(value, []).append(letter)
    return "\n".join(steps)


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

    def __init__(self, *, symbolic: bool = False) -> None:
        self.symbolic = symbolic

    def complete(self, messages: list[dict], *, n: int = 1, **sampling: object) -> ChatCompletion:
        text = "\n".join(str(m["content"]) for m in messages)
        user_text = "\n".join(str(m["content"]) for m in messages if m["role"] != "system")
        refining = OPEN_TAG in user_text  # a refinement prompt shows the earlier strategy
        plan = plan_from_reference(text, with_results=refining, symbolic=self.symbolic)
        reply = f"{OPEN_TAG}\n{plan}\n</strategy>"
        words = len(text.split())
        return ChatCompletion([reply] * n, words, n * len(reply.split()))


def register(*, symbolic: bool = False) -> str:
    """Serve the planner as ``local/gsm8k-reference-planner`` (or ``...-symbolic-planner``);
    returns that model string."""
    from gcop.lm.provider import register_backend

    name = SYMBOLIC_NAME if symbolic else NAME
    return register_backend(name, ReferencePlanner(symbolic=symbolic))
