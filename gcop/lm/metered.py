"""``MeteredLM``: a ``dspy.LM`` that writes every call into a :class:`gcop.cost.CostLedger`.

DSPy's cache returns a reply without its token usage, so each reply's usage and latency are kept in
DSPy's cache next to it, under a key of their own: a cache hit is recorded at what the reply cost
when it was made, and the ledger marks it as a hit.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import dspy
from dspy.lm15 import Request
from dspy.utils.usage_tracker import UsageTracker

from gcop.cost import CallRecord, CostLedger, record_call

_IGNORED_IN_KEY = ["api_key", "api_base", "base_url"]  # as DSPy's own cache key ignores them


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
        usage_key = self._usage_key(prompt, messages, kwargs)
        start = time.perf_counter()
        try:
            with dspy.context(usage_tracker=tracker):
                outputs = super().__call__(prompt, messages=messages, **kwargs)
        except Exception as error:
            self._record(tracker, time.perf_counter() - start, usage_key, error=error)
            raise
        self._record(tracker, time.perf_counter() - start, usage_key)
        if outer is not None:
            for usage in tracker.usage_data.get(self.model, []):
                outer.add_usage(self.model, usage)
        return outputs

    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        tracker = UsageTracker()
        usage_key = self._usage_key(prompt, messages, kwargs, asynchronous=True)
        start = time.perf_counter()
        try:
            with dspy.context(usage_tracker=tracker):
                outputs = await super().acall(prompt, messages=messages, **kwargs)
        except Exception as error:
            self._record(tracker, time.perf_counter() - start, usage_key, error=error)
            raise
        self._record(tracker, time.perf_counter() - start, usage_key)
        return outputs

    def _usage_key(
        self, prompt: Any, messages: Any, kwargs: dict[str, Any], asynchronous: bool = False
    ) -> dict | None:
        """The cache request under which this call's reply usage is kept (``None``: no cache).
        Like DSPy, which caches sync and async replies apart, it tells the two apart."""
        if not kwargs.get("cache", self.cache):
            return None
        if isinstance(prompt, Request):  # its settings are in it; as DSPy's own cache key
            request = {"request": asdict(prompt), "rollout_id": kwargs.get("rollout_id")}
            return {"gcop_reply_usage_of": self.model, "async": asynchronous, **request}
        settings = {**self.kwargs, **{k: v for k, v in kwargs.items() if k != "cache"}}
        if settings.get("rollout_id") is None:
            settings.pop("rollout_id", None)
        chat = messages or [{"role": "user", "content": prompt}]
        return {
            "gcop_reply_usage_of": self.model,
            "async": asynchronous,
            "messages": chat,
            **settings,
        }

    def _record(
        self,
        tracker: UsageTracker,
        latency_s: float,
        usage_key: dict | None,
        error: Exception | None = None,
    ) -> None:
        usages = tracker.usage_data.get(self.model, [])
        cache_hit = error is None and not usages  # DSPy adds no usage for cache hits
        if cache_hit:
            reply = dspy.cache.get(usage_key, _IGNORED_IN_KEY) if usage_key else None
        else:
            reply = {
                "prompt_tokens": sum(int(u.get("prompt_tokens") or 0) for u in usages),
                "completion_tokens": sum(int(u.get("completion_tokens") or 0) for u in usages),
                "latency_s": latency_s,
            }
            if error is None and usage_key:
                dspy.cache.put(usage_key, reply, _IGNORED_IN_KEY)
        known = reply is not None
        reply = reply or {"prompt_tokens": 0, "completion_tokens": 0, "latency_s": 0.0}
        p_tok, c_tok = reply["prompt_tokens"], reply["completion_tokens"]
        record_call(
            self.ledger,
            CallRecord(
                model=self.model,
                role=self.role,
                prompt_tokens=p_tok,
                completion_tokens=c_tok,
                latency_s=reply["latency_s"],
                dollars=self.ledger.price(self.model, p_tok, c_tok) if known else None,
                cache_hit=cache_hit,
                error=None if error is None else f"{type(error).__name__}: {error}",
                usage_known=known,
            ),
        )
