"""A scripted fake LM for unit tests: replies from a list or from a function of the prompt.

It is served through the same LiteLLM ``local/<name>`` route as real local models, so tests cover
routing, DSPy caching and the cost ledger too.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Sequence

from gcop.lm.provider import ChatCompletion, register_backend, unregister_backend

Reply = str | Callable[[list[dict]], str]


class ScriptedLM:
    """A chat backend whose replies are scripted.

    Args:
        replies: a list cycled through in order, or a function ``messages -> reply text``.
        name: the local model name (random when omitted); the model string is ``local/<name>``.
        by_seed: a list's reply for a call is ``replies[seed % len(replies)]``, not the next
            one, so concurrent seeded calls (a guide's samples) get theirs whatever their order.
    """

    def __init__(
        self,
        replies: Sequence[str] | Callable[[list[dict]], str],
        name: str = "",
        *,
        by_seed: bool = False,
    ):
        if by_seed and callable(replies):
            raise ValueError("by_seed picks from a list of replies")
        self.name = name or f"fake-{uuid.uuid4().hex[:8]}"
        self._replies = list(replies) if by_seed else None
        self._reply = replies if callable(replies) else itertools.cycle(replies).__next__
        self._takes_messages = callable(replies)
        self.calls: list[dict] = []
        self._lock = threading.Lock()
        self.model_string = register_backend(self.name, self)

    def complete(self, messages, *, n=1, **sampling) -> ChatCompletion:
        with self._lock:
            self.calls.append({"messages": messages, **sampling, "n": n})
            if self._replies is not None:
                texts = [self._replies[sampling["seed"] % len(self._replies)]] * n
            else:
                texts = [self._next(messages) for _ in range(n)]
        prompt_tokens = sum(len(str(m["content"]).split()) for m in messages)
        completion_tokens = sum(len(t.split()) for t in texts)
        return ChatCompletion(texts, prompt_tokens, completion_tokens)

    def _next(self, messages: list[dict]) -> str:
        return self._reply(messages) if self._takes_messages else self._reply()

    def close(self) -> None:
        unregister_backend(self.name)


def last_user_text(messages: list[dict]) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")
