"""Ask an LM for one chat reply through DSPy's typed request, ``dspy.lm15.Request``.

DSPy 3.4 deprecates OpenAI-style ``lm(messages=[{...}])`` calls (removal planned for 3.5); its
replacement is ``lm(Request(...))``, which returns one ``lm15.Response``. A request carries its
own generation settings, so :func:`chat_request` copies them from the LM's defaults and the
call's overrides. The guide, the teacher and the judge all ask through :func:`chat`, which is
also the one place a reply's text is read.
"""

from __future__ import annotations

from typing import Any

# LM settings that become the request's generation config (lm15.Config field names)
GENERATION_KEYS = ("temperature", "max_tokens", "top_p", "stop", "seed")
_ALIASES = {"max_completion_tokens": "max_tokens"}  # DSPy's name for OpenAI reasoning models
_CALL_KEYS = ("rollout_id", "cache")  # per-call options a Request call still takes


def chat_request(lm: Any, messages: list[dict[str, str]], **settings: Any) -> Any:
    """A ``dspy.lm15.Request`` for ``lm.model``: the system messages become its system prompt,
    the rest its turns; generation settings are ``lm.kwargs`` overridden by ``settings``.

    >>> import dspy
    >>> lm = dspy.LM("openai/gpt-4.1-mini", temperature=0.6, max_tokens=64)
    >>> request = chat_request(lm, [{"role": "system", "content": "Be brief."},
    ...                             {"role": "user", "content": "Hi"}], temperature=0.0)
    >>> request.system, request.config.temperature, request.config.max_tokens
    ('Be brief.', 0.0, 64)
    """
    from dspy.lm15 import Config, Message, Request

    unknown = set(settings) - set(GENERATION_KEYS) - set(_ALIASES)
    if unknown:
        raise TypeError(
            f"unknown LM setting(s) {sorted(unknown)}: use {', '.join(GENERATION_KEYS)}"
        )
    merged = {_ALIASES.get(k, k): v for k, v in {**lm.kwargs, **settings}.items()}
    config = {key: merged[key] for key in GENERATION_KEYS if merged.get(key) is not None}
    stop = config.get("stop")
    if stop is not None:
        config["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
    turns = tuple(
        Message.assistant(m["content"]) if m["role"] == "assistant" else Message.user(m["content"])
        for m in messages
        if m["role"] != "system"
    )
    return Request(model=lm.model, messages=turns, system=system, config=Config(**config))


def chat(lm: Any, messages: list[dict[str, str]], **settings: Any) -> str:
    """The text of ``lm``'s reply to ``messages`` (``""`` when it holds no text).

    ``settings`` are generation settings (:data:`GENERATION_KEYS`) and the per-call options
    ``rollout_id`` and ``cache``.
    """
    call = {key: settings.pop(key) for key in _CALL_KEYS if key in settings}
    response = lm(chat_request(lm, messages, **settings), **call)
    return response.text or ""
