"""``Guide``: the small local LM that reads a task and writes a ``<strategy>`` block."""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dspy

from gcop.cost import CostLedger
from gcop.lm.chat import chat
from gcop.lm.resolve import LMLike, as_lm, resolve_lm
from gcop.modules.plan_consensus import (
    agreed_plan,
    draws_at_once,
    plan_prediction,
    sample_key,
)
from gcop.modules.strategy_kit import StrategyKit
from gcop.strategy import (
    DEFAULT_TOKEN_BUDGET,
    OPEN_TAG,
    StrategyParse,
    count_words,
    format_strategy,
    parse_strategy,
)

FORMAT_RULE = (
    f"Reply with exactly one {OPEN_TAG}...</strategy> block holding the plan, and nothing else."
)


def guide_messages(
    signature: type[dspy.Signature], inputs: dict[str, Any], demos: Sequence[Any] = ()
) -> list[dict]:
    """The chat messages the guide sees for ``inputs``: the signature's instructions, one
    user/assistant turn per demo (a task and its strategy), then the task.

    Training (SFT, GRPO) and inference build prompts with this one function, so the trained guide
    is always asked exactly what it was trained on. A demo lacking an input field or a
    ``strategy`` (e.g. a raw training example set by ``LabeledFewShot``) is left out.
    """
    missing = [name for name in signature.input_fields if name not in inputs]
    if missing:
        raise ValueError(f"guide input is missing field(s) {missing} of {signature.__name__}")
    messages = [{"role": "system", "content": f"{signature.instructions.strip()}\n{FORMAT_RULE}"}]
    for demo in demos:
        if _complete_demo(signature, demo):
            messages += [
                {"role": "user", "content": _task_text(signature, demo)},
                {"role": "assistant", "content": format_strategy(demo["strategy"])},
            ]
    return [*messages, {"role": "user", "content": _task_text(signature, inputs)}]


def _task_text(signature: type[dspy.Signature], inputs: Any) -> str:
    return "\n\n".join(
        f"{name.replace('_', ' ').capitalize()}:\n{inputs[name]}" for name in signature.input_fields
    )


def _complete_demo(signature: type[dspy.Signature], demo: Any) -> bool:
    """Whether ``demo`` holds every input field and a non-empty ``strategy``."""
    strategy = demo.get("strategy")
    has_strategy = isinstance(strategy, str) and bool(strategy.strip())
    return has_strategy and all(name in demo for name in signature.input_fields)


