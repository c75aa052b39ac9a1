"""In-process chat models behind LiteLLM's custom-provider hook: ``dspy.LM("local/<name>")``.

A *backend* is anything with a ``complete(messages, **sampling) -> ChatCompletion`` method: a
transformers model (:class:`gcop.LocalLM`), or a scripted fake in tests. Registering it under a name
makes ``local/<name>`` routable by LiteLLM (and so by DSPy) with no server and no key.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

PROVIDER = "local"


@dataclass(frozen=True)
class ChatCompletion:
    """What a backend returns: ``n`` completions and the token counts, as an API would report."""

    texts: list[str]
    prompt_tokens: int
    completion_tokens: int
    finish_reasons: Sequence[str] = ()


class ChatBackend(Protocol):
    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> ChatCompletion: ...


_BACKENDS: dict[str, ChatBackend] = {}
_LOCK = threading.Lock()
_SAMPLING_KEYS = ("n", "max_tokens", "temperature", "top_p", "stop", "seed")


def register_backend(name: str, backend: ChatBackend) -> str:
    """Serve ``backend`` as ``local/<name>``; returns that model string. Re-registering replaces."""
    if not name or "/" in name:
        raise ValueError(f"local model name {name!r} must be non-empty and contain no '/'")
    if not callable(getattr(backend, "complete", None)):
        raise TypeError(f"backend for {name!r} needs a complete(messages, **sampling) method")
    with _LOCK:
        previous = _BACKENDS.get(name)
        _BACKENDS[name] = backend
    if previous is not None and previous is not backend:
        logger.info("local/%s now served by a new %r (replacing %r)", name, backend, previous)
    install()
    return f"{PROVIDER}/{name}"


def unregister_backend(name: str) -> None:
    with _LOCK:
        _BACKENDS.pop(name, None)


def get_backend(model: str) -> ChatBackend:
    """The backend serving ``local/<name>`` (or bare ``<name>``)."""
    name = model.split("/", 1)[1] if model.startswith(f"{PROVIDER}/") else model
    with _LOCK:
        backend = _BACKENDS.get(name)
        known = sorted(_BACKENDS)
    if backend is None:
        raise ValueError(
            f"no local model named {name!r} is registered (known: {known or 'none'}); create it "
            "with gcop.LocalLM(...) or gcop.lm.register_backend(name, backend) first"
        )
    return backend


def _stop_list(stop: Any) -> list[str] | None:
    if stop is None:
        return None
    return [stop] if isinstance(stop, str) else list(stop)


def complete(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> ChatCompletion:
    """Run one chat request against a registered backend."""
    sampling = {key: params[key] for key in _SAMPLING_KEYS if params.get(key) is not None}
    if "stop" in sampling:
        sampling["stop"] = _stop_list(sampling["stop"])
    plain = [{"role": m["role"], "content": _text(m.get("content"))} for m in messages]
    return get_backend(model).complete(plain, **sampling)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _model_response(model: str, result: ChatCompletion):
    from litellm import ModelResponse

    reasons = list(result.finish_reasons) or ["stop"] * len(result.texts)
    choices = [
        {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": reason}
        for i, (text, reason) in enumerate(zip(result.texts, reasons, strict=True))
    ]
    usage = {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
    }
    return ModelResponse(choices=choices, model=model, usage=usage, created=int(time.time()))


def _make_handler():
    from litellm import CustomLLM

    class LocalHandler(CustomLLM):
        """LiteLLM entry point for ``local/<name>`` models."""

        def completion(self, model, messages, *args, optional_params=None, **kwargs):
            params = dict(optional_params or {})
            return _model_response(model, complete(model, messages, params))

        async def acompletion(self, model, messages, *args, optional_params=None, **kwargs):
            params = dict(optional_params or {})
            result = await asyncio.to_thread(complete, model, messages, params)
            return _model_response(model, result)

    return LocalHandler()


def install() -> None:
    """Add the ``local`` provider to LiteLLM's custom-provider map (idempotent)."""
    import litellm

    with _LOCK:
        current = list(getattr(litellm, "custom_provider_map", None) or [])
        if any(entry.get("provider") == PROVIDER for entry in current):
            return
        current.append({"provider": PROVIDER, "custom_handler": _make_handler()})
        litellm.custom_provider_map = current
