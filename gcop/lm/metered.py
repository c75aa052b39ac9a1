"""``MeteredLM``: a ``dspy.LM`` that writes every call into a :class:`gcop.cost.CostLedger`."""

from __future__ import annotations

import time
from typing import Any

import dspy
from dspy.utils.usage_tracker import UsageTracker

from gcop.cost import CallRecord, CostLedger, record_call


class MeteredLM(dspy.LM):
    """A LiteLLM-routed ``dspy.LM`` that records tokens, latency, dollars and cache hits per call.

    Args:
        model: any LiteLLM model string (``openai/gpt-4.1-mini``, ``local/<name>``, ...).
        ledger: where calls are recorded; a new ledger when omitted.
        role: a label for the ledger (``guide``, ``core``, ``teacher``, ``judge``).
        **kwargs: passed to ``dspy.LM`` (temperature, max_tokens, cache, num_retries, ...).
    """

    def __init__(
        self, model: str, *, ledger: CostLedger | None = None, role: str = "lm", **kwargs: Any
    ) -> None:
        super().__init__(model, **kwargs)
        self.ledger = ledger if ledger is not None else CostLedger()
        self.role = role

    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        tracker = UsageTracker()
        outer = dspy.settings.usage_tracker
        start = time.perf_counter()
        try:
            with dspy.context(usage_tracker=tracker):
                outputs = super().__call__(prompt, messages=messages, **kwargs)
        except Exception as error:
            self._record(tracker, time.perf_counter() - start, error=error)
            raise
        self._record(tracker, time.perf_counter() - start)
        if outer is not None:
            for usage in tracker.usage_data.get(self.model, []):
                outer.add_usage(self.model, usage)
        return outputs

    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        tracker = UsageTracker()
        start = time.perf_counter()
        try:
            with dspy.context(usage_tracker=tracker):
                outputs = await super().acall(prompt, messages=messages, **kwargs)
        except Exception as error:
            self._record(tracker, time.perf_counter() - start, error=error)
            raise
        self._record(tracker, time.perf_counter() - start)
        return outputs

    def _record(self, tracker: UsageTracker, latency_s: float, error: Exception | None = None):
        usages = tracker.usage_data.get(self.model, [])
        prompt_tokens = sum(int(u.get("prompt_tokens") or 0) for u in usages)
        completion_tokens = sum(int(u.get("completion_tokens") or 0) for u in usages)
        cache_hit = error is None and not usages  # DSPy adds no usage for cache hits
        record_call(
            self.ledger,
            CallRecord(
                model=self.model,
                role=self.role,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                latency_s=0.0 if cache_hit else latency_s,
                dollars=0.0
                if cache_hit
                else self.ledger.price(self.model, prompt_tokens, completion_tokens),
                cache_hit=cache_hit,
                error=None if error is None else f"{type(error).__name__}: {error}",
            ),
        )