class Guide(dspy.Module):
    """Writes a strategy for a task with a (trainable) LM and validates it with the parser.

    Args:
        signature: the guide signature (e.g. :class:`gcop.signatures.MathGuide`); its
            instructions become the system prompt and its input fields the task.
        lm: a ``gcop.LocalLM`` or registry name (trainable by ExecTune), a LiteLLM model
            string, or a ``dspy.LM`` (see :func:`gcop.lm.resolve.resolve_lm`).
        token_budget: the most tokens a valid strategy may have (§A.8), in the guide's own
            tokens (see :meth:`count_tokens`).
        ledger: cost ledger shared with the rest of the policy.
        kit: the task's :class:`~gcop.modules.strategy_kit.StrategyKit`, or ``None`` (one
            strategy a task, the guide's greedy choice). With ``kit.samples > 1`` the guide
            draws up to that many, the first greedy and the others at its temperature, and keeps
            one only where ``kit.min_agreement`` of them lead to the same key (``kit.consensus``);
            it abstains otherwise, and the core runs alone, since a wrong plan costs a core more
            than none. It stops drawing where no key can reach ``min_agreement`` any more: the
            same decision as drawing all, at fewer draws; it draws several at once where none
            of them could end the draws (:func:`~gcop.modules.plan_consensus.draws_at_once`).
        **lm_kwargs: sampling settings; the paper samples at temperature 0.6, top-p 0.95 (§A.8).
            They shape every sample but the first: a single strategy is the greedy one, which a
            small guide gets right more often than a sampled one (docs/evidence.md §7). A
            ``seed`` gives each sample a seed of its own; a local guide is seeded (0) unless
            given ``seed=None``, so its samples, and a policy's scores, repeat run after run.

    ``guide.predict`` is the guide's prompt as DSPy sees it (``named_predictors()`` lists it): an
    optimizer's instructions and demos there reach the guide's messages, in inference and in
    training alike, and a saved policy keeps them.
    """

    def __init__(
        self,
        signature: type[dspy.Signature],
        lm: LMLike,
        *,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        ledger: CostLedger | None = None,
        kit: StrategyKit | None = None,
        **lm_kwargs: Any,
    ) -> None:
        super().__init__()
        if not (isinstance(signature, type) and issubclass(signature, dspy.Signature)):
            raise TypeError(f"Guide needs a dspy.Signature class, got {signature!r}")
        if kit is not None and not isinstance(kit, StrategyKit):
            raise TypeError(f"kit must be a gcop.StrategyKit or None, got {kit!r}")
        self.kit = kit
        # The guide's prompt as DSPy sees it: optimizers that walk ``named_predictors()`` edit its
        # instructions and demos, and the guide's messages follow them. Its ``lm`` is unused: the
        # guide calls ``self.lm`` directly, with a prompt of its own (:func:`guide_messages`).
        self.predict = dspy.Predict(signature)
        lm = resolve_lm(lm, "guide")
        self.local_lm = lm if hasattr(lm, "set_model") else None  # trainable handle, if local
        self.token_budget = token_budget
        settings = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2 * token_budget}
        if self.local_lm is not None:  # its samples come out the same on every run, cache or not
            settings["seed"] = 0
        if self.samples > 1 and {**settings, **lm_kwargs}.get("temperature") == 0:
            raise ValueError(
                f"kit samples={self.samples} at temperature 0 draws the same strategy "
                f"{self.samples} times, so they always agree: sample at a temperature above 0 "
                "(the default is 0.6; the first sample is greedy anyway)"
            )
        self.lm = as_lm(lm, ledger=ledger, role="guide", **{**settings, **lm_kwargs})

    @property
    def signature(self) -> type[dspy.Signature]:
        """The guide signature, as its predictor holds it (instructions edited by an optimizer
        included)."""
        return self.predict.signature

    @property
    def samples(self) -> int:
        """Strategies drawn per task (the kit's ``samples``; 1 without a kit)."""
        return self.kit.samples if self.kit is not None else 1

    def with_lm(self, lm: LMLike, **changes: Any) -> Guide:
        """A guide with this one's signature, budget, ledger, kit and sampling settings, serving
        ``lm`` (e.g. the trained model); ``changes`` replace any of them by the name
        :class:`Guide` takes."""
        settings = {
            "token_budget": self.token_budget,
            "ledger": self.lm.ledger,
            "kit": self.kit,
            **dict(self.lm.kwargs),
        }
        other = Guide(self.signature, lm, **(settings | changes))
        other.predict.demos = list(self.predict.demos)
        return other

    def messages(self, **inputs: Any) -> list[dict]:
        """The chat messages for ``inputs``, with this guide's instructions and demos."""
        return guide_messages(self.signature, inputs, self.predict.demos)

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
        strategy; 1.0 for a single valid sample) and ``sample_keys``, the kit's consensus key of
        every sample (``None`` for an invalid one; empty without a consensus). Under a DSPy trace
        (as ``BootstrapFewShot`` runs) the call is recorded against :attr:`predict`, so a
        bootstrapped demo for the guide is a task and the strategy it wrote."""
        task = {name: inputs[name] for name in self.signature.input_fields if name in inputs}
        prediction = self._plan(self.messages(**task), lm_kwargs)
        trace = dspy.settings.trace
        if trace is not None and dspy.settings.max_trace_size > 0:  # as dspy.Predict records
            if len(trace) >= dspy.settings.max_trace_size:
                trace.pop(0)
            trace.append((self.predict, task, prediction))
        return prediction

    def _plan(self, messages: list[dict], lm_kwargs: dict | None) -> dspy.Prediction:
        if self.samples == 1:
            completion = self._sample(messages, 0, lm_kwargs)
            parsed = self.parse(completion)
            with_key = self.kit is not None and self.kit.consensus is not None
            keys = [sample_key(self.kit, parsed)] if with_key else []
            return plan_prediction(completion, parsed, sample_keys=keys)
        samples: list[tuple[str, StrategyParse]] = []
        while count := draws_at_once(self.kit, samples):
            indices = range(len(samples), len(samples) + count)
            for completion in self._draw(messages, indices, lm_kwargs):
                samples.append((completion, self.parse(completion)))
        return agreed_plan(self.kit, samples)

    def _draw(self, messages: list[dict], indices: range, lm_kwargs: dict | None) -> list[str]:
        """Samples ``indices`` of a task, drawn concurrently where there are several (a local
        guide decodes them as one batch; an API guide waits one round trip for them)."""
        if len(indices) == 1:
            return [self._sample(messages, indices[0], lm_kwargs)]
        with ThreadPoolExecutor(len(indices)) as pool:
            futures = [  # each in a copy of this context: DSPy settings and cost scopes go along
                pool.submit(contextvars.copy_context().run, self._sample, messages, i, lm_kwargs)
                for i in indices
            ]
            return [future.result() for future in futures]

    def _sample(self, messages: list[dict], index: int, lm_kwargs: dict | None) -> str:
        """Sample ``index`` of a task: the first (or only) is the guide's greedy choice, the
        others sample at its temperature, each with its own ``rollout_id`` (so DSPy's cache keeps
        them apart) and, for a seeded call or guide, its own seed."""
        settings = dict(lm_kwargs or {})
        if index == 0:
            settings["temperature"] = 0.0
        base = settings.pop("rollout_id", 0) or 0
        settings["rollout_id"] = base * self.samples + index
        seed = settings.get("seed", self.lm.kwargs.get("seed"))  # the call's, else the guide's
        if seed is not None:
            settings["seed"] = seed * self.samples + index
        return chat(self.lm, messages, **settings)
