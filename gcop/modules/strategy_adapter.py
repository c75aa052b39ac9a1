"""The adapter through which a strategy reaches every predictor of a core program."""

from __future__ import annotations

import copy
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
        return with_strategy_hint(super().format(signature, demos, inputs), self.strategy)

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


def with_strategy_hint(messages: list[dict[str, Any]], strategy: str | None) -> list[dict]:
    """``messages`` with the strategy appended to the last one (unchanged without a strategy)."""
    if not strategy:
        return messages
    last = messages[-1]
    hint = f"{STRATEGY_HEADER}\n{strategy.strip()}"
    return [*messages[:-1], {**last, "content": f"{last['content']}\n\n{hint}"}]


def adapter_with_strategy(adapter: dspy.Adapter, strategy: str | None) -> dspy.Adapter:
    """A copy of a user's own DSPy ``adapter`` (``dspy.JSONAdapter()``, ``dspy.TwoStepAdapter``,
    ...) whose prompts end with the strategy, as :class:`StrategyAdapter`'s do; its parsing and
    everything else stay the adapter's own."""
    if not strategy:
        return adapter
    own_format = adapter.format
    copied = copy.copy(adapter)

    def format(signature: Any, demos: list[dict[str, Any]], inputs: dict[str, Any]):
        return with_strategy_hint(own_format(signature, demos, inputs), strategy)

    copied.format = format
    return copied


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
