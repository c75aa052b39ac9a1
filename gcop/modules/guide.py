"""``Guide``: the small local LM that reads a task and writes a ``<strategy>`` block."""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
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
ABSTAINED = "abstained"  # how the reason of a guide that keeps no strategy begins


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
        samples: strategies drawn per task, the first greedy and the others at the guide's
            temperature. Above 1 the guide keeps a strategy only where enough of them agree
            (``consensus``) and abstains otherwise: the core then runs alone, since a wrong plan
            costs a core more than no plan.
        consensus: ``strategy -> key`` (``None``: no key), the result a strategy leads to, e.g.
            :func:`gcop.tasks.gsm8k_plan_value.plan_value` for GSM8K plans (numeric or
            symbolic); needed when ``samples > 1``.
        min_agreement: the share of the ``samples`` that must share the most common key.
        **lm_kwargs: sampling settings; the paper samples at temperature 0.6, top-p 0.95 (§A.8).
    """

    def __init__(
        self,
        signature: type[dspy.Signature],
        lm: LMLike,
        *,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        ledger: CostLedger | None = None,
        samples: int = 1,
        consensus: Callable[[str], Hashable | None] | None = None,
        min_agreement: float = 0.5,
        **lm_kwargs: Any,
    ) -> None:
        super().__init__()
        if not (isinstance(signature, type) and issubclass(signature, dspy.Signature)):
            raise TypeError(f"Guide needs a dspy.Signature class, got {signature!r}")
        if samples < 1:
            raise ValueError(f"samples must be at least 1, got {samples}")
        if samples > 1 and consensus is None:
            raise ValueError(
                f"samples={samples} needs consensus=<function strategy -> key> to tell which "
                "strategies agree (e.g. gcop.tasks.gsm8k_plan_value.plan_value)"
            )
        if not 0 < min_agreement <= 1:
            raise ValueError(f"min_agreement must be in (0, 1], got {min_agreement}")
        self.samples = samples
        self.consensus = consensus
        self.min_agreement = min_agreement
        self.signature = signature
        lm = resolve_lm(lm, "guide")
        self.local_lm = lm if hasattr(lm, "set_model") else None  # trainable handle, if local
        self.token_budget = token_budget
        settings = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2 * token_budget}
        if samples > 1 and {**settings, **lm_kwargs}.get("temperature") == 0:
            raise ValueError(
                f"samples={samples} at temperature 0 draws the same strategy {samples} times, so "
                "they always agree: sample at a temperature above 0 (the default is 0.6; the "
                "first sample is greedy anyway)"
            )
        self.lm = as_lm(lm, ledger=ledger, role="guide", **{**settings, **lm_kwargs})

    def with_lm(self, lm: LMLike, **changes: Any) -> Guide:
        """A guide with this one's signature, budget, ledger, consensus and sampling settings,
        serving ``lm`` (e.g. the trained model); ``changes`` replace any of them by the name
        :class:`Guide` takes."""
        settings = {
            "token_budget": self.token_budget,
            "ledger": self.lm.ledger,
            "samples": self.samples,
            "consensus": self.consensus,
            "min_agreement": self.min_agreement,
            **dict(self.lm.kwargs),
        }
        return Guide(self.signature, lm, **(settings | changes))

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
        """Return ``strategy`` (the block text, empty when invalid or abstaining), ``valid``,
        ``reason``, the raw ``completion``, ``agreement`` (the share of samples behind the
        strategy; 1.0 for a single valid sample) and ``sample_keys``, the ``consensus`` key of every
        sample (``None`` for an invalid one; empty without ``consensus``)."""
        task = {name: inputs[name] for name in self.signature.input_fields if name in inputs}
        messages = self.messages(**task)
        if self.samples == 1:
            completion = chat(self.lm, messages, **(lm_kwargs or {}))
            parsed = self.parse(completion)
            keys = [self._key(parsed)] if self.consensus is not None else []
            return self._prediction(completion, parsed, sample_keys=keys)
        with ThreadPoolExecutor(self.samples) as pool:
            futures = [  # each in a copy of this context: DSPy settings and cost scopes go along
                pool.submit(contextvars.copy_context().run, self._sample, messages, i, lm_kwargs)
                for i in range(self.samples)
            ]
            return self._agreed([future.result() for future in futures])

    def _sample(self, messages: list[dict], index: int, lm_kwargs: dict | None) -> str:
        """Sample ``index`` of a task: the first is the guide's greedy choice, the others sample
        at its temperature, each with its own ``rollout_id`` (so DSPy's cache keeps them apart)
        and, for a seeded call, its own seed."""
        settings = dict(lm_kwargs or {})
        if index == 0:
            settings["temperature"] = 0.0
        base = settings.pop("rollout_id", 0) or 0
        settings["rollout_id"] = base * self.samples + index
        if settings.get("seed") is not None:
            settings["seed"] = settings["seed"] * self.samples + index
        return chat(self.lm, messages, **settings)

    def _agreed(self, completions: list[str]) -> dspy.Prediction:
        """The first valid strategy with the most common consensus key, if enough agree; an
        abstention (``valid=False``) otherwise."""
        keyed = []
        for completion in completions:
            parsed = self.parse(completion)
            keyed.append((self._key(parsed), completion, parsed))
        keys = [key for key, _, _ in keyed]
        counts = Counter(key for key in keys if key is not None)
        top, count = counts.most_common(1)[0] if counts else (None, 0)
        agreement = count / len(completions)
        if top is None or agreement < self.min_agreement:
            reason = f"{ABSTAINED}: {count} of {len(completions)} strategies agree"
            return dspy.Prediction(
                strategy="",
                valid=False,
                reason=reason,
                completion="",
                agreement=agreement,
                sample_keys=keys,
            )
        completion, parsed = next((c, p) for key, c, p in keyed if key == top)
        return self._prediction(completion, parsed, agreement=agreement, sample_keys=keys)

    def _key(self, parsed: StrategyParse) -> Hashable | None:
        """The consensus key of a parsed sample; ``None`` for an invalid one."""
        return self.consensus(parsed.strategy) if parsed.valid else None

    @staticmethod
    def _prediction(
        completion: str,
        parsed: StrategyParse,
        agreement: float | None = None,
        sample_keys: list[Hashable | None] | None = None,
    ) -> dspy.Prediction:
        if agreement is None:
            agreement = 1.0 if parsed.valid else 0.0
        return dspy.Prediction(
            strategy=parsed.strategy,
            valid=parsed.valid,
            reason=parsed.reason,
            completion=completion,
            agreement=agreement,
            sample_keys=sample_keys or [],
        )
