"""A plain-text prompt format for small local cores, with the strategy appended as a plan.

DSPy's chat format wraps every field in ``[[ ## name ## ]]`` markers. A 0.5B model spends its
effort on the markers: measured on 40 GSM8K test problems, Qwen2.5-Coder-0.5B solved 1/40 in
DSPy's direct format and 12/40 with a plain prompt that asks it to work step by step. This adapter
writes that plain prompt: the task's inputs, the signature's instructions, and, when the guide gave
one, ``Follow this plan:`` with the strategy block. The whole reply becomes the signature's last
output field (the metric reads the answer out of it), so only signatures whose outputs are strings
can use it.
"""

from __future__ import annotations

from typing import Any

import dspy

from gcop.strategy import CLOSE_TAG, OPEN_TAG

PLAN_HEADER = "Follow this plan:"


class PlainStrategyAdapter(dspy.Adapter):
    """Plain chat messages (no field markers); the reply fills the last output field."""

    def __init__(self, strategy: str | None = None) -> None:
        super().__init__()
        self.strategy = strategy

    def format(
        self, signature: type[dspy.Signature], demos: list[dict[str, Any]], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        _check_string_outputs(signature)
        messages: list[dict[str, Any]] = []
        last = list(signature.output_fields)[-1]
        for demo in demos:
            if last in demo and all(name in demo for name in signature.input_fields):
                messages.append({"role": "user", "content": _task_text(signature, demo)})
                messages.append({"role": "assistant", "content": str(demo[last])})
        content = _task_text(signature, inputs)
        if self.strategy:
            plan = f"{OPEN_TAG}\n{self.strategy.strip()}\n{CLOSE_TAG}"
            content = f"{content}\n\n{PLAN_HEADER}\n{plan}"
        messages.append({"role": "user", "content": content})
        return messages

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        _check_string_outputs(signature)
        parsed = {name: "" for name in signature.output_fields}
        parsed[list(signature.output_fields)[-1]] = completion.strip()
        return parsed


def _task_text(signature: type[dspy.Signature], values: dict[str, Any]) -> str:
    """The inputs (bare for a single field, labelled otherwise), then the instructions."""
    names = list(signature.input_fields)
    if len(names) == 1:
        task = str(values[names[0]])
    else:
        task = "\n\n".join(
            f"{name.replace('_', ' ').capitalize()}: {values[name]}" for name in names
        )
    return f"{task.strip()}\n\n{signature.instructions.strip()}"


def _check_string_outputs(signature: type[dspy.Signature]) -> None:
    typed = [name for name, field in signature.output_fields.items() if field.annotation is not str]
    if typed:
        raise ValueError(
            f"the plain core format fills one text field, but {signature.__name__} has typed "
            f"output(s) {typed}: use Core(..., adapter='chat') for this signature"
        )
