"""``Guide``: the small local LM that reads a task and writes a ``<strategy>`` block."""

from __future__ import annotations

from typing import Any

import dspy

from gcop.cost import CostLedger
from gcop.lm.chat import chat
from gcop.lm.convert import LMLike, as_lm, resolve_lm
from gcop.strategy import (
    DEFAULT_TOKEN_BUDGET,
    OPEN_TAG,
    StrategyParse,
    count_words,
    parse_strategy,
)

FORMAT_RULE = (
    f"Reply with exactly one {OPEN_TAG}...</strategy> block holding the plan, and nothing else."
)


def guide_messages(signature: type[dspy.Signature], inputs: dict[str, Any]) -> list[dict]:
    """The chat messages the guide sees for ``inputs``.

    Training (SFT, GRPO) and inference build prompts with this one function, so the trained guide
    is always asked exactly what it was trained on.
    """
    missing = [name for name in signature.input_fields if name not in inputs]
    if missing:
        raise ValueError(f"guide input is missing field(s) {missing} of {signature.__name__}")
    task = "\n\n".join(
        f"{name.replace('_', ' ').capitalize()}:\n{inputs[name]}" for name in signature.input_fields
    )
    return [
        {"role": "system", "content": f"{signature.instructions.strip()}\n{FORMAT_RULE}"},
        {"role": "user", "content": task},
    ]


class Guide(dspy.Module):
    """Writes a strategy for a task with a (trainable) LM and validates it with the parser.

    Args:
        signature: the guide signature (e.g. :class:`gcop.signatures.MathGuide`); its
            instructions become the system prompt and its input fields the task.
        lm: a ``gcop.LocalLM`` or registry name (trainable by ExecTune), a LiteLLM model
            string, or a ``dspy.LM`` (see :func:`gcop.lm.convert.resolve_lm`).
        token_budget: the most tokens a valid strategy may have (§A.8), in the guide's own
            tokens (see :meth:`count_tokens`).
        ledger: cost ledger shared with the rest of the policy.
        **lm_kwargs: sampling settings; the paper samples at temperature 0.6, top-p 0.95 (§A.8).
    """

    def __init__(
        self,
        signature: type[dspy.Signature],
        lm: LMLike,
        *,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        ledger: CostLedger | None = None,
        **lm_kwargs: Any,
    ) -> None:
        super().__init__()
        if not (isinstance(signature, type) and issubclass(signature, dspy.Signature)):
            raise TypeError(f"Guide needs a dspy.Signature class, got {signature!r}")
        self.signature = signature
        lm = resolve_lm(lm, "guide")
        self.local_lm = lm if hasattr(lm, "set_model") else None  # trainable handle, if local
        self.token_budget = token_budget
        settings = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2 * token_budget}
        self.lm = as_lm(lm, ledger=ledger, role="guide", **{**settings, **lm_kwargs})

    def messages(self, **inputs: Any) -> list[dict]:
        return guide_messages(self.signature, inputs)

    def count_tokens(self, text: str) -> int:
        """The length of ``text`` in the tokenizer of a local guide (a ``gcop.LocalLM``). An API
        guide's tokenizer is unknown, so its tokens are approximated by
        :func:`~gcop.strategy.count_words`."""
        if self.local_lm is None:
            return count_words(text)
        encoded = self.local_lm.tokenizer(text, add_special_tokens=False, verbose=False)
        return len(encoded["input_ids"])

    def parse(self, completion: str) -> StrategyParse:
        """The parser's verdict on ``completion``, under this guide's budget and tokens."""
        return parse_strategy(
            completion, token_budget=self.token_budget, count_tokens=self.count_tokens
        )

    def forward(self, *, lm_kwargs: dict | None = None, **inputs: Any) -> dspy.Prediction:
        """Return ``strategy`` (the block text, empty when invalid), ``valid``, ``reason`` and
        the raw ``completion``."""
        task = {name: inputs[name] for name in self.signature.input_fields if name in inputs}
        completion = chat(self.lm, self.messages(**task), **(lm_kwargs or {}))
        parsed = self.parse(completion)
        return dspy.Prediction(
            strategy=parsed.strategy,
            valid=parsed.valid,
            reason=parsed.reason,
            completion=completion,
        )
