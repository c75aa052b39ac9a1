"""An offline, privileged teacher for GSM8K: plans read off the reference solution's calculations.

GSM8K reference solutions annotate each calculation as ``<<48/2=24>>``. A privileged teacher sees
the reference solution; this one turns its calculations into numbered steps. The first proposal
lists each calculation without its result; a refinement (a prompt that shows an earlier strategy)
also gives the intermediate results. The final result is never written, so the plan does not leak
the answer. It is served as the local model ``local/gsm8k-reference-planner`` and needs no
weights, which makes the offline demo affordable on a CPU; any LLM teacher can replace it.
"""

from __future__ import annotations

import re

from gcop.lm.provider import ChatCompletion
from gcop.strategy import OPEN_TAG

NAME = "gsm8k-reference-planner"
_CALC = re.compile(r"<<([^<>=]+)=([^<>]+)>>")


def plan_from_reference(reference: str, *, with_results: bool = False) -> str:
    """Numbered steps from the ``<<expr=result>>`` calculations of a GSM8K reference solution.

    >>> print(plan_from_reference("Half is <<48/2=24>>24. Total <<48+24=72>>72.\\n#### 72"))
    1. Compute 48/2.
    2. Compute 48+24.
    >>> print(plan_from_reference("<<48/2=24>> <<48+24=72>>", with_results=True))
    1. Compute 48/2 (= 24).
    2. Compute 48+24.
    """
    calculations = _CALC.findall(reference)
    steps = []
    for number, (expression, result) in enumerate(calculations, start=1):
        shown = with_results and number < len(calculations)
        suffix = f" (= {result.strip()})" if shown else ""
        steps.append(f"{number}. Compute {expression.strip()}{suffix}.")
    if not steps:
        steps = ["1. List the quantities given.", "2. Combine them step by step as asked."]
    return "\n".join(steps)


class ReferencePlanner:
    """A chat backend that answers a privileged teacher prompt with a reference-derived plan."""

    def complete(self, messages: list[dict], *, n: int = 1, **sampling: object) -> ChatCompletion:
        text = "\n".join(str(m["content"]) for m in messages)
        user_text = "\n".join(str(m["content"]) for m in messages if m["role"] != "system")
        refining = OPEN_TAG in user_text  # a refinement prompt shows the earlier strategy
        plan = plan_from_reference(text, with_results=refining)
        reply = f"{OPEN_TAG}\n{plan}\n</strategy>"
        words = len(text.split())
        return ChatCompletion([reply] * n, words, n * len(reply.split()))


def register() -> str:
    """Serve the planner as ``local/gsm8k-reference-planner``; returns that model string."""
    from gcop.lm.provider import register_backend

    return register_backend(NAME, ReferencePlanner())
