"""The adapter through which a strategy reaches every predictor of a core program."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

STRATEGY_HEADER = "Strategy to follow (carry out these steps):"


class StrategyAdapter(dspy.ChatAdapter):
    """DSPy's chat format, plus the guide's strategy appended to the last user message.

    Because the strategy travels in the adapter rather than in a signature field, a user's
    existing program receives it in every predictor without being rewritten, and its outputs
    come back unchanged. With ``lenient=True`` a reply that misses DSPy's field markers (common for
    small local cores) is kept whole in the last string output field instead of being re-asked.
    """

    def __init__(self, strategy: str | None = None, *, lenient: bool = True) -> None:
        super().__init__(use_json_adapter_fallback=not lenient)
        self.strategy = strategy
        self.lenient = lenient

    def format(self, signature: Any, demos: list[dict[str, Any]], inputs: dict[str, Any]):
        messages = super().format(signature, demos, inputs)
        if self.strategy:
            last = messages[-1]
            hint = f"{STRATEGY_HEADER}\n{self.strategy.strip()}"
            messages[-1] = {**last, "content": f"{last['content']}\n\n{hint}"}
        return messages

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        try:
            return super().parse(signature, completion)
        except AdapterParseError:
            if not self.lenient:
                raise
            fields = list(signature.output_fields.items())
            if any(field.annotation is not str for _, field in fields):
                raise
            parsed = {name: "" for name, _ in fields}
            parsed[fields[-1][0]] = completion.strip()
            return parsed


@contextmanager
def plan_kept_on_parse_failure(plan: dict[str, Any]) -> Iterator[None]:
    """Leave ``plan`` (the ``strategy``, ``valid`` and ``reason`` a policy reports) on the
    ``AdapterParseError`` of a core reply that cannot be parsed, as ``error.plan``: the
    evaluation then records which strategy the core failed on, and counts the failure
    against it."""
    try:
        yield
    except AdapterParseError as error:
        error.plan = plan
        raise
