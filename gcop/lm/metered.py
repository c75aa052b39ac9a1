"""``MeteredLM``: a ``dspy.LM`` that writes every call into a :class:`gcop.cost.CostLedger`.

DSPy's cache returns a reply without its token usage, so each reply's usage and latency are kept in
DSPy's cache next to it, under a key of their own: a cache hit is recorded at what the reply cost
when it was made, and the ledger marks it as a hit.

DSPy's cache key leaves out the server address, so two servers serving the same model string
would share replies; and a local model keeps its name when its weights change. Each call's
``rollout_id`` (which DSPy keys on and never sends) is therefore mixed with what else decides the
reply: the server's address, or the local model's weights (``weights_id``). A request to a server
that let an earlier one time out fails at once (:mod:`gcop.lm.unanswered`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict
from typing import Any

import dspy
from dspy.lm15 import Request
from dspy.utils.usage_tracker import UsageTracker

from gcop.cost import CallRecord, CostLedger, record_call
from gcop.lm import provider, unanswered
from gcop.lm.resolve import server_address
from gcop.secrets import redact

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
        self._warned_zero_temp_rollout = True  # its rollout_id also names the server: not a no-op

    def copy(self, **kwargs: Any) -> MeteredLM:
        """A copy with updated settings (``dspy.LM.copy``), as quiet about rollout ids as this."""
        new = super().copy(**kwargs)
        new._warned_zero_temp_rollout = True
        return new

    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        tracker = UsageTracker()
        outer = dspy.settings.usage_tracker
        server = self._server(kwargs)
        kwargs = self._scoped(kwargs)
        usage_key = self._usage_key(prompt, messages, kwargs)
        start = time.perf_counter()
        try:
            with dspy.context(usage_tracker=tracker):
                outputs = super().__call__(prompt, messages=messages, **kwargs)
        except Exception as error:
            self._record(tracker, time.perf_counter() - start, usage_key, error=error)
            if server:
                unanswered.record(server, error)
            raise
        if not self._record(tracker, time.perf_counter() - start, usage_key) and server:
            unanswered.record(server, None)
        if outer is not None:
            for usage in tracker.usage_data.get(self.model, []):
                outer.add_usage(self.model, usage)
        return outputs

    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        tracker = UsageTracker()
        server = self._server(kwargs)
        kwargs = self._scoped(kwargs)
        usage_key = self._usage_key(prompt, messages, kwargs, asynchronous=True)
        start = time.perf_counter()
        try:
            with dspy.context(usage_tracker=tracker):
                outputs = await super().acall(prompt, messages=messages, **kwargs)
        except Exception as error:
            self._record(tracker, time.perf_counter() - start, usage_key, error=error)
            if server:
                unanswered.record(server, error)
            raise
        if not self._record(tracker, time.perf_counter() - start, usage_key) and server:
            unanswered.record(server, None)
        return outputs

    def _server(self, kwargs: dict[str, Any]) -> str | None:
        """The server this call goes to (``None``: in-process); raises
        :class:`~gcop.lm.unanswered.ServerNotAnswering` when it let an earlier request time out."""
        if self.model.startswith(f"{provider.PROVIDER}/"):
            return None
        settings = {**self.kwargs, **kwargs}
        server = server_address(self.model, settings) or self.model.split("/", 1)[0]
        unanswered.check(server)
        return server

    def cache_scope(self, kwargs: dict[str, Any] | None = None) -> str | None:
        """What decides a reply besides the request: the server's address, or a local model's
        weights (its backend's ``weights_id``); ``None`` when nothing more is known."""
        if self.model.startswith(f"{provider.PROVIDER}/"):
            try:
                return getattr(provider.get_backend(self.model), "weights_id", None)
            except ValueError:
                return None  # not served yet: DSPy reports it on the call
        return server_address(self.model, {**self.kwargs, **(kwargs or {})})

    def _scoped(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` with a ``rollout_id`` that also names :meth:`cache_scope`, so DSPy's cache
        never answers from another server or other weights (unchanged when uncached)."""
        if not kwargs.get("cache", self.cache):
            return kwargs
        scope = self.cache_scope(kwargs)
        if scope is None:
            return kwargs
        rollout = kwargs.get("rollout_id", self.kwargs.get("rollout_id"))
        digest = hashlib.blake2b(f"{rollout}|{scope}".encode(), digest_size=7).hexdigest()
        return {**kwargs, "rollout_id": int(digest, 16)}

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

    def _error_text(self, error: Exception) -> str:
        """What the ledger keeps of a failed call: its type and message, credentials cut out."""
        return redact(f"{type(error).__name__}: {error}", self.kwargs.get("api_key"))

    def _record(
        self,
        tracker: UsageTracker,
        latency_s: float,
        usage_key: dict | None,
        error: Exception | None = None,
    ) -> bool:
        """Write the call into the ledger; returns whether DSPy's cache answered it."""
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
                error=None if error is None else self._error_text(error),
                usage_known=known,
            ),
        )
        return cache_hit
